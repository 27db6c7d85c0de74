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
