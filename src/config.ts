/**
 * Settings shared by every front end: where the data directory is, which
 * server the CLI talks to, what address the server binds, which evaluator a
 * tune uses by default, and the defaults of every tune setting. Precedence:
 * command-line flag > environment variable > config file
 * (`<dataDir>/config.json` or $SSDTUNE_CONFIG) > default. Layers merge deeply:
 * an environment variable that sets one field of a section (ssdsim, tune)
 * leaves the config file's other fields of that section in place.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERR_USAGE } from './errors.js';
import { PROJECT_ROOT } from './native.js';
import { shown } from './util/shown.js';

/**
 * Defaults of a tune request's settings, for the fields a request leaves out
 * (flags and request fields win). Replay is in the CLI's text form
 * (recorded, scaled:<speedup>, closed:<queueDepth>).
 */
export interface TuneDefaults {
  space?: string;
  budget?: number;
  seed?: number;
  searcher?: string;
  /** Configurations evaluated together per search round. */
  batch?: number;
  replay?: string;
  lbaPolicy?: 'reject' | 'modulo';
  /** Screen on this fraction of the trace before confirming on the whole (multi-fidelity); 1 = off. */
  screenFraction?: number;
  /** The block device of the live evaluator. */
  device?: string;
  /** Rounds confirming a measured evaluator's best against the baseline (0: off). */
  confirmRounds?: number;
}

/** How long-running commands report progress: a bar on a terminal, log lines otherwise (auto), or as told. */
export type ProgressMode = 'auto' | 'bar' | 'log' | 'none';

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
  /** Bytes an upload leaves free on the data directory's file system, for the ConfDB (util/disk-space.ts). */
  minFreeBytes: number;
  /** Largest trace a command reads from standard input ("-"), bytes: it is spooled to a temporary file (cli/standard-input.ts). */
  stdinMaxBytes: number;
  /** Host names (Host header) the server answers to besides loopback's, this host's name and the bound address. */
  allowedHosts: string[];
  /** Directories besides the upload directory whose files the API may register by path (default none). */
  traceDirs: string[];
  /** Jobs that may wait in the queue; a submission beyond is refused (HTTP 429). */
  maxQueuedJobs: number;
  /** Runs of one job that may start before an interrupted job is no longer resumed automatically. */
  maxJobAttempts: number;
  /** Path of a user-supplied MQSim binary, for the mqsim evaluator. */
  mqsimPath?: string;
  /** Directory of the workload similarity model (default: the one shipped in models/similarity). */
  modelDir: string;
  /**
   * Replay options of the ssdsim evaluator. The default is MQSim's: a fresh
   * drive (MQSim cannot precondition trace replays). Preconditioning (fill +
   * age the drive so that writes meet GC) is an option: SSDTUNE_SIM_PRECONDITION=1.
   */
  ssdsim: { preconditionFill?: number; preconditionAge?: number };
  tune: TuneDefaults;
  progress: ProgressMode;
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
  minFreeBytes: 1024 * 1024 * 1024,
  stdinMaxBytes: 8 * 2 ** 30,
  traceDirs: [],
  allowedHosts: [],
  maxQueuedJobs: 100,
  maxJobAttempts: 3,
  modelDir: path.join(PROJECT_ROOT, 'models', 'similarity'),
  ssdsim: {},
  tune: {},
  progress: 'auto',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Layers merged left to right: objects field by field (recursively), anything else (undefined aside) replaced. */
export function mergeDeep<T>(...layers: unknown[]): T {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!isObject(layer)) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      out[k] = isObject(v) && isObject(out[k]) ? mergeDeep(out[k], v) : isObject(v) ? mergeDeep(v) : v;
    }
  }
  return out as T;
}

/** An integer environment variable, or a usage error naming it. */
function envInt(name: string, min: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw ERR_USAGE(`${name}=${v}: expected an integer >= ${min}`);
  return n;
}

function envNumber(name: string, lo: number, hi: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= lo || n > hi) throw ERR_USAGE(`${name}=${v}: expected a number in (${lo}, ${hi}]`);
  return n;
}

function envChoice<T extends string>(name: string, choices: readonly T[]): T | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (!(choices as readonly string[]).includes(v)) throw ERR_USAGE(`${name}=${v}: expected one of ${choices.join(', ')}`);
  return v as T;
}

