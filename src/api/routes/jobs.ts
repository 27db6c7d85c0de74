/** Tune jobs: start (async, deduplicated), cancel, resume. Reading them is in records.ts. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Service } from '../../service/context.js';
import { submitTune } from '../../service/tune-jobs.js';
import { TuneSpecSchema } from '../../service/tune-spec.js';
import { errors, idParams } from '../schemas.js';

/** A tune job request: the TuneSpec, plus whether to start a new job even when an identical one exists. */
const SubmitTuneBody = Type.Object(
  { ...TuneSpecSchema.properties, force: Type.Optional(Type.Boolean({ default: false, description: 'start a new job even when an identical one is queued, running or done' })) },
  { additionalProperties: false },
);

export function registerJobRoutes(app: FastifyInstance, svc: Service): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Start a tune job for a stored trace (202; poll GET /v1/jobs/:id). The same request twice shares one job.',
        body: SubmitTuneBody,
        response: { 202: { type: 'object', properties: { job: { $ref: 'Job#' }, deduplicated: { type: 'boolean' } } }, ...errors(400, 401, 404) },
      },
    },
    async (req, reply) => {
      const { force, ...spec } = req.body;
      return reply.status(202).send(await submitTune(svc, spec, 'api', { force: force ?? false }));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/v1/jobs/:id/cancel',
    { schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: idParams, response: { 200: { $ref: 'Job#' }, ...errors(401, 404, 409) } } },
    async (req) => svc.jobs.cancel(req.params.id, 'api'),
  );
  app.post<{ Params: { id: string } }>(
    '/v1/jobs/:id/resume',
    { schema: { tags: ['jobs'], summary: 'Resume an interrupted, failed or cancelled job from its checkpoint', params: idParams, response: { 200: { $ref: 'Job#' }, ...errors(401, 404, 409) } } },
    async (req) => svc.jobs.resume(req.params.id, 'api'),
  );
}
