/**
 * The REST API (fastify). Every route calls the service layer; this file only
 * assembles the plugins: coded errors, token auth, metrics, OpenAPI at /docs.
 * Bound to 127.0.0.1 unless told otherwise; CORS is not enabled.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
import { ERR_SERVE_LISTEN } from '../errors.js';
import { cleanUploadDebris } from '../service/traces.js';

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

/** Why the server could not bind, as a coded error saying what to do. */
function listenError(host: string, port: number, e: NodeJS.ErrnoException): Error {
  const where = `${host}:${port}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return ERR_SERVE_LISTEN(where, 'the port is in use (another ssdtune serve? see <dataDir>/server.json); pass --port N, or --port 0 for a free one');
    case 'EACCES':
      return ERR_SERVE_LISTEN(where, 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)');
    case 'EADDRNOTAVAIL':
      return ERR_SERVE_LISTEN(where, 'not an address of this host');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ERR_SERVE_LISTEN(where, 'the host name does not resolve');
    default:
      return ERR_SERVE_LISTEN(where, `${e.code ?? 'error'}: ${e.message}`);
  }
}

/** Where a running server advertises itself, so the CLI can go through it. */
export function serverFile(dataDir: string): string {
  return path.join(dataDir, 'server.json');
}

export async function startServer(svc: Service, opts: ServerOptions = {}): Promise<{ app: FastifyInstance; url: string }> {
  // Uploads a crash cut off are removed before any new one can start.
  cleanUploadDebris(svc.settings.dataDir);
  const app = await buildServer(svc, opts);
  app.addHook('onClose', async () => rmSync(serverFile(svc.settings.dataDir), { force: true }));
  let addr: string;
  try {
    addr = await app.listen({ host: svc.settings.host, port: svc.settings.port });
  } catch (e) {
    await app.close();
    throw listenError(svc.settings.host, svc.settings.port, e as NodeJS.ErrnoException);
  }
  const url = addr.replace('[::1]', 'localhost');
  // Written whole under a temporary name and renamed: a reader never sees half of it.
  const file = serverFile(svc.settings.dataDir);
  writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
  renameSync(`${file}.${process.pid}.tmp`, file);
  return { app, url };
}
