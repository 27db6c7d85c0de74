/**
 * How a CLI command reaches the service: open the ConfDB in this process, or,
 * when a running `ssdtune serve` holds it (LevelDB admits one process), go
 * through that server's REST API. The server advertises its URL in
 * `<dataDir>/server.json`; --server / SSDTUNE_SERVER name one explicitly.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSettings, type Settings } from '../config.js';
import { ERR_CONFLICT, isSsdtuneError, SsdtuneError, ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import { serverFile } from '../api/server.js';
import { readToken } from '../api/token.js';
import { openService, type Service } from '../service/context.js';
import { jobHandlers } from '../service/handlers.js';

export interface CommonOptions {
  dataDir?: string;
  store?: string;
  server?: string;
  json?: boolean;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory holding the ConfDB (env SSDTUNE_DATA_DIR)')
    .option('--store <url>', 'a PostgreSQL ConfDB (postgres://...) instead of the embedded one (env SSDTUNE_STORE)')
    .option('--server <url>', 'use a running ssdtune server instead of opening the ConfDB (env SSDTUNE_SERVER)')
    .option('--json', 'print JSON');
}

export function settingsFrom(o: CommonOptions): Settings {
  return loadSettings({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.store ? { store: o.store } : {}), ...(o.server ? { server: o.server } : {}) });
}

/** A REST client for the server that holds the ConfDB. */
export class RemoteService {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
  ) {}

  async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(route, this.url), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (e) {
      throw ERR_USAGE(`cannot reach the ssdtune server at ${this.url}: ${(e as Error).message}`);
    }
    const data = (await res.json()) as T & { error?: { code: string; message: string } };
    if (!res.ok) {
      if (res.status === 404) throw ERR_NOT_FOUND(data.error?.message ?? `${route}: not found`);
      throw new SsdtuneError({ code: data.error?.code ?? 'SSDTUNE_REMOTE', status: res.status, exitCode: 1, template: '' }, `server: ${data.error?.message ?? res.statusText}`);
    }
    return data;
  }
}

export type Access = { local: Service; remote?: undefined } | { remote: RemoteService; local?: undefined };

/**
 * Open the service locally, falling back to the advertised server when the
 * ConfDB is held by it. `fn` runs with whichever was reached; a local service
 * is closed afterwards.
 */
export async function withService<T>(o: CommonOptions, fn: (a: Access) => Promise<T>): Promise<T> {
  const settings = settingsFrom(o);
  if (settings.server) return fn({ remote: new RemoteService(settings.server, readToken(settings.dataDir)) });
  let svc: Service;
  try {
    svc = await openService(settings, jobHandlers);
  } catch (e) {
    const file = serverFile(settings.dataDir);
    if (isSsdtuneError(e, 'SSDTUNE_CONFDB_LOCKED') && existsSync(file)) {
      const { url } = JSON.parse(readFileSync(file, 'utf8')) as { url: string };
      return fn({ remote: new RemoteService(url, readToken(settings.dataDir)) });
    }
    throw e;
  }
  try {
    return await fn({ local: svc });
  } finally {
    await svc.close();
  }
}

/** For commands that only make sense in-process (e.g. serve). */
export async function withLocalService<T>(o: CommonOptions, fn: (svc: Service) => Promise<T>): Promise<T> {
  return withService(o, async (a) => {
    if (!a.local) throw ERR_CONFLICT(`the ConfDB is held by the server at ${a.remote.url}; stop it first`);
    return fn(a.local);
  });
}
