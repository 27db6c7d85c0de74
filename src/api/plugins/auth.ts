/**
 * Bearer-token check on every request that can change state (any method but
 * GET/HEAD/OPTIONS). Read-only routes stay open on loopback so dashboards and
 * Prometheus can scrape without the credential.
 */
import type { FastifyInstance } from 'fastify';
import { ERR_UNAUTHORIZED } from '../../errors.js';
import { tokenMatches } from '../../service/token.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Does a request with this method need the token? The one rule the check and the OpenAPI document share. */
function needsToken(method: string): boolean {
  return !SAFE.has(method.toUpperCase());
}

export function registerAuth(app: FastifyInstance, token: string): void {
  // The OpenAPI document marks as secured exactly the routes this hook checks (routes added after it).
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some(needsToken)) route.schema = { ...route.schema, security: [{ bearer: [] }] };
  });
  app.addHook('onRequest', async (req) => {
    if (!needsToken(req.method)) return;
    if (!tokenMatches(req.headers.authorization, token)) {
      throw ERR_UNAUTHORIZED('this route changes state: send "Authorization: Bearer <token>" (the token is in <dataDir>/api-token)');
    }
  });
}
