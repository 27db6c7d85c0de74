/** Tune jobs: start (async; identical requests share a job), tune a trace by path, cancel, resume. Reading them is in records.ts. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { TUNE_REQUEST, TuneArgsSchema, TuneSpecSchema, usageError } from '../../service/tune-spec.js';
import { errors, idParams } from '../schemas.js';

/** A tune job request: the TuneSpec, plus whether to start a new job even when an identical one exists. */
const SubmitTuneBody = Type.Object(
  {
    ...TuneSpecSchema.properties,
    force: Type.Optional(Type.Boolean({ default: false, description: 'start a new job even when an identical one is queued, running or done' })),
  },
  { additionalProperties: false },
);
/** `ssdtune tune <trace>` over HTTP: the trace by its path on the server's host, and the spec's other fields. */
const TuneBody = Type.Object(
  {
    trace: Type.String({ minLength: 1, maxLength: 4096, description: "a trace file's path on the server's host (registered, not copied)" }),
    ...TuneArgsSchema.properties,
  },
  { additionalProperties: false },
);
const Accepted = { type: 'object', properties: { job: { $ref: 'Job#' }, deduplicated: { type: 'boolean' } } } as const;

export default async function jobRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/jobs',
    {
      schemaErrorFormatter: (errors) => usageError(errors, TUNE_REQUEST),
      schema: {
        tags: ['jobs'],
        summary: 'Start a tune job for a stored trace (202; poll GET /v1/jobs/:id). The same request twice shares one job.',
        body: SubmitTuneBody,
        response: { 202: Accepted, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const { force, ...spec } = req.body;
      return reply.status(202).send(await req.api.submitTune(spec, { force: force ?? false }));
    },
  );
  app.post(
    '/tune',
    {
      schemaErrorFormatter: (errors) => usageError(errors, TUNE_REQUEST),
      schema: {
        tags: ['jobs'],
        summary: 'Register a trace file on the server by path and tune it as a new job (202; poll GET /v1/jobs/:id): `ssdtune tune` over HTTP',
        body: TuneBody,
        response: { 202: Accepted, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const { trace, ...args } = req.body;
      return reply.status(202).send({ job: await req.api.startTune(trace, args), deduplicated: false });
    },
  );
  app.post(
    '/jobs/:id/cancel',
    { schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: idParams, response: { 200: { $ref: 'Job#' }, ...errors(401, 404, 409) } } },
    async (req) => req.api.cancelJob(req.params.id),
  );
  app.post(
    '/jobs/:id/resume',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Resume an interrupted, failed or cancelled job from its checkpoint',
        params: idParams,
        response: { 200: { $ref: 'Job#' }, ...errors(401, 404, 409) },
      },
    },
    async (req) => req.api.resumeJob(req.params.id),
  );
}
