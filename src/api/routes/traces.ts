/** Traces: upload (streamed to disk, never buffered whole, under a size limit) or register a file on the server's host by path. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import Type from 'typebox';
import { errors, idParams } from '../schemas.js';
import { streamedBody } from '../upload-limit.js';

/** A trace format forced instead of sniffed (the sniffer refuses to guess between formats that read the same columns in different units). */
const FORMAT = Type.String({ minLength: 1, maxLength: 64, description: 'the trace format, instead of sniffing it' });

export default async function traceRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const limit = fastify.ssdtune.svc.settings.maxUploadBytes;
  app.post(
    '/traces',
    {
      ...streamedBody(app, 'application/octet-stream', limit),
      schema: {
        tags: ['traces'],
        summary: 'Upload a trace file (Content-Type: application/octet-stream; any format ssdtune reads, optionally compressed)',
        querystring: Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), format: Type.Optional(FORMAT) }),
        response: { 201: { $ref: 'Trace#' }, ...errors(400, 401, 413, 415) },
      },
    },
    async (req, reply) => {
      const body = req.body as Readable;
      return reply.status(201).send(await req.api.uploadTrace(body, req.query.name ?? 'upload', req.query.format ? { format: req.query.format } : {}));
    },
  );
  app.delete(
    '/traces/:id',
    {
      schema: {
        tags: ['traces'],
        summary: 'Forget a trace, and remove its file when the server stored it (an upload or a capture); 409 while a job reads it',
        params: idParams,
        response: { 200: { $ref: 'Trace#' }, ...errors(401, 404, 409) },
      },
    },
    async (req) => req.api.deleteTrace(req.params.id),
  );
  app.post(
    '/traces/register',
    {
      schema: {
        tags: ['traces'],
        summary: "Register a trace file already on the server's host, by path (no copy)",
        body: Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }), format: Type.Optional(FORMAT) }, { additionalProperties: false }),
        response: { 200: { $ref: 'Trace#' }, ...errors(400, 401, 403) },
      },
    },
    async (req) => req.api.addTrace(req.body.path, req.body.format ? { format: req.body.format } : {}),
  );
}
