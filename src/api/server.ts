/**
 * The REST API (fastify): thin adapters over the in-process service API.
 * The service is decorated on the instance (`app.ssdtune`) and, with the
 * caller recorded as actor, on each request (`req.api`); the routes are
 * encapsulated plugins under /v1 (src/api/routes/). This file assembles them
 * with the root-level plugins: coded errors, token auth, metrics, OpenAPI at
 * /docs. Bound to 127.0.0.1 unless told otherwise; CORS is not enabled.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../native.js';
import { InProcessApi } from '../service/api.js';
import type { Service } from '../service/context.js';
import { loadOrCreateToken, serverFile } from '../service/token.js';
import { usageError } from '../service/tune-spec.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerMetrics } from './plugins/metrics.js';
import dashboardRoutes from './routes/dashboard.js';
import deviceRoutes from './routes/devices.js';
import fleetRoutes from './routes/fleet.js';
import healthRoutes from './routes/health.js';
import identifyRoutes from './routes/identify.js';
import jobRoutes from './routes/jobs.js';
import recordRoutes from './routes/records.js';
import traceRoutes from './routes/traces.js';
import { ALL_SCHEMAS } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service API this server adapts (actor "api"). */
    ssdtune: InProcessApi;
  }
  interface FastifyRequest {
    /** The service API recording this request's caller as actor. */
    api: InProcessApi;
  }
}

/** The /v1 route plugins: one file each in routes/, registered under the prefix. */
const V1_ROUTES = [healthRoutes, recordRoutes, traceRoutes, jobRoutes, deviceRoutes, identifyRoutes, fleetRoutes];

// Who asked, as a front end going through the API names itself (the CLI sends "cli"); "api" otherwise.
const ACTOR_RE = /^[a-z][a-z0-9._-]{0,31}$/;
function actorOf(req: FastifyRequest): string {
  const h = req.headers['x-ssdtune-actor'];
  return typeof h === 'string' && ACTOR_RE.test(h) ? h : 'api';
}

export interface ServerOptions {
  logger?: boolean;
}

export async function buildServer(svc: Service, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const token = loadOrCreateToken(svc.settings.dataDir);
  // Unknown fields are refused (400), not silently dropped as fastify's default (removeAdditional) would.
  // Schema violations are usage errors worded as the service words them (SSDTUNE_USAGE, 400).
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1 << 20,
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: (errors, dataVar) => usageError(errors, dataVar),
  });
  const api = new InProcessApi(svc, 'api', version);
  app.decorate('ssdtune', api);
  app.decorateRequest('api', null as unknown as InProcessApi);
  app.addHook('onRequest', async (req) => {
    req.api = api.as(actorOf(req));
  });
  for (const s of ALL_SCHEMAS) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      info: { title: 'ssdtune', version, description: 'Learn storage configurations from block I/O traces and apply them.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  registerErrorHandling(app);
  registerAuth(app, token);
  registerMetrics(app);
  for (const routes of V1_ROUTES) await app.register(routes, { prefix: '/v1' });
  await app.register(dashboardRoutes);
  return app;
}

export async function startServer(svc: Service, opts: ServerOptions = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildServer(svc, opts);
  app.addHook('onClose', async () => rmSync(serverFile(svc.settings.dataDir), { force: true }));
  const addr = await app.listen({ host: svc.settings.host, port: svc.settings.port });
  const url = addr.replace('[::1]', 'localhost');
  writeFileSync(serverFile(svc.settings.dataDir), JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
  return { app, url };
}
