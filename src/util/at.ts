/**
 * Indexing where the index is in range by construction (a loop bound, a
 * class number, a bucket computed from the value): the compiler cannot see
 * it (noUncheckedIndexedAccess), the reader can, and a broken construction
 * fails loudly with a coded internal error instead of computing with
 * undefined (NaN) and reporting a wrong figure.
 */
import { ERR_INTERNAL_INDEX } from '../errors.js';

interface Indexable<T> {
  readonly length: number;
  readonly [i: number]: T;
}
interface Writable<T> {
  readonly length: number;
  [i: number]: T;
}

/** `a[i]`; `what` names the array in the error. */
export function at<T>(a: Indexable<T>, i: number, what = 'array'): T {
  const v = a[i];
  if (v === undefined) throw ERR_INTERNAL_INDEX(what, i, a.length);
  return v;
}

/** `a[i] += by` for a counter array. */
export function bump(a: Writable<number>, i: number, by = 1, what = 'counter'): void {
  const v = a[i];
  if (v === undefined) throw ERR_INTERNAL_INDEX(what, i, a.length);
  a[i] = v + by;
}
