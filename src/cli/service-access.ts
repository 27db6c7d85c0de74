/**
 * How a CLI command reaches the service: in this process over the ConfDB,
 * or, when a running `ssdtune serve` holds it (LevelDB admits one process),
 * through that server's REST API. The server advertises its URL in
 * `<dataDir>/server.json`; --server / SSDTUNE_SERVER name one explicitly.
 * Either way the command gets the same SsdtuneApi and behaves the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSettings, type Settings } from '../config.js';
import { isSsdtuneError } from '../errors.js';
import { InProcessApi, type SsdtuneApi } from '../service/api.js';
import { openService } from '../service/context.js';
import { jobHandlers } from '../service/handlers.js';
import { readToken, serverFile } from '../service/token.js';
import { HttpApi } from './http-client.js';

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

/** The server's bearer token: SSDTUNE_TOKEN (a fleet host), else the one in the data directory. */
export function serverToken(settings: Settings): string | undefined {
  return process.env.SSDTUNE_TOKEN ?? readToken(settings.dataDir);
}

/**
 * Open the service API (in-process, or the server that holds the ConfDB), run `fn`, close it.
 * `local`: this host's own ConfDB even when --server names a server (a fleet agent's way back lives here).
 */
export async function withApi<T>(o: CommonOptions, fn: (api: SsdtuneApi) => Promise<T>, actor = 'cli', local = false): Promise<T> {
  const settings = local ? { ...settingsFrom(o), server: undefined } : settingsFrom(o);
  let api: SsdtuneApi;
  if (settings.server) api = new HttpApi(settings.server, serverToken(settings), actor);
  else {
    try {
      api = new InProcessApi(await openService(settings, jobHandlers), actor);
    } catch (e) {
      const file = serverFile(settings.dataDir);
      if (!(isSsdtuneError(e, 'SSDTUNE_CONFDB_LOCKED') && existsSync(file))) throw e;
      const { url } = JSON.parse(readFileSync(file, 'utf8')) as { url: string };
      api = new HttpApi(url, serverToken(settings), actor);
    }
  }
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}
