/** Liveness and ConfDB status. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

export default async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness and ConfDB status',
        response: { 200: Type.Object({ status: Type.String(), version: Type.String(), schema: Type.Integer(), uptimeSeconds: Type.Number() }) },
      },
    },
    async (req) => req.api.health(),
  );
}