/** The tune defaults the environment sets (SSDTUNE_SPACE, SSDTUNE_BUDGET, ...). */
function tuneFromEnv(): TuneDefaults {
  const e = process.env;
  return {
    ...(e.SSDTUNE_SPACE ? { space: e.SSDTUNE_SPACE } : {}),
    ...(envInt('SSDTUNE_BUDGET', 2) !== undefined ? { budget: envInt('SSDTUNE_BUDGET', 2)! } : {}),
    ...(envInt('SSDTUNE_SEED', 0) !== undefined ? { seed: envInt('SSDTUNE_SEED', 0)! } : {}),
    ...(e.SSDTUNE_SEARCHER ? { searcher: e.SSDTUNE_SEARCHER } : {}),
    ...(envInt('SSDTUNE_BATCH', 1) !== undefined ? { batch: envInt('SSDTUNE_BATCH', 1)! } : {}),
    ...(e.SSDTUNE_REPLAY ? { replay: e.SSDTUNE_REPLAY } : {}),
    ...(envChoice('SSDTUNE_LBA_POLICY', ['reject', 'modulo'] as const) ? { lbaPolicy: envChoice('SSDTUNE_LBA_POLICY', ['reject', 'modulo'] as const)! } : {}),
    ...(envNumber('SSDTUNE_SCREEN_FRACTION', 0, 1) !== undefined ? { screenFraction: envNumber('SSDTUNE_SCREEN_FRACTION', 0, 1)! } : {}),
    ...(e.SSDTUNE_DEVICE ? { device: e.SSDTUNE_DEVICE } : {}),
    ...(envInt('SSDTUNE_CONFIRM_ROUNDS', 0) !== undefined ? { confirmRounds: envInt('SSDTUNE_CONFIRM_ROUNDS', 0)! } : {}),
  };
}

/** A drive reaches GREEDY's steady state after about 3 overwrites of its logical pages; 100 takes minutes, not for ever. */
const MAX_PRECONDITION_AGE = 100;

/** Checks the shape of config.json's sections, naming the file and the field. */
function checkFile(file: string, json: unknown): Record<string, unknown> {
  const bad = (field: string, expected: string): never => {
    throw ERR_USAGE(`${file}: field ${field}: expected ${expected}`);
  };
  if (!isObject(json)) bad('(root)', 'an object');
  const o = json as Record<string, unknown>;
  for (const k of ['ssdsim', 'tune'] as const) if (o[k] !== undefined && !isObject(o[k])) bad(k, 'an object');
  const t = (o.tune ?? {}) as Record<string, unknown>;
  for (const k of ['space', 'searcher', 'replay', 'device'] as const) if (t[k] !== undefined && typeof t[k] !== 'string') bad(`tune.${k}`, 'a string');
  for (const [k, min] of [
    ['budget', 2],
    ['seed', 0],
    ['batch', 1],
    ['confirmRounds', 0],
  ] as const)
    if (t[k] !== undefined && !(Number.isInteger(t[k]) && (t[k] as number) >= min)) bad(`tune.${k}`, `an integer >= ${min}`);
  if (t.lbaPolicy !== undefined && t.lbaPolicy !== 'reject' && t.lbaPolicy !== 'modulo') bad('tune.lbaPolicy', '"reject" or "modulo"');
  if (t.screenFraction !== undefined && !(typeof t.screenFraction === 'number' && t.screenFraction > 0 && t.screenFraction <= 1))
    bad('tune.screenFraction', 'a number in (0, 1]');
  for (const k of ['traceDirs', 'allowedHosts'] as const) {
    if (o[k] !== undefined && !(Array.isArray(o[k]) && (o[k] as unknown[]).every((v) => typeof v === 'string' && v !== '')))
      bad(k, 'a list of non-empty strings');
  }
  if (o.stdinMaxBytes !== undefined && !(Number.isSafeInteger(o.stdinMaxBytes) && (o.stdinMaxBytes as number) >= 1))
    bad('stdinMaxBytes', 'an integer >= 1 (bytes)');
  if (o.progress !== undefined && !['auto', 'bar', 'log', 'none'].includes(o.progress as string)) bad('progress', '"auto", "bar", "log" or "none"');
  for (const k of ['maxUploadBytes', 'minFreeBytes'] as const)
    if (o[k] !== undefined && !(Number.isSafeInteger(o[k]) && (o[k] as number) >= 0)) bad(k, 'an integer of bytes >= 0');
  // Every ssdsim field checked: a misspelt one would silently simulate a fresh drive, and an age without bound would
  // precondition for ever. Before the tune section, lbaPolicy lived under ssdsim: still honoured there.
  const sim = (o.ssdsim ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(sim))
    if (!['preconditionFill', 'preconditionAge', 'lbaPolicy'].includes(k)) bad(`ssdsim.${k}`, 'none such: ssdsim takes preconditionFill and preconditionAge');
  const within = (v: unknown, hi: number) => typeof v === 'number' && v >= 0 && v <= hi;
  if (sim.preconditionFill !== undefined && !within(sim.preconditionFill, 1))
    bad('ssdsim.preconditionFill', 'a number in [0, 1] (the fraction of logical pages written before the replay)');
  if (sim.preconditionAge !== undefined && !within(sim.preconditionAge, MAX_PRECONDITION_AGE))
    bad('ssdsim.preconditionAge', `a number in [0, ${MAX_PRECONDITION_AGE}] (random overwrites before the replay, in multiples of the logical pages)`);
  if (sim.lbaPolicy !== undefined) {
    if (sim.lbaPolicy !== 'reject' && sim.lbaPolicy !== 'modulo') bad('ssdsim.lbaPolicy', '"reject" or "modulo"');
    const { lbaPolicy, ...rest } = sim;
    return { ...o, ssdsim: rest, tune: { lbaPolicy, ...t } };
  }
  return o;
}

