/**
 * Dense Cholesky factorisation and solves on row-major Float64Arrays. Own
 * code rather than ml-matrix's CholeskyDecomposition: the GP fit factors an
 * n x n matrix at every likelihood evaluation, and loops over contiguous
 * rows of one flat array are several times faster than ml-matrix's
 * array-of-rows Matrix with its per-element accessors.
 */

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

/** Lower-triangular L with A = L L^T, or undefined when A is not (numerically) positive definite. */
export function cholesky(A: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    const s = A[rj + j]! - dot(L, rj, L, rj, j);
    if (!(s > 0)) return undefined;
    const ljj = Math.sqrt(s);
    L[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      L[ri + j] = (A[ri + j]! - dot(L, ri, L, rj, j)) / ljj;
    }
  }
  return L;
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
 * contiguous rows.
 */
export function choInverse(L: Float64Array, n: number): Float64Array {
  // U[j][i] = (L^{-1})[i][j]: row j of U is column j of L^{-1}.
  const U = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    U[rj + j] = 1 / L[rj + j]!;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      U[rj + i] = -dot(L, ri + j, U, rj + j, i - j) / L[ri + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      const s = dot(U, ri + i, U, rj + i, n - i);
      inv[ri + j] = s;
      inv[rj + i] = s;
    }
  }
  return inv;
}
