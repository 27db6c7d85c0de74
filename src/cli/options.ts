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