export function loadSettings(overrides: Partial<Settings> = {}): Settings {
  const dataDir = path.resolve(overrides.dataDir ?? defaultDataDir());
  const file = process.env.SSDTUNE_CONFIG ?? path.join(dataDir, 'config.json');
  // The data directory's config.json is optional; a file named explicitly is not: a typo in its path would run on
  // the defaults without a word.
  if (process.env.SSDTUNE_CONFIG && !existsSync(file)) throw ERR_USAGE(`SSDTUNE_CONFIG=${file}: no such file`);
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw ERR_USAGE(`${file}: not valid JSON: ${(e as Error).message}`);
    }
    fromFile = checkFile(file, json);
  }
  const env = process.env;
  const fromEnv: Partial<Settings> = {
    ...(env.SSDTUNE_SERVER ? { server: env.SSDTUNE_SERVER } : {}),
    ...(env.SSDTUNE_STORE ? { store: env.SSDTUNE_STORE } : {}),
    ...(env.SSDTUNE_QUEUE ? { queue: env.SSDTUNE_QUEUE } : {}),
    ...(env.SSDTUNE_HOST ? { host: env.SSDTUNE_HOST } : {}),
    ...(envInt('SSDTUNE_PORT', 0) !== undefined ? { port: envInt('SSDTUNE_PORT', 0)! } : {}),
    ...(env.SSDTUNE_EVALUATOR ? { evaluator: env.SSDTUNE_EVALUATOR } : {}),
    ...(env.SSDTUNE_MQSIM ? { mqsimPath: env.SSDTUNE_MQSIM } : {}),
    ...(envInt('SSDTUNE_STDIN_MAX_BYTES', 1) !== undefined ? { stdinMaxBytes: envInt('SSDTUNE_STDIN_MAX_BYTES', 1)! } : {}),
    ...(env.SSDTUNE_MODEL_DIR ? { modelDir: path.resolve(env.SSDTUNE_MODEL_DIR) } : {}),
    // SSDTUNE_SIM_PRECONDITION=1 fills and ages the drive first; 0 (the default) replays on a fresh drive, as MQSim does.
    ...(envChoice('SSDTUNE_SIM_PRECONDITION', ['0', '1'] as const) === '1' ? { ssdsim: { preconditionFill: 1, preconditionAge: 3 } } : {}),
    ...(envChoice('SSDTUNE_SIM_PRECONDITION', ['0', '1'] as const) === '0' ? { ssdsim: { preconditionFill: 0 } } : {}),
    tune: tuneFromEnv(),
    ...(envChoice('SSDTUNE_PROGRESS', ['auto', 'bar', 'log', 'none'] as const)
      ? { progress: envChoice('SSDTUNE_PROGRESS', ['auto', 'bar', 'log', 'none'] as const)! }
      : {}),
  };
  const s = mergeDeep<Settings>(DEFAULTS, fromFile, fromEnv, overrides, { dataDir });
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535)
    throw ERR_USAGE(`port (--port, SSDTUNE_PORT or config.json "port") must be an integer in 0..65535, got ${shown(s.port)}`);
  if (s.store !== undefined && !/^postgres(ql)?:\/\//.test(s.store))
    throw ERR_USAGE(`store (SSDTUNE_STORE) must be a postgres:// URL, or unset for the embedded LevelDB; got "${s.store}"`);
  if (s.queue !== undefined && !/^rediss?:\/\//.test(s.queue))
    throw ERR_USAGE(`queue (SSDTUNE_QUEUE) must be a redis:// URL, or unset for in-process jobs; got "${s.queue}"`);
  return s;
}
