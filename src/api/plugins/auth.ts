/**
 * Bearer-token check on every request that can change state (any method but
 * GET/HEAD/OPTIONS). Read-only routes stay open on loopback so dashboards and
 * Prometheus can scrape without the credential.
 */
import type { FastifyInstance } from 'fastify';
import { ERR_UNAUTHORIZED } from '../../errors.js';
import { tokenMatches } from '../../service/token.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function registerAuth(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (req) => {
    if (SAFE.has(req.method)) return;
    if (!tokenMatches(req.headers.authorization, token)) {
      throw ERR_UNAUTHORIZED('this route changes state: send "Authorization: Bearer <token>" (the token is in <dataDir>/api-token)');
    }
  });
}
