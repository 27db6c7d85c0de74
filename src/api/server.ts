/**
 * The REST API (fastify): thin adapters over the in-process service API.
 * The service is decorated on the instance (`app.ssdtune`) and, with the
 * caller recorded as actor, on each request (`req.api`); the routes are
 * encapsulated plugins under /v1 (src/api/routes/). This file assembles them
 * with the root-level plugins: coded errors, token auth, metrics, OpenAPI at
 * /docs. Bound to 127.0.0.1 unless told otherwise: another address needs
 * `expose` and then every route needs the token (src/api/exposure.ts); the
 * Host header is checked on every request. CORS is not enabled.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ERR_SERVE_EXPOSED, ERR_SERVE_LISTEN } from '../errors.js';
import { PROJECT_ROOT } from '../native.js';
import { InProcessApi } from '../service/api.js';
import type { Service } from '../service/context.js';
import { loadOrCreateToken, serverFile } from '../service/token.js';
import { cleanUploadDebris } from '../service/traces.js';
import { usageError } from '../service/tune-spec.js';
import { addressesOf, allowedHostNames, hostPort, isLoopback, isWildcard, localUrl } from './exposure.js';
import { PageCache } from './page-cache.js';
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
    /** List pages kept for reuse, bounded (records routes; gauge on /metrics). */
    pageCache: PageCache;
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
  /** Fastify's logger: true logs every request; a level logs only what reaches it (none by default). */
  logger?: boolean | { level: 'error' };
  /** Serve beyond loopback (serve --expose): required for a non-loopback address; every route then needs the token. */
  expose?: boolean;
}

/** Who can reach a server built for these settings, as buildServer enforces it. */
interface Reach {
  exposed: boolean;
  /** The addresses `settings.host` stands for. */
  bound: string[];
}

export async function buildServer(svc: Service, opts: ServerOptions = {}, reach?: Reach): Promise<FastifyInstance> {
  const bound = reach?.bound ?? (await addressesOf(svc.settings.host));
  const exposed = reach?.exposed ?? bound.some((a) => !isLoopback(a));
  const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const token = loadOrCreateToken(svc.settings.dataDir);
  // Unknown fields are refused (400), not silently dropped as fastify's default (removeAdditional) would.
  // Schema violations are usage errors worded as the service words them (SSDTUNE_USAGE, 400).
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1 << 20,
    ajv: { customOptions: { removeAdditional: false, discriminator: true } },
    schemaErrorFormatter: (errors, dataVar) => usageError(errors, dataVar),
  });
  // Paths in requests come from callers: confined to the directories the server may read. What it reads of them
  // reaches callers in replies and job records: no error quotes a trace's bytes (Service.quoteInput).
  svc.quoteInput = false;
  const api = new InProcessApi(svc, 'api', version, true);
  app.decorate('ssdtune', api);
  app.decorate('pageCache', new PageCache());
  app.decorateRequest('api', null as unknown as InProcessApi);
  app.addHook('onRequest', async (req) => {
    req.api = api.as(actorOf(req));
  });
  for (const s of ALL_SCHEMAS) app.addSchema(s);
  // Before any plugin: every route, the OpenAPI pages included, gets the coded errors and the checks.
  registerErrorHandling(app);
  registerAuth(app, { token, exposed, hostNames: allowedHostNames(bound, svc.settings.allowedHosts) });
  await app.register(swagger, {
    openapi: {
      info: { title: 'ssdtune', version, description: 'Learn storage configurations from block I/O traces and apply them.' },
      // Each route that needs the token says so itself (plugins/auth.ts): on loopback, reading needs none.
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in <dataDir>/api-token' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  registerMetrics(app);
  for (const routes of V1_ROUTES) await app.register(routes, { prefix: '/v1' });
  await app.register(dashboardRoutes);
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

/** Where a started server listens, as its banner and server.json state it. */
export interface Listening {
  /** The URL a client on this host uses (a wildcard address is reached through loopback). */
  url: string;
  /** The address and port actually bound, e.g. 0.0.0.0:7411. */
  address: string;
  /** Reachable from other hosts: every route needs the token. */
  exposed: boolean;
}

export async function startServer(svc: Service, opts: ServerOptions = {}): Promise<{ app: FastifyInstance } & Listening> {
  const { host, port } = svc.settings;
  // Before anything listens: an address other hosts can reach is served only when asked for explicitly.
  const bound = await addressesOf(host);
  const outside = bound.find((a) => !isLoopback(a));
  if (outside !== undefined && !opts.expose) throw ERR_SERVE_EXPOSED(host, outside);
  // Uploads a crash cut off are removed before any new one can start.
  cleanUploadDebris(svc.settings.dataDir);
  const app = await buildServer(svc, opts, { exposed: outside !== undefined, bound });
  app.addHook('onClose', async () => rmSync(serverFile(svc.settings.dataDir), { force: true }));
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw listenError(host, port, e as NodeJS.ErrnoException);
  }
  // The address the socket really has (fastify's own answer names 127.0.0.1 for a wildcard).
  const real = app.server.address() as AddressInfo;
  const where: Listening = { url: localUrl(real.address, real.port), address: hostPort(real.address, real.port), exposed: outside !== undefined };
  return { app, ...where };
}

/**
 * Tell clients on this host where the server is (<dataDir>/server.json, read by the CLI and by scripts waiting for
 * it): called once the server is ready, after it resumed interrupted jobs, so a client that finds it never sees a
 * job the server is about to resume as interrupted. Removed when the server closes.
 */
export function announceServer(dataDir: string, where: Listening): void {
  // Written whole under a temporary name and renamed: a reader never sees half of it.
  const file = serverFile(dataDir);
  writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify({ url: where.url, address: where.address, exposed: where.exposed, pid: process.pid }) + '\n', {
    mode: 0o600,
  });
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** The server's first line: where it listens, and who can reach it. */
export function banner(l: Listening, tokenFile: string): string {
  const reach = l.exposed
    ? `bound to ${l.address}${isWildcard(l.address.replace(/:\d+$/, '')) ? ' (every address of this host)' : ''}: EXPOSED beyond this host, every route needs the token in ${tokenFile}`
    : `bound to ${l.address} (loopback only; the token in ${tokenFile} is needed to change state)`;
  return `ssdtune: serving ${l.url} ${reach}`;
}
