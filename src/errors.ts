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
  constructor(def: ErrorDef, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SsdtuneError';
    this.code = def.code;
    this.statusCode = def.status;
    this.exitCode = def.exitCode;
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

export function isSsdtuneError(e: unknown, code?: string): e is SsdtuneError {
  return e instanceof SsdtuneError && (code === undefined || e.code === code);
}

// ---- general ---------------------------------------------------------------
export const ERR_USAGE = defineError('SSDTUNE_USAGE', 400, EXIT.USAGE, '%s');
export const ERR_NOT_FOUND = defineError('SSDTUNE_NOT_FOUND', 404, EXIT.NOT_FOUND, '%s');
export const ERR_PERMISSION = defineError('SSDTUNE_PERMISSION', 403, EXIT.PERMISSION, '%s');
export const ERR_UNSUPPORTED = defineError('SSDTUNE_UNSUPPORTED', 501, EXIT.UNSUPPORTED, '%s');
export const ERR_NATIVE = defineError('SSDTUNE_NATIVE', 500, EXIT.FAILURE, 'native addon: %s');

// ---- trace input -----------------------------------------------------------
/** file, where (byte offset or line), what was expected */
export const ERR_TRACE_FORMAT = defineError('SSDTUNE_TRACE_FORMAT', 400, EXIT.BAD_INPUT, '%s: %s: %s');
export const ERR_TRACE_UNKNOWN_FORMAT = defineError('SSDTUNE_TRACE_UNKNOWN_FORMAT', 400, EXIT.BAD_INPUT, '%s: cannot tell the trace format (%s); pass --format');
export const ERR_TRACE_OPEN = defineError('SSDTUNE_TRACE_OPEN', 400, EXIT.BAD_INPUT, '%s: %s');

// ---- host tuning -----------------------------------------------------------
/** device as given, why it cannot be used */
export const ERR_HOST_DEVICE = defineError('SSDTUNE_HOST_DEVICE', 404, EXIT.NOT_FOUND, '%s: %s');
/** device, attribute, value, what is allowed */
export const ERR_HOST_VALUE = defineError('SSDTUNE_HOST_VALUE', 400, EXIT.BAD_INPUT, '%s: %s=%s is not valid: %s');
/** device, attribute: not on the allow-list */
export const ERR_HOST_ATTRIBUTE = defineError('SSDTUNE_HOST_ATTRIBUTE', 400, EXIT.BAD_INPUT, '%s: %s is not a tunable ssdtune writes: %s');
/** what needs root */
export const ERR_HOST_ROOT = defineError('SSDTUNE_HOST_ROOT', 403, EXIT.PERMISSION, '%s needs root (run as root or use --dry-run)');
/** device, attribute, value, reason, rollback outcome */
export const ERR_HOST_APPLY = defineError('SSDTUNE_HOST_APPLY', 500, EXIT.FAILURE, '%s: writing %s=%s failed (%s); %s');
/** device, what */
export const ERR_HOST_STATE = defineError('SSDTUNE_HOST_STATE', 409, EXIT.CONFLICT, '%s: %s');
/** config file, where, what was expected */
export const ERR_HOST_CONFIG = defineError('SSDTUNE_HOST_CONFIG', 400, EXIT.BAD_INPUT, '%s: %s: %s');
/** device, why the replay refuses it */
export const ERR_HOST_UNSAFE = defineError('SSDTUNE_HOST_UNSAFE', 409, EXIT.CONFLICT, '%s: %s');
