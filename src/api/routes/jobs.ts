/** Tune jobs: start (async, deduplicated), cancel, resume. Reading them is in records.ts. */
import type { FastifyInstance } from 'fastify';
import type { Service } from '../../service/context.js';
import { submitTune, type TuneParams } from '../../service/tune-request.js';
import { errors, idParams } from '../schemas.js';

export function registerJobRoutes(app: FastifyInstance, svc: Service): void {
  app.post<{ Body: TuneParams }>(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Start a tune job for a stored trace (202; poll GET /v1/jobs/:id). The same request twice shares one job.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['traceId'],
          properties: {
            traceId: { type: 'string', minLength: 1 },
            space: { type: 'string', enum: ['ssd', 'host'], default: 'ssd' },
            evaluator: { type: 'string', minLength: 1 },
            budget: { type: 'integer', minimum: 1, maximum: 10000, default: 30 },
            device: { type: 'string' },
            force: { type: 'boolean', default: false },
          },
        },
        response: { 202: { type: 'object', properties: { job: { $ref: 'Job#' }, deduplicated: { type: 'boolean' } } }, ...errors(400, 401, 404) },
      },
    },
    async (req, reply) => reply.status(202).send(await submitTune(svc, req.body, 'api')),
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
