/**
 * One error shape for every failure: {statusCode, error: {code, message, field?}}
 * (`field`: the request field the error is about, when it is about one).
 * Coded SsdtuneErrors keep their code and status; fastify's own errors
 * (validation, bad JSON, body too large) keep theirs; anything else is a 500
 * whose details go to the log, not to the client.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { SsdtuneError } from '../../errors.js';

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | SsdtuneError | Error, req, reply) => {
    let status = 500;
    let code = 'SSDTUNE_INTERNAL';
    let message = 'internal error';
    let field: string | undefined;
    if (err instanceof SsdtuneError) {
      status = err.statusCode;
      code = err.code;
      message = err.message;
      field = err.field;
    } else if ('validation' in err && err.validation) {
      status = 400;
      code = 'SSDTUNE_BAD_REQUEST';
      message = err.message;
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      code = (err as FastifyError).code ?? 'SSDTUNE_BAD_REQUEST';
      message = err.message;
    }
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.status(status).send({ statusCode: status, error: { code, message, ...(field !== undefined ? { field } : {}) } });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, error: { code: 'SSDTUNE_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
}
