/**
 * The registry of coded errors (as fastify does): every error ssdtune raises
 * on purpose is created from a definition here, so the CLI can map it to an
 * exit code, the REST API to an HTTP status, and users can search for the code.
 *
 * Add new codes in the section of the subsystem that raises them.
 */

export interface ErrorDef {
  code: string;
  /** HTTP status the REST API answers with. */
  status: number;
  /** CLI exit code. */
  exitCode: number;
  /** printf-like template: each %s takes one argument. */
  template: string;
}

export class SsdtuneError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly exitCode: number;
  /**
   * The request field the error is about (`device`, `replay.speedup`), as the REST API names it; the message then
   * starts with `<field>: ` (aboutField). The REST reply carries it; the CLI says its flag instead (cli/run.ts).
   */
  readonly field?: string;
  constructor(def: ErrorDef, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SsdtuneError';
    this.code = def.code;
    this.statusCode = def.status;
    this.exitCode = def.exitCode;
    if (options?.field !== undefined) this.field = options.field;
  }
}

const registry = new Map<string, ErrorDef>();

/** Exit codes the CLI documents. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  BAD_INPUT: 3,
  NOT_FOUND: 4,
  PERMISSION: 5,
  UNSUPPORTED: 6,
  CONFLICT: 7,
} as const;

/** What each exit code means: `ssdtune --help`, the man page and docs/errors.md print this. */
export const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  OK: 'success',
  FAILURE: 'failure: an error of none of the kinds below',
  USAGE: 'usage: an unknown command or option, a missing or malformed argument',
  BAD_INPUT: 'bad input: a trace, configuration or file that is malformed or out of range',
  NOT_FOUND: 'not found: a file, device, record or model that does not exist',
  PERMISSION: 'permission: needs root, or the API token',
  UNSUPPORTED: 'unsupported here: the kernel, a library or a feature this needs is missing',
  CONFLICT: 'conflict: busy or locked, or a device no longer as ssdtune left it (verify)',
};

export function defineError(code: string, status: number, exitCode: number, template: string): (...args: unknown[]) => SsdtuneError {
  if (registry.has(code)) throw new Error(`error code defined twice: ${code}`);
  const def: ErrorDef = { code, status, exitCode, template };
  registry.set(code, def);
  const make = (...args: unknown[]): SsdtuneError => {
    let i = 0;
    const message = template.replace(/%s/g, () => String(args[i++]));
    const last = args[args.length - 1];
    const cause = last instanceof Error && i < args.length ? last : undefined;
    return new SsdtuneError(def, message, cause ? { cause } : undefined);
  };
  Object.defineProperty(make, 'code', { value: code });
  return make;
}

export function errorDefinitions(): ErrorDef[] {
  return [...registry.values()];
}

/**
 * An error reported elsewhere (a REST reply, a failed job's record) made a
 * coded error again, with its own exit code and status; unknown codes keep
 * the status given and exit 1.
 */
export function errorFromCode(code: string, message: string, status = 500, field?: string): SsdtuneError {
  return new SsdtuneError(registry.get(code) ?? { code, status, exitCode: EXIT.FAILURE, template: '%s' }, message, field === undefined ? undefined : { field });
}

/**
 * The error `e` said of a request field: the same code, its message after `<field>: `, and `field` set. One
 * wording for every front end: the REST API's field name leads, and the CLI puts its flag there (cli/run.ts).
 */
export function aboutField(e: SsdtuneError, field: string): SsdtuneError {
  const def = registry.get(e.code) ?? { code: e.code, status: e.statusCode, exitCode: e.exitCode, template: '%s' };
  return new SsdtuneError(def, `${field}: ${e.message}`, { cause: e, field });
}

export function isSsdtuneError(e: unknown, code?: string): e is SsdtuneError {
  return e instanceof SsdtuneError && (code === undefined || e.code === code);
}

