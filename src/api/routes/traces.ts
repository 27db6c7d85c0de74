/** Trace upload: the body is streamed to disk (never buffered whole) under a size limit. */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { ERR_UPLOAD_TOO_LARGE } from '../../errors.js';
import type { Service } from '../../service/context.js';
import { registerLocalTrace, storeUpload } from '../../service/traces.js';
import { errors } from '../schemas.js';

export function registerTraceRoutes(app: FastifyInstance, svc: Service): void {
  // Hand the raw request stream to the route instead of buffering it.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.post<{ Querystring: { name?: string }; Body: Readable }>(
    '/v1/traces',
    {
      bodyLimit: Number.MAX_SAFE_INTEGER, // enforced while streaming, against settings.maxUploadBytes
      schema: {
        tags: ['traces'],
        summary: 'Upload a trace file (Content-Type: application/octet-stream; any format ssdtune reads, optionally compressed)',
        querystring: { type: 'object', properties: { name: { type: 'string', maxLength: 200 } } },
        response: { 201: { $ref: 'Trace#' }, ...errors(400, 401, 413, 415) },
      },
    },
    async (req, reply) => {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > svc.settings.maxUploadBytes) {
        req.body.resume();
        throw ERR_UPLOAD_TOO_LARGE(svc.settings.maxUploadBytes);
      }
      const rec = await storeUpload(svc, req.body, req.query.name ?? 'upload', 'api');
      return reply.status(201).send(rec);
    },
  );
  app.post<{ Body: { path: string } }>(
    '/v1/traces/register',
    {
      schema: {
        tags: ['traces'],
        summary: "Register a trace file already on the server's host, by path (no copy)",
        body: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string', minLength: 1, maxLength: 4096 } } },
        response: { 200: { $ref: 'Trace#' }, ...errors(400, 401, 403) },
      },
    },
    async (req) => registerLocalTrace(svc, req.body.path, 'api', { confine: true }),
  );
}
