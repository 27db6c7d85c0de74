/**
 * Bound-constrained limited-memory BFGS (a projected L-BFGS in the manner
 * of Bertsekas' projected Newton methods): each iteration fixes the
 * variables that sit on a bound with the gradient pushing outwards, builds
 * the L-BFGS direction on the free ones (two-loop recursion over the last
 * `m` curvature pairs), and searches along the projected path
 * x(t) = P(x + t d) with an Armijo backtracking line search. Stops like
 * SciPy's L-BFGS-B: projected-gradient infinity norm <= pgtol, or a
 * relative decrease of f below factr * machine epsilon.
 */
import { bump } from '../util/at.js';

export interface LbfgsbOptions {
  /** Curvature pairs kept (default 10, SciPy's). */
  m?: number;
  maxIter?: number;
  /** Stop when max_i |P(x - g)_i - x_i| <= pgtol (default 1e-5). */
  pgtol?: number;
  /** Stop when (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= factr * eps (default 1e7, SciPy's). */
  factr?: number;
  /** Backtracking steps per line search (default 30). */
  maxLineSearch?: number;
}

export interface LbfgsbResult {
  x: Float64Array;
  f: number;
  g: Float64Array;
  iterations: number;
  evaluations: number;
  converged: boolean;
  message: string;
}

/**
 * f(x), writing the gradient into g when g is given. Line-search trials ask
 * for f alone and the gradient only once a trial is accepted (at the same x),
 * so an objective whose gradient is costly can skip it for rejected trials.
 * May return Infinity/NaN where f is undefined; the line search backs off.
 */
export type ObjectiveWithGradient = (x: Float64Array, g?: Float64Array) => number;

const EPS = 2.220446049250313e-16;

export function minimizeBounded(
  fg: ObjectiveWithGradient,
  x0: ArrayLike<number>,
  bounds: ReadonlyArray<readonly [number, number]>,
  opts: LbfgsbOptions = {},
): LbfgsbResult {
  const n = x0.length;
  if (bounds.length !== n) throw new Error(`minimizeBounded: ${bounds.length} bounds for ${n} variables`);
  const m = opts.m ?? 10;
  const maxIter = opts.maxIter ?? 15000;
  const pgtol = opts.pgtol ?? 1e-5;
  const ftol = (opts.factr ?? 1e7) * EPS;
  const maxLs = opts.maxLineSearch ?? 30;
  const lo = Float64Array.from(bounds, (b) => b[0]);
  const hi = Float64Array.from(bounds, (b) => b[1]);
  const proj = (v: number, i: number): number => (v < lo[i]! ? lo[i]! : v > hi[i]! ? hi[i]! : v);

  let x = Float64Array.from(x0, proj);
  let g = new Float64Array(n);
  let f = fg(x, g);
  let evaluations = 1;
  if (!Number.isFinite(f)) return { x, f, g, iterations: 0, evaluations, converged: false, message: 'objective not finite at the start point' };

  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const free = new Uint8Array(n);
  const d = new Float64Array(n);
  const alphaBuf = new Float64Array(m);
  let xn = new Float64Array(n);
  let gn = new Float64Array(n);

  const dotFree = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < n; i++) if (free[i]) s += a[i]! * b[i]!;
    return s;
  };

  for (let iter = 0; iter < maxIter; iter++) {
    let pg = 0;
    for (let i = 0; i < n; i++) pg = Math.max(pg, Math.abs(proj(x[i]! - g[i]!, i) - x[i]!));
    if (pg <= pgtol) return { x, f, g, iterations: iter, evaluations, converged: true, message: 'projected gradient below pgtol' };

    for (let i = 0; i < n; i++) free[i] = (x[i]! <= lo[i]! && g[i]! > 0) || (x[i]! >= hi[i]! && g[i]! < 0) ? 0 : 1;

    // Two-loop recursion restricted to the free variables.
    for (let i = 0; i < n; i++) d[i] = free[i] ? g[i]! : 0;
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dotFree(S[k]!, d);
      alphaBuf[k] = a;
      const yk = Y[k]!;
      for (let i = 0; i < n; i++) if (free[i]) bump(d, i, -(a * yk[i]!));
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const yy = dotFree(Y[last]!, Y[last]!);
      const gamma = yy > 0 ? dotFree(S[last]!, Y[last]!) / yy : 1;
      for (const [i, v] of d.entries()) d[i] = v * (gamma > 0 ? gamma : 1);
    }
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dotFree(Y[k]!, d);
      const sk = S[k]!;
      for (let i = 0; i < n; i++) if (free[i]) bump(d, i, (alphaBuf[k]! - b) * sk[i]!);
    }
    for (let i = 0; i < n; i++) d[i] = -d[i]!;
    let gd = 0;
    for (let i = 0; i < n; i++) gd += g[i]! * d[i]!;
    let firstStep = 1;
    if (!(gd < 0) || S.length === 0) {
      // Not a descent direction (stale curvature after the active set changed): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      let dmax = 0;
      for (let i = 0; i < n; i++) {
        d[i] = free[i] ? -g[i]! : 0;
        dmax = Math.max(dmax, Math.abs(d[i]!));
      }
      if (dmax === 0) return { x, f, g, iterations: iter, evaluations, converged: true, message: 'no free descent direction' };
      firstStep = Math.min(1, 1 / dmax);
    }

    // Armijo backtracking on the projected path.
    let t = firstStep;
    let fnew = NaN;
    let accepted = false;
    for (let ls = 0; ls < maxLs; ls++) {
      for (let i = 0; i < n; i++) xn[i] = proj(x[i]! + t * d[i]!, i);
      fnew = fg(xn);
      evaluations++;
      let dec = 0;
      for (let i = 0; i < n; i++) dec += g[i]! * (xn[i]! - x[i]!);
      if (Number.isFinite(fnew) && fnew <= f + 1e-4 * dec) {
        accepted = true;
        fnew = fg(xn, gn);
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      if (S.length > 0) {
        S.length = 0;
        Y.length = 0;
        rho.length = 0;
        continue;
      }
      return { x, f, g, iterations: iter, evaluations, converged: false, message: 'line search found no decrease' };
    }

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      s[i] = xn[i]! - x[i]!;
      y[i] = gn[i]! - g[i]!;
      sy += s[i]! * y[i]!;
      yy += y[i]! * y[i]!;
    }
    // Keep the pair only when the curvature condition holds, so the implicit Hessian stays positive definite.
    if (sy > EPS * yy) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const fold = f;
    [x, xn] = [xn, x];
    [g, gn] = [gn, g];
    f = fnew;
    if ((fold - f) / Math.max(Math.abs(fold), Math.abs(f), 1) <= ftol) {
      return { x, f, g, iterations: iter + 1, evaluations, converged: true, message: 'relative reduction of f below factr*eps' };
    }
  }
  return { x, f, g, iterations: maxIter, evaluations, converged: false, message: 'iteration limit reached' };
}
