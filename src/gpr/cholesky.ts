/**
 * Dense Cholesky factorisation and solves on row-major Float64Arrays. Own
 * code rather than ml-matrix's CholeskyDecomposition: the GP fit factors an
 * n x n matrix at every likelihood evaluation, and loops over contiguous
 * rows of one flat array are several times faster than ml-matrix's
 * array-of-rows Matrix with its per-element accessors. The two O(n^3) steps
 * (factor, inverse) are native; the O(n^2) solves stay here.
 */
import { ERR_NATIVE } from '../errors.js';
import { native } from '../native.js';

/** sum_k A[a+k] B[b+k] for k < len, with four accumulators so the loop pipelines (about 2x over a plain loop in V8). */
function dot(A: Float64Array, a: number, B: Float64Array, b: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += A[a + k]! * B[b + k]!;
    s1 += A[a + k + 1]! * B[b + k + 1]!;
    s2 += A[a + k + 2]! * B[b + k + 2]!;
    s3 += A[a + k + 3]! * B[b + k + 3]!;
  }
  for (; k < len; k++) s0 += A[a + k]! * B[b + k]!;
  return s0 + s1 + (s2 + s3);
}

interface LinalgAddon {
  choleskyInto(A: Float64Array, n: number, L: Float64Array): boolean;
  choInverseInto(L: Float64Array, n: number, out: Float64Array): void;
}
let linalg: LinalgAddon | undefined;
function addon(): LinalgAddon {
  if (linalg) return linalg;
  const a = native() as Partial<LinalgAddon>;
  if (typeof a.choleskyInto !== 'function' || typeof a.choInverseInto !== 'function') {
    throw ERR_NATIVE('build/Release/ssdtune_native.node has no choleskyInto/choInverseInto (stale build?): run `npm run build:native`');
  }
  return (linalg = a as LinalgAddon);
}

/**
 * Lower-triangular L with A = L L^T (row-major, upper triangle zero), or
 * undefined when A is not (numerically) positive definite. Left-looking, by
 * rows: L[i][j] = (A[i][j] - <row i, row j>) / L[j][j] over k < j. O(n^3):
 * native (native/src/linalg.cc), the cost of every likelihood evaluation of the fit.
 */
export function cholesky(A: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  return addon().choleskyInto(A, n, L) ? L : undefined;
}

/** Solves L z = b in place (forward substitution). */
export function solveLower(L: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    b[i] = (b[i]! - dot(L, ri, b, 0, i)) / L[ri + i]!;
  }
  return b;
}

/** Solves L^T x = z in place (back substitution). */
export function solveUpperT(L: Float64Array, n: number, z: Float64Array): Float64Array {
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * z[k]!;
    z[i] = s / L[i * n + i]!;
  }
  return z;
}

/** A^{-1} b given A's Cholesky factor (a new array). */
export function choSolve(L: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  return solveUpperT(L, n, solveLower(L, n, Float64Array.from(b)));
}

/**
 * A^{-1} (full symmetric storage) from A's Cholesky factor, as
 * U U^T with U = L^{-T} stored row-major so every inner loop runs along
 * contiguous rows. O(n^3): native (native/src/linalg.cc).
 */
export function choInverse(L: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  addon().choInverseInto(L, n, inv);
  return inv;
}