// ---- general ---------------------------------------------------------------
export const ERR_USAGE = defineError('SSDTUNE_USAGE', 400, EXIT.USAGE, '%s');
export const ERR_NOT_FOUND = defineError('SSDTUNE_NOT_FOUND', 404, EXIT.NOT_FOUND, '%s');
export const ERR_PERMISSION = defineError('SSDTUNE_PERMISSION', 403, EXIT.PERMISSION, '%s');
export const ERR_UNSUPPORTED = defineError('SSDTUNE_UNSUPPORTED', 501, EXIT.UNSUPPORTED, '%s');
export const ERR_NATIVE = defineError('SSDTUNE_NATIVE', 500, EXIT.FAILURE, 'native addon: %s');
/** the addon's file, its stamp ('none': built before addons had one), the sources' stamp (src/native.ts, scripts/native-stamp.cjs) */
export const ERR_NATIVE_STALE = defineError(
  'SSDTUNE_NATIVE_STALE',
  500,
  EXIT.FAILURE,
  'native addon %s was built from other native sources (stamp %s) than those beside it (stamp %s): run `npm run build:native`',
);
/** A bug: an index that is in range by construction was not (src/util/at.ts). */
export const ERR_INTERNAL_INDEX = defineError('SSDTUNE_INTERNAL_INDEX', 500, EXIT.FAILURE, 'internal error: %s index %s out of range (length %s)');
/** feature, why it is missing, what to do (an optional native library: src/native.ts) */
export const ERR_FEATURE_MISSING = defineError('SSDTUNE_FEATURE_MISSING', 501, EXIT.UNSUPPORTED, '%s is not available here: %s. Fix: %s');

// ---- trace input -----------------------------------------------------------
/** file, where (byte offset or line), what was expected */
export const ERR_TRACE_FORMAT = defineError('SSDTUNE_TRACE_FORMAT', 400, EXIT.BAD_INPUT, '%s: %s: %s');
export const ERR_TRACE_UNKNOWN_FORMAT = defineError(
  'SSDTUNE_TRACE_UNKNOWN_FORMAT',
  400,
  EXIT.BAD_INPUT,
  '%s: cannot tell the trace format (%s); pass --format',
);
/** file, the candidate readings, the --format choices */
export const ERR_TRACE_AMBIGUOUS_FORMAT = defineError(
  'SSDTUNE_TRACE_AMBIGUOUS_FORMAT',
  400,
  EXIT.BAD_INPUT,
  '%s: the lines fit several formats that read the same columns in different units: %s; pass %s',
);
/** file, the requests it has and what they are, what an evaluation needs */
export const ERR_TRACE_UNTIMED = defineError('SSDTUNE_TRACE_UNTIMED', 400, EXIT.BAD_INPUT, '%s: no timed I/O: %s; %s');
/** file, where (line, byte offsets), which limit and how to raise it */
export const ERR_TRACE_LIMIT = defineError('SSDTUNE_TRACE_LIMIT', 413, EXIT.BAD_INPUT, '%s: %s: %s');
/** file, why (the signal's reason) */
export const ERR_TRACE_ABORTED = defineError('SSDTUNE_TRACE_ABORTED', 499, EXIT.FAILURE, '%s: reading cancelled (%s)');
export const ERR_TRACE_OPEN = defineError('SSDTUNE_TRACE_OPEN', 400, EXIT.BAD_INPUT, '%s: %s');
/** output file, why it cannot be written */
export const ERR_TRACE_WRITE = defineError('SSDTUNE_TRACE_WRITE', 500, EXIT.FAILURE, 'cannot write %s: %s');

