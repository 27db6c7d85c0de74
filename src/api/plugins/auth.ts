/**
 * Who may ask what (src/api/exposure.ts says why):
 * - the Host header must be one of the names the server answers to
 *   (SSDTUNE_HOST_NOT_ALLOWED, 421), whatever the route: DNS rebinding;
 * - every request that can change state (any method but GET/HEAD/OPTIONS)
 *   needs the bearer token;
 * - on a server exposed beyond loopback (serve --expose), reads need it too:
 *   only the dashboard's static page and scripts, which hold no data, load
 *   without it (the page then asks for the token).
 */
import type { FastifyInstance } from 'fastify';
import { ERR_HOST_NOT_ALLOWED, ERR_UNAUTHORIZED } from '../../errors.js';
import { tokenMatches } from '../../service/token.js';
import { hostNameOf } from '../exposure.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Static files with no data in them: the dashboard's page and its scripts. */
const STATIC = /^\/(assets\/[^/?]+)?(\?.*)?$/;

export interface AuthOptions {
  token: string;
  /** Reads need the token too (the server is reachable from other hosts). */
  exposed: boolean;
  /** Host names the server answers to. */
  hostNames: ReadonlySet<string>;
}

/** Does a request need the token? The one rule the check and the OpenAPI document share. */
function needsToken(o: AuthOptions, method: string, url: string): boolean {
  const m = method.toUpperCase();
  return o.exposed ? !((m === 'GET' || m === 'HEAD') && STATIC.test(url)) : !SAFE.has(m);
}

export function registerAuth(app: FastifyInstance, o: AuthOptions): void {
  const answersTo = [...o.hostNames].sort().join(', ');
  // The OpenAPI document marks as secured exactly the routes this hook checks (routes added after it).
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => needsToken(o, m, route.url))) route.schema = { ...route.schema, security: [{ bearer: [] }] };
  });
  app.addHook('onRequest', async (req) => {
    const name = hostNameOf(req.headers.host);
    if (name === undefined || !o.hostNames.has(name)) throw ERR_HOST_NOT_ALLOWED(String(req.headers.host ?? '').slice(0, 100), answersTo);
    if (!needsToken(o, req.method, req.url)) return;
    if (!tokenMatches(req.headers.authorization, o.token)) {
      throw ERR_UNAUTHORIZED(
        o.exposed
          ? 'this server is exposed beyond loopback (serve --expose): every route needs "Authorization: Bearer <token>" (the token is in <dataDir>/api-token)'
          : 'this route changes state: send "Authorization: Bearer <token>" (the token is in <dataDir>/api-token)',
      );
    }
  });
}
