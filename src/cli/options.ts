/** Parsers of numeric flags: a bad value is a usage error naming the flag and the text given (not NaN). */
import { ERR_USAGE } from '../errors.js';

export function intOption(name: string, min: number, max?: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || (max !== undefined && n > max))
      throw ERR_USAGE(`--${name} must be an integer ${max === undefined ? `>= ${min}` : `in ${min}..${max}`}, got "${v}"`);
    return n;
  };
}

/**
 * A number, its range left to the request's schema (tune-spec.ts), which says it once for the CLI and REST alike.
 * Not NaN: a schema's bounds do not catch NaN (every comparison with it is false), and an absent-looking value
 * would turn a feature off instead of refusing the flag.
 */
export function numberOption(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw ERR_USAGE(`--${name} must be a number, got "${v}"`);
    return n;
  };
}

const UNITS: Record<string, number> = { ms: 1e-3, s: 1, m: 60, h: 3600 };
/** Beyond a year is a typo, and beyond 2^53 ms a deadline cannot be computed at all. */
const MAX_DURATION_MS = 8760 * 3600 * 1000;

/** "30s", "500ms", "2m", "1h", or plain seconds -> milliseconds; parsed when the flag is read, before anything starts. */
export function durationOption(name: string): (v: string) => number {
  return (v) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
    if (!m || Number(m[1]) <= 0) throw ERR_USAGE(`--${name}: expected a positive time such as 30s, 500ms, 2m or 1h, got "${v}"`);
    const ms = Number(m[1]) * UNITS[m[2] ?? 's']! * 1000;
    if (!(ms <= MAX_DURATION_MS)) throw ERR_USAGE(`--${name}: "${v}" is longer than a year (8760h)`);
    return ms;
  };
}