// ---- configuration space, GPR and search ---------------------------------
/** space name, parameter name, what is wrong */
export const ERR_SPACE_INVALID = defineError('SSDTUNE_SPACE_INVALID', 400, EXIT.BAD_INPUT, 'space %s: parameter %s: %s');
/** space name, parameter name, what was expected */
export const ERR_CONFIG_INVALID = defineError('SSDTUNE_CONFIG_INVALID', 400, EXIT.BAD_INPUT, 'configuration for space %s: parameter %s: %s');
/** space name, why */
export const ERR_NOTHING_FEASIBLE = defineError('SSDTUNE_NOTHING_FEASIBLE', 422, EXIT.BAD_INPUT, 'space %s: nothing feasible: %s');
export const ERR_GPR = defineError('SSDTUNE_GPR', 400, EXIT.BAD_INPUT, 'gaussian process: %s');
export const ERR_SEARCH = defineError('SSDTUNE_SEARCH', 400, EXIT.BAD_INPUT, 'search: %s');
// ---- features / ML ---------------------------------------------------------
/** where (trace + request index or window), what is wrong */
export const ERR_FEATURES_INPUT = defineError('SSDTUNE_FEATURES_INPUT', 400, EXIT.BAD_INPUT, '%s: %s');
/** what, how many requests there are, how many a window needs */
export const ERR_FEATURES_TOO_SHORT = defineError('SSDTUNE_FEATURES_TOO_SHORT', 400, EXIT.BAD_INPUT, '%s: %s');
/** a model cannot be fitted to this data (too few points, zero variance...) */
export const ERR_ML_DEGENERATE = defineError('SSDTUNE_ML_DEGENERATE', 400, EXIT.BAD_INPUT, '%s');
/** a NaN or infinity produced inside the ML pipeline: where, which value */
export const ERR_ML_NONFINITE = defineError('SSDTUNE_ML_NONFINITE', 500, EXIT.FAILURE, '%s: non-finite value %s');
/** model file, what is wrong */
export const ERR_MODEL_CORRUPT = defineError('SSDTUNE_MODEL_CORRUPT', 400, EXIT.BAD_INPUT, '%s: corrupt model: %s');
export const ERR_MODEL_MISSING = defineError('SSDTUNE_MODEL_MISSING', 404, EXIT.NOT_FOUND, '%s: no model here (%s); run `ssdtune model train`');
/** the model directory, why it cannot hold a model */
export const ERR_MODEL_WRITE = defineError('SSDTUNE_MODEL_WRITE', 500, EXIT.FAILURE, 'cannot write the model to %s: %s');
// ---- SSD simulator ---------------------------------------------------------
/** parameter, what is wrong */
export const ERR_SSDSIM_CONFIG = defineError('SSDTUNE_SSDSIM_CONFIG', 400, EXIT.BAD_INPUT, 'SSD configuration: parameter %s: %s');
/** source, request index, last sector, logical sectors */
export const ERR_SSDSIM_LBA_RANGE = defineError(
  'SSDTUNE_SSDSIM_LBA_RANGE',
  400,
  EXIT.BAD_INPUT,
  '%s: request %s ends at sector %s but the simulated device has %s logical sectors (capacity set by channels, chipsPerChannel, diesPerChip, planesPerDie, blocksPerPlane, pagesPerBlock, pageBytes, overProvisioning); enlarge the device or pass lbaPolicy "modulo" to map addresses modulo the capacity',
);
export const ERR_SSDSIM_DEVICE_FULL = defineError('SSDTUNE_SSDSIM_DEVICE_FULL', 422, EXIT.FAILURE, 'SSD simulation: %s');
export const ERR_SSDSIM_CANCELLED = defineError('SSDTUNE_SSDSIM_CANCELLED', 499, EXIT.FAILURE, 'SSD simulation cancelled');
/** binary path, what happened */
export const ERR_MQSIM_RUN = defineError('SSDTUNE_MQSIM_RUN', 500, EXIT.FAILURE, 'MQSim %s: %s');
/** file, element/tag, what was expected */
export const ERR_MQSIM_XML = defineError('SSDTUNE_MQSIM_XML', 400, EXIT.BAD_INPUT, '%s: %s: %s');
// ---- analyze ---------------------------------------------------------------
/** file, reason */
export const ERR_REPORT_WRITE = defineError('SSDTUNE_REPORT_WRITE', 500, EXIT.FAILURE, 'cannot write report %s: %s');
// ---- ConfDB and service ----------------------------------------------------
export const ERR_CONFDB_LOCKED = defineError(
  'SSDTUNE_CONFDB_LOCKED',
  409,
  EXIT.CONFLICT,
  'the ConfDB at %s is open in another process (is `ssdtune serve` running? then pass --server URL or set SSDTUNE_SERVER so the CLI goes through its API; otherwise stop the other ssdtune process)',
);
/** location, LevelDB's message */
export const ERR_CONFDB_CORRUPT = defineError(
  'SSDTUNE_CONFDB_CORRUPT',
  500,
  EXIT.FAILURE,
  'the ConfDB at %s is damaged (%s): move it aside and restore the records from an export (`ssdtune db import FILE` into the fresh one); ssdtune does not write to a damaged store',
);
export const ERR_CONFDB_OPEN = defineError('SSDTUNE_CONFDB_OPEN', 500, EXIT.FAILURE, 'cannot open the ConfDB at %s: %s');
export const ERR_CONFDB_SCHEMA = defineError(
  'SSDTUNE_CONFDB_SCHEMA',
  500,
  EXIT.UNSUPPORTED,
  'the ConfDB at %s has schema version %s, newer than this ssdtune understands (%s): upgrade ssdtune',
);
/** the lock asked for, the lock held: a programming error (see PgStore.exclusive) */
export const ERR_CONFDB_NESTED_LOCK = defineError(
  'SSDTUNE_CONFDB_NESTED_LOCK',
  500,
  EXIT.FAILURE,
  'exclusive(%s) asked of the store while holding exclusive(%s): use the store exclusive() passed in',
);
/** location, why (PostgreSQL: a lock wait passed PG_LIMITS.lockWaitMs) */
export const ERR_CONFDB_BUSY = defineError('SSDTUNE_CONFDB_BUSY', 503, EXIT.CONFLICT, 'the ConfDB at %s is busy: %s; try again');
/**
 * location, the last failure, seconds retried (PostgreSQL: a lost connection or a restarting server for longer than
 * PG_LIMITS.retryMs, or a lock holder that woke after its session was ended for stalling)
 */
