/** Identifying a stored trace against the ConfDB's workloads (nothing is stored). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { IDENTIFY_METHODS } from '../../service/identify.js';
import { errors, StringEnum } from '../schemas.js';

export default async function identifyRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/identify',
    {
      schema: {
        tags: ['workloads'],
        summary: "Is a stored trace one of the ConfDB's workloads? (what `tune` does first; nothing is stored)",
        body: Type.Object(
          { traceId: Type.String({ minLength: 1, maxLength: 200 }), method: Type.Optional(StringEnum(IDENTIFY_METHODS, { default: 'network' })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({}, { additionalProperties: true }), ...errors(400, 401, 404) },
      },
    },
    async (req) => req.api.identify(req.body.traceId, req.body.method ? { method: req.body.method } : {}),
  );
}
