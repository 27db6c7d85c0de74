/**
 * The REST API (fastify). Every route calls the service layer; this file only
 * assembles the plugins: coded errors, token auth, metrics, OpenAPI at /docs.
 * Bound to 127.0.0.1 unless told otherwise; CORS is not enabled.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../native.js';
import type { Service } from '../service/context.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerMetrics } from './plugins/metrics.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerRecordRoutes } from './routes/records.js';
import { registerTraceRoutes } from './routes/traces.js';
import { registerDashboard } from './routes/dashboard.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { ALL_SCHEMAS } from './schemas.js';
import { loadOrCreateToken } from './token.js';

export interface ServerOptions {
  logger?: boolean;
}

export async function buildServer(svc: Service, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const token = loadOrCreateToken(svc.settings.dataDir);
  // Unknown fields are refused (400), not silently dropped as fastify's default (removeAdditional) would.
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 1 << 20, ajv: { customOptions: { removeAdditional: false } } });
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
  registerMetrics(app, svc);
  registerHealthRoutes(app, svc, version);
  registerRecordRoutes(app, svc);
  registerTraceRoutes(app, svc);
  registerJobRoutes(app, svc);
  registerDeviceRoutes(app, svc);
  registerDashboard(app);
  return app;
}

/** Where a running server advertises itself, so the CLI can go through it. */
export function serverFile(dataDir: string): string {
  return path.join(dataDir, 'server.json');
}

export async function startServer(svc: Service, opts: ServerOptions = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildServer(svc, opts);
  app.addHook('onClose', async () => rmSync(serverFile(svc.settings.dataDir), { force: true }));
  const addr = await app.listen({ host: svc.settings.host, port: svc.settings.port });
  const url = addr.replace('[::1]', 'localhost');
  writeFileSync(serverFile(svc.settings.dataDir), JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
  return { app, url };
}
