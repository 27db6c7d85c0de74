/**
 * The size limit of bodies streamed to the service (trace uploads, fleet captures, ConfDB imports): the routes
 * take the raw request stream (never buffered whole by fastify, so fastify's bodyLimit cannot count it). A
 * declared length over settings.maxUploadBytes is refused here, before anything is read; a body that declares
 * none is counted as it is read (util/byte-cap.ts).
 */
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ERR_UPLOAD_TOO_LARGE } from '../errors.js';

/** Refuses a body whose declared Content-Length exceeds `limit` before reading any of it (the rest is drained). */
export function refuseDeclaredOver(req: FastifyRequest, limit: number): void {
  if (Number(req.headers['content-length'] ?? NaN) > limit) {
    (req.body as Readable).resume();
    throw ERR_UPLOAD_TOO_LARGE(limit);
  }
}