export const ERR_CONFDB_UNAVAILABLE = defineError(
  'SSDTUNE_CONFDB_UNAVAILABLE',
  503,
  EXIT.FAILURE,
  'the ConfDB at %s did not answer: %s (retried for %s s); the operation that needed it failed, try again',
);
/** file, line, what is wrong: a malformed line, or a devices record that would replace this ConfDB's or that another host made */
export const ERR_CONFDB_IMPORT = defineError('SSDTUNE_CONFDB_IMPORT', 400, EXIT.BAD_INPUT, '%s: line %s: %s');
/** file, why (the export is written to a temporary file beside it and renamed into place only when complete) */
export const ERR_CONFDB_EXPORT = defineError('SSDTUNE_CONFDB_EXPORT', 500, EXIT.FAILURE, 'cannot write the export to %s: %s; nothing was written there');
export const ERR_CONFLICT = defineError('SSDTUNE_CONFLICT', 409, EXIT.CONFLICT, '%s');
/** jobs waiting, the limit */
export const ERR_QUEUE_FULL = defineError(
  'SSDTUNE_QUEUE_FULL',
  429,
  EXIT.CONFLICT,
  'the job queue is full (%s jobs waiting, limit %s): try again when some have finished',
);
/**
 * the evaluation (configuration and workload), the queue's reason: a fleet evaluation whose job ran out of runs (its
 * workers died, or could not reach the ConfDB or Redis, each time); the fleet's failure, so not recorded as the
 * configuration's outcome (src/service/evaluation-jobs.ts)
 */
export const ERR_EVAL_UNFINISHED = defineError(
  'SSDTUNE_EVAL_UNFINISHED',
  503,
  EXIT.FAILURE,
  'evaluation of %s: no worker finished it (%s); a failure of the fleet, not of the configuration: it is not recorded, and the next search that asks for it evaluates it again',
);
/**
 * the evaluator, the revision the worker runs, the revision the search asked for: a fleet worker of another
 * release than the coordinator's, whose outcome would be another model's (src/service/evaluation-jobs.ts)
 */
export const ERR_EVAL_REVISION = defineError(
  'SSDTUNE_EVAL_REVISION',
  503,
  EXIT.FAILURE,
  "this worker runs the %s evaluator at revision %s, and the search asked for revision %s: its outcome would be another model's, so it leaves the evaluation to another worker; run one ssdtune release on every worker and coordinator",
);
/** address:port, why */
export const ERR_SERVE_LISTEN = defineError('SSDTUNE_SERVE_LISTEN', 500, EXIT.CONFLICT, 'cannot serve on %s: %s');
/** token file, what is wrong with it */
export const ERR_TOKEN = defineError(
  'SSDTUNE_TOKEN',
  500,
  EXIT.PERMISSION,
  '%s: not a usable API token: %s; it must hold 32 to 512 visible ASCII characters (delete the file and the server makes a new one)',
);
export const ERR_UNAUTHORIZED = defineError('SSDTUNE_UNAUTHORIZED', 401, EXIT.PERMISSION, '%s');
/** address as given, the address it resolves to */
export const ERR_SERVE_EXPOSED = defineError(
  'SSDTUNE_SERVE_EXPOSED',
  400,
  EXIT.USAGE,
  'refusing to serve on %s (%s is not a loopback address) without --expose: other hosts could reach the API; pass --expose to serve beyond this host (every route then needs the API token)',
);
/** the Host header's name, the names allowed */
export const ERR_HOST_NOT_ALLOWED = defineError(
  'SSDTUNE_HOST_NOT_ALLOWED',
  421,
  EXIT.PERMISSION,
  'this server does not answer to the host name "%s" (it answers to %s): add it to "allowedHosts" in config.json or with serve --allow-host',
);
export const ERR_UPLOAD_TOO_LARGE = defineError('SSDTUNE_UPLOAD_TOO_LARGE', 413, EXIT.BAD_INPUT, 'upload exceeds the limit of %s bytes');
/** what was refused, the directory, bytes free, the reserve */
export const ERR_NO_SPACE = defineError(
  'SSDTUNE_NO_SPACE',
  507,
  EXIT.FAILURE,
  '%s refused: the file system of %s has %s bytes free, and the server keeps %s free for its ConfDB ("minFreeBytes" in config.json): remove traces or make room',
);
/** route, the content type it takes, the one sent */
export const ERR_MEDIA_TYPE = defineError('SSDTUNE_MEDIA_TYPE', 415, EXIT.USAGE, '%s takes a body of Content-Type %s, got %s');
/** server URL, why (refused, timed out, ...): the server did not answer, as opposed to answering no (a fleet agent then works from its cache) */
export const ERR_SERVER_UNREACHABLE = defineError('SSDTUNE_SERVER_UNREACHABLE', 503, EXIT.FAILURE, 'cannot reach the ssdtune server at %s: %s');
// ---- block devices ---------------------------------------------------------
/** device as given, why it does not name a usable block device */
export const ERR_DEVICE = defineError('SSDTUNE_DEVICE', 404, EXIT.NOT_FOUND, '%s: %s');
// ---- host tuning -----------------------------------------------------------
/** device, attribute, value, what is allowed */
export const ERR_HOST_VALUE = defineError('SSDTUNE_HOST_VALUE', 400, EXIT.BAD_INPUT, '%s: %s=%s is not valid: %s');
/** device, attribute: not on the allow-list */
export const ERR_HOST_ATTRIBUTE = defineError('SSDTUNE_HOST_ATTRIBUTE', 400, EXIT.BAD_INPUT, '%s: %s is not a tunable ssdtune writes: %s');
/** what needs root */
export const ERR_HOST_ROOT = defineError('SSDTUNE_HOST_ROOT', 403, EXIT.PERMISSION, '%s needs root (run as root or use --dry-run)');
/**
 * device, attribute, value, reason (for an attribute a write changed that could not be held at its value: the write
 * that changed it, and the kernel's refusal), rollback outcome
 */
