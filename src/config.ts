/**
 * Settings shared by every front end: where the data directory is, which
 * server the CLI talks to, what address the server binds, which evaluator a
 * tune uses by default. Precedence: command-line flag > environment variable
 * > config file (`<dataDir>/config.json` or $SSDTUNE_CONFIG) > default.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERR_USAGE } from './errors.js';
import { PROJECT_ROOT } from './native.js';

export interface Settings {
  dataDir: string;
  /**
   * The ConfDB: unset for the embedded LevelDB under dataDir (the default),
   * or a postgres:// URL for a store shared by several processes and hosts.
   */
  store?: string;
  /** The job queue: unset for in-process jobs (the default), or a redis:// URL for BullMQ and `ssdtune worker`s. */
  queue?: string;
  /** URL of a running `ssdtune serve`, when the CLI should go through its API. */
  server?: string;
  /** Address and port `serve` binds (loopback unless told otherwise). */
  host: string;
  port: number;
  /** Default evaluator for tune jobs. */
  evaluator: string;
  /** Largest trace upload the API accepts, bytes. */
  maxUploadBytes: number;
  /** Path of a user-supplied MQSim binary, for the mqsim evaluator. */
  mqsimPath?: string;
  /** Directory of the workload similarity model (default: the one shipped in models/similarity). */
  modelDir: string;
  /**
   * Replay options of the ssdsim evaluator. The default is MQSim's: a fresh
   * drive (MQSim cannot precondition trace replays). Preconditioning (fill +
   * age the drive so that writes meet GC) is an option: SSDTUNE_SIM_PRECONDITION=1.
   */
  ssdsim: { preconditionFill?: number; preconditionAge?: number; lbaPolicy?: 'reject' | 'modulo' };
}

export function defaultDataDir(): string {
  if (process.env.SSDTUNE_DATA_DIR) return path.resolve(process.env.SSDTUNE_DATA_DIR);
  const xdg = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'ssdtune');
}

const DEFAULTS: Omit<Settings, 'dataDir'> = {
  host: '127.0.0.1',
  port: 7411,
  evaluator: 'ssdsim',
  maxUploadBytes: 512 * 1024 * 1024,
  modelDir: path.join(PROJECT_ROOT, 'models', 'similarity'),
  ssdsim: {},
};

export function loadSettings(overrides: Partial<Settings> = {}): Settings {
  const dataDir = path.resolve(overrides.dataDir ?? defaultDataDir());
  const file = process.env.SSDTUNE_CONFIG ?? path.join(dataDir, 'config.json');
  let fromFile: Partial<Settings> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Partial<Settings>;
    } catch (e) {
      throw ERR_USAGE(`${file}: not valid JSON: ${(e as Error).message}`);
    }
  }
  const env = process.env;
  const fromEnv: Partial<Settings> = {
    ...(env.SSDTUNE_SERVER ? { server: env.SSDTUNE_SERVER } : {}),
    ...(env.SSDTUNE_STORE ? { store: env.SSDTUNE_STORE } : {}),
    ...(env.SSDTUNE_QUEUE ? { queue: env.SSDTUNE_QUEUE } : {}),
    ...(env.SSDTUNE_HOST ? { host: env.SSDTUNE_HOST } : {}),
    ...(env.SSDTUNE_PORT ? { port: Number(env.SSDTUNE_PORT) } : {}),
    ...(env.SSDTUNE_EVALUATOR ? { evaluator: env.SSDTUNE_EVALUATOR } : {}),
    ...(env.SSDTUNE_MQSIM ? { mqsimPath: env.SSDTUNE_MQSIM } : {}),
    ...(env.SSDTUNE_MODEL_DIR ? { modelDir: path.resolve(env.SSDTUNE_MODEL_DIR) } : {}),
    // SSDTUNE_SIM_PRECONDITION=1 fills and ages the drive first; 0 (the default) replays on a fresh drive, as MQSim does.
    ...(env.SSDTUNE_SIM_PRECONDITION === '1' ? { ssdsim: { preconditionFill: 1, preconditionAge: 3 } } : {}),
    ...(env.SSDTUNE_SIM_PRECONDITION === '0' ? { ssdsim: { preconditionFill: 0 } } : {}),
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const s: Settings = { ...DEFAULTS, ...fromFile, ...fromEnv, ...defined, dataDir };
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) throw ERR_USAGE(`port must be 0..65535, got ${s.port}`);
  if (s.store !== undefined && !/^postgres(ql)?:\/\//.test(s.store)) throw ERR_USAGE(`store (SSDTUNE_STORE) must be a postgres:// URL, or unset for the embedded LevelDB; got "${s.store}"`);
  if (s.queue !== undefined && !/^rediss?:\/\//.test(s.queue)) throw ERR_USAGE(`queue (SSDTUNE_QUEUE) must be a redis:// URL, or unset for in-process jobs; got "${s.queue}"`);
  return s;
}
