/**
 * The size limit of bodies streamed to the service (trace uploads, fleet captures, ConfDB imports): the routes
 * take the raw request stream (never buffered whole by fastify, so fastify's bodyLimit cannot count it), and
 * this is where settings.maxUploadBytes is enforced on it.
 */
import type { FastifyRequest } from 'fastify';
import { Transform, type Readable } from 'node:stream';
import { ERR_UPLOAD_TOO_LARGE } from '../errors.js';

/** Refuses a body whose declared Content-Length exceeds `limit` before reading any of it (the rest is drained). */
export function refuseDeclaredOver(req: FastifyRequest, limit: number): void {
  if (Number(req.headers['content-length'] ?? NaN) > limit) {
    (req.body as Readable).resume();
    throw ERR_UPLOAD_TOO_LARGE(limit);
  }
}

/**
 * The request body, failing with ERR_UPLOAD_TOO_LARGE once more than `limit` bytes have come (a chunked body
 * declares no length): what keeps the reader's memory bounded whatever is sent. What is left of the body is
 * drained so the refusal can be answered.
 */
export function cappedBody(req: FastifyRequest, limit: number): Readable {
  const body = req.body as Readable;
  let bytes = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes <= limit) return cb(null, chunk);
      body.unpipe(capped);
      body.resume();
      cb(ERR_UPLOAD_TOO_LARGE(limit));
    },
  });
  body.on('error', (e) => capped.destroy(e));
  return body.pipe(capped);
}
