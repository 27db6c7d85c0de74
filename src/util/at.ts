/**
 * Indexing where the index is in range by construction (a loop bound, a
 * class number, a bucket computed from the value): the compiler cannot see
 * it (noUncheckedIndexedAccess), the reader can, and a broken construction
 * fails loudly with a coded internal error instead of computing with
 * undefined (NaN) and reporting a wrong figure.
 *
 * Both are on hot paths (per request, per field): the failure path is a
 * function of its own so that these stay small enough to inline.
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

function outOfRange(what: string, i: number, length: number): never {
  throw ERR_INTERNAL_INDEX(what, i, length);
}

/** `a[i]`; `what` names the array in the error. */
export function at<T>(a: Indexable<T>, i: number, what?: string): T {
  const v = a[i];
  if (v === undefined) outOfRange(what ?? 'array', i, a.length);
  return v;
}

/** `a[i] += by` for a counter array. */
export function bump(a: Writable<number>, i: number, by = 1, what?: string): void {
  const v = a[i];
  if (v === undefined) outOfRange(what ?? 'counter', i, a.length);
  a[i] = v + by;
}

/** The typed arrays of trace columns, row stores, histograms and scanner output. */
type NumberColumn = Float64Array | Uint32Array | Uint16Array | Uint8Array;

/**
 * at() for typed arrays. A function of its own so that the per-request loops
 * that use it see only these few array kinds: V8 keeps an element load it has
 * seen many kinds of (at() on strings, objects and numbers) on a slow path.
 */
export function col(a: NumberColumn, i: number, what?: string): number {
  const v = a[i];
  if (v === undefined) outOfRange(what ?? 'column', i, a.length);
  return v;
}