export const ERR_HOST_APPLY = defineError('SSDTUNE_HOST_APPLY', 500, EXIT.FAILURE, '%s: writing %s=%s failed (%s); %s');
/** device, what was being restored, what is left, what to do */
export const ERR_HOST_RESTORE = defineError('SSDTUNE_HOST_RESTORE', 500, EXIT.FAILURE, '%s: restoring %s failed: %s; %s');
/**
 * device, what: a change in progress (another process holds the disk's queue lock, or its pending mark says so), or
 * one left unfinished (revert first); the name now belongs to another device
 * (its major:minor changed); or the recorded way back may not be this device's: made on another host (a shared
 * ConfDB, an import; verify refuses it too), or naming no host (an older ssdtune) while the device shows, for some
 * attribute, neither its applied nor its previous value (revert --anyway, or db delete devices)
 */
export const ERR_HOST_STATE = defineError('SSDTUNE_HOST_STATE', 409, EXIT.CONFLICT, '%s: %s');
/** config file, where, what was expected */
export const ERR_HOST_CONFIG = defineError('SSDTUNE_HOST_CONFIG', 400, EXIT.BAD_INPUT, '%s: %s: %s');
/** device, why the replay refuses it */
export const ERR_HOST_UNSAFE = defineError('SSDTUNE_HOST_UNSAFE', 409, EXIT.CONFLICT, '%s: %s');
// ---- collector -------------------------------------------------------------
/** device path, what is wrong */
export const ERR_COLLECT_DEVICE = defineError('SSDTUNE_COLLECT_DEVICE', 404, EXIT.NOT_FOUND, '%s: %s');
/** device, owner pid, lock file */
export const ERR_COLLECT_BUSY = defineError(
  'SSDTUNE_COLLECT_BUSY',
  409,
  EXIT.CONFLICT,
  '%s is already being captured by pid %s (lock %s); stop that capture first',
);
/** backend, why, what to do */
export const ERR_COLLECT_BACKEND = defineError('SSDTUNE_COLLECT_BACKEND', 501, EXIT.UNSUPPORTED, 'collector backend %s cannot run here: %s. %s');
/** blktrace relay open refused by kernel lockdown: file */
export const ERR_COLLECT_LOCKDOWN = defineError(
  'SSDTUNE_COLLECT_LOCKDOWN',
  501,
  EXIT.UNSUPPORTED,
  'kernel blktrace is blocked by kernel lockdown (%s: EPERM, dmesg "Lockdown: blktrace: debugfs access is restricted"); use --backend ebpf or --backend tracefs, which lockdown allows',
);
export const ERR_COLLECT_NOT_ROOT = defineError(
  'SSDTUNE_COLLECT_NOT_ROOT',
  403,
  EXIT.PERMISSION,
  'capturing block I/O needs root (CAP_BPF/CAP_SYS_ADMIN and tracefs write access): run as root (sudo ssdtune %s)',
);
/** device, what happened */
export const ERR_COLLECT_LOST_DEVICE = defineError('SSDTUNE_COLLECT_DEVICE_GONE', 410, EXIT.FAILURE, '%s disappeared during the capture: %s');
