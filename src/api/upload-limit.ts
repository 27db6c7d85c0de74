/**
 * Bodies streamed to the service (trace uploads, fleet captures, ConfDB imports): the routes take the raw request
 * stream, never buffered whole by fastify, so fastify's bodyLimit cannot count it. A declared length over
 * settings.maxUploadBytes is refused here, before anything is read; a body that declares none is counted as it is
 * read (util/byte-cap.ts). A body of another content type is refused before any parser reads it: fastify would
 * otherwise parse text or JSON into a string or an object the route cannot stream (a 500), or refuse an unknown
 * type without saying which one the route takes.
 */
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { ERR_MEDIA_TYPE, ERR_UPLOAD_TOO_LARGE } from '../errors.js';

/**
 * A route's streamed body: route options that take only `type` and refuse a declared length over `limit`, before
 * anything is read (the rest is drained); the parser that hands the route the raw stream is registered on `app`.
 */
export function streamedBody(app: FastifyInstance, type: string, limit: number): Pick<RouteShorthandOptions, 'bodyLimit' | 'preParsing'> {
  if (!app.hasContentTypeParser(type)) app.addContentTypeParser(type, (_req, payload, done) => done(null, payload));
  return {
    bodyLimit: Number.MAX_SAFE_INTEGER, // enforced while streaming, against `limit`
    preParsing: async (req, _reply, payload) => {
      const sent = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (sent !== type) {
        payload.resume();
        throw ERR_MEDIA_TYPE(`${req.method} ${req.routeOptions.url}`, type, sent || 'none');
      }
      if (Number(req.headers['content-length'] ?? NaN) > limit) {
        payload.resume();
        throw ERR_UPLOAD_TOO_LARGE(limit);
      }
      return payload;
    },
  };
}
