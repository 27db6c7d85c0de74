/**
 * Gaussian-process regression (docs/tuning.md), following scikit-learn's
 * GaussianProcessRegressor closely enough that its numbers can be checked
 * against it: `alpha` added to the kernel diagonal, optional y
 * normalisation (normalize_y), hyper-parameters fitted by maximising the
 * log marginal likelihood with analytic gradients and bounded L-BFGS in
 * log space, from the initial kernel plus `restarts` random starts.
 *
 * Beyond scikit-learn: a trainable constant mean. For fixed kernel
 * hyper-parameters the likelihood-maximising constant is the generalised
 * least-squares estimate m = (1'K^-1 y) / (1'K^-1 1), so the mean is
 * profiled out in closed form at every evaluation; by the envelope theorem
 * the gradient with respect to the kernel parameters is unchanged.
 */
import { ERR_GPR } from '../errors.js';
import { Rng } from '../space/rng.js';
import { choInverse, choSolve, cholesky, solveLower } from './cholesky.js';
import { autobloxKernel, boundsOf, thetaOf, type Kernel } from './kernels.js';
import { minimizeBounded, type LbfgsbOptions } from './lbfgsb.js';
import { bump } from '../util/at.js';

export interface GprOptions {
  /** Prior covariance (default: AutoBlox's kernel). Fitting works on a copy. */
  kernel?: Kernel;
  /** Added to the diagonal of K (default 1e-10, scikit-learn's). */
  alpha?: number;
  /** Centre and scale y to unit variance before fitting (scikit-learn's normalize_y). */
  normalizeY?: boolean;
  /** 'zero' (scikit-learn) or 'constant': a trainable constant mean. */
  mean?: 'zero' | 'constant';
  /** Fit the hyper-parameters (default true); false keeps the kernel as given (optimizer=None). */
  optimize?: boolean;
  /** Random restarts of the optimiser besides the start at the given kernel (default 0). */
  restarts?: number;
  seed?: number;
  optimizer?: LbfgsbOptions;
  /**
   * A prior over the log hyper-parameters: the fit maximises LML + log prior
   * (a MAP estimate) instead of the LML alone. `lml` still reports the
   * likelihood. None by default (scikit-learn's maximum likelihood).
   */
  prior?: HyperPrior;
  /**
   * Hyper-parameters an earlier optimising fit found (its `theta`, e.g. on
   * another thread): set as they are and the optimiser skipped, so the fit
   * ends exactly where that one did.
   */
  theta?: Float64Array;
}

/** log p(theta) up to a constant, adding its gradient into `grad`. */
export type HyperPrior = (theta: Float64Array, grad: Float64Array) => number;

/** Independent normal priors on chosen log hyper-parameters: index -> [mean, standard deviation] of the log. */
export function logNormalPrior(terms: ReadonlyMap<number, readonly [number, number]>): HyperPrior {
  return (theta, grad) => {
    let lp = 0;
    for (const [i, [m, sd]] of terms) {
      const u = (theta[i]! - m) / sd;
      lp -= 0.5 * u * u;
      bump(grad, i, -(u / sd));
    }
    return lp;
  };
}

export interface Prediction {
  mean: Float64Array;
  std: Float64Array;
}

interface Factor {
  L: Float64Array;
  /** Extra diagonal added to make K positive definite (0 when none was needed). */
  jitter: number;
}

/** Cholesky of K with increasing jitter on the diagonal until it succeeds (or gives up). */
function factorWithJitter(K: Float64Array, n: number): Factor | undefined {
  let L = cholesky(K, n);
  if (L) return { L, jitter: 0 };
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += K[i * n + i]!;
  meanDiag = Math.abs(meanDiag / n) || 1;
  const Kj = Float64Array.from(K);
  let added = 0;
  for (let jitter = 1e-10 * meanDiag; jitter <= 1e-3 * meanDiag; jitter *= 10) {
    for (let i = 0; i < n; i++) bump(Kj, i * n + i, jitter - added);
    added = jitter;
    L = cholesky(Kj, n);
    if (L) return { L, jitter };
  }
  return undefined;
}

function toFlat(rows: ReadonlyArray<ArrayLike<number>>, what: string): { X: Float64Array; n: number; d: number } {
  const n = rows.length;
  if (n === 0) throw ERR_GPR(`${what}: no points`);
  const d = rows[0]!.length;
  if (d === 0) throw ERR_GPR(`${what}: points have no dimensions`);
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (r.length !== d) throw ERR_GPR(`${what}: row ${i} has ${r.length} values, expected ${d}`);
    for (let k = 0; k < d; k++) {
      const v = r[k]!;
      if (!Number.isFinite(v)) throw ERR_GPR(`${what}: row ${i} column ${k} is ${v}, expected a finite number`);
      X[i * d + k] = v;
    }
  }
  return { X, n, d };
}

export class GaussianProcess {
  readonly opts: Required<Omit<GprOptions, 'kernel' | 'optimizer' | 'prior' | 'theta'>> & {
    optimizer: LbfgsbOptions;
    prior?: HyperPrior;
    theta?: Float64Array;
  };
  /** The kernel with the fitted hyper-parameters (a copy of the prior's). */
  kernel: Kernel;
  /** Log marginal likelihood of the fitted model (on the normalised scale when normalizeY). */
  lml = NaN;
  /** The constant mean (normalised scale); 0 for mean 'zero'. */
  meanValue = 0;
  /** Diagonal jitter the final factorisation needed beyond alpha. */
  jitter = 0;
  /** LML reached from each start, the first being the given kernel. */
  starts: number[] = [];
  /** Likelihood evaluations (kernel matrix factorisations) in the last fit. */
  evaluations = 0;
  /** The log hyper-parameters the optimiser chose in the last fit, exactly (undefined when it did not run). */
  theta: Float64Array | undefined;

  private X: Float64Array = new Float64Array(0);
  private n = 0;
  private d = 0;
  /** Training targets after normalisation. */
  private yTrain: Float64Array = new Float64Array(0);
  private yMean = 0;
  private yStd = 1;
  private L: Float64Array = new Float64Array(0);
  private alphaVec: Float64Array = new Float64Array(0);

  constructor(opts: GprOptions = {}) {
    this.kernel = (opts.kernel ?? autobloxKernel()).clone();
    this.opts = {
      alpha: opts.alpha ?? 1e-10,
      normalizeY: opts.normalizeY ?? false,
      mean: opts.mean ?? 'zero',
      optimize: opts.optimize ?? true,
      restarts: opts.restarts ?? 0,
      seed: opts.seed ?? 1,
      optimizer: opts.optimizer ?? {},
      ...(opts.prior ? { prior: opts.prior } : {}),
      ...(opts.theta ? { theta: opts.theta } : {}),
    };
  }

  fit(rows: ReadonlyArray<ArrayLike<number>>, y: ArrayLike<number>): this {
    const { X, n, d } = toFlat(rows, 'training inputs');
    if (y.length !== n) throw ERR_GPR(`training targets: ${y.length} values for ${n} points`);
    for (let i = 0; i < n; i++) if (!Number.isFinite(y[i]!)) throw ERR_GPR(`training targets: value ${i} is ${y[i]}, expected a finite number`);
    this.X = X;
    this.n = n;
    this.d = d;
    const yy = Float64Array.from(y);
    this.yMean = 0;
    this.yStd = 1;
    if (this.opts.normalizeY) {
      let m = 0;
      for (const v of yy) m += v;
      m /= n;
      let v2 = 0;
      for (const v of yy) v2 += (v - m) * (v - m);
      const sd = Math.sqrt(v2 / n);
      this.yMean = m;
      this.yStd = sd > 10 * Number.EPSILON * Math.max(1, Math.abs(m)) ? sd : 1;
      for (let i = 0; i < n; i++) yy[i] = (yy[i]! - m) / this.yStd;
    }
    this.yTrain = yy;
    this.evaluations = 0;
    this.starts = [];
    this.theta = undefined;
    if (this.opts.theta) this.kernel.setTheta(this.opts.theta, 0);
    else if (this.opts.optimize && this.kernel.nParams > 0) {
      const bounds = boundsOf(this.kernel);
      const rng = new Rng(this.opts.seed);
      const prior = this.opts.prior;
      const objective = (theta: Float64Array, g?: Float64Array): number => {
        const r = this.likelihood(theta, yy, g !== undefined);
        if (!r) return Infinity;
        let f = -r.lml;
        if (prior) {
          const pg = new Float64Array(theta.length);
          f -= prior(theta, pg);
          if (g) for (let p = 0; p < g.length; p++) g[p] = -r.grad[p]! - pg[p]!;
        } else if (g) for (let p = 0; p < g.length; p++) g[p] = -r.grad[p]!;
        return f;
      };
      let best: { theta: Float64Array; f: number } | undefined;
      for (let s = 0; s <= this.opts.restarts; s++) {
        const x0 = s === 0 ? thetaOf(this.kernel) : Float64Array.from(bounds, ([lo, hi]) => lo + rng.next() * (hi - lo));
        const res = minimizeBounded(objective, x0, bounds, this.opts.optimizer);
        this.starts.push(-res.f);
        if (Number.isFinite(res.f) && (!best || res.f < best.f)) best = { theta: res.x, f: res.f };
      }
      if (!best) throw ERR_GPR(`no start of the optimiser reached a finite log marginal likelihood (kernel ${this.kernel}); the inputs may be degenerate`);
      this.kernel.setTheta(best.theta, 0);
      this.theta = best.theta;
    }
    const r = this.likelihood(thetaOf(this.kernel), yy, false);
    if (!r) throw ERR_GPR(`kernel matrix is not positive definite even with jitter (kernel ${this.kernel})`);
    this.lml = r.lml;
    this.L = r.L;
    this.alphaVec = r.alpha;
    this.meanValue = r.mean;
    this.jitter = r.jitter;
    return this;
  }

  /** Log marginal likelihood (and its gradient w.r.t. the log hyper-parameters) of the training data for `theta`. */
  logMarginalLikelihood(theta?: ArrayLike<number>): { lml: number; grad: Float64Array } {
    if (this.n === 0) throw ERR_GPR('logMarginalLikelihood before fit');
    const r = this.likelihood(theta ? Float64Array.from(theta) : thetaOf(this.kernel), this.yTrain, true);
    if (!r) return { lml: -Infinity, grad: new Float64Array(this.kernel.nParams) };
    return { lml: r.lml, grad: r.grad };
  }

  /** The last factorisation, reused when the optimiser asks for the gradient at the point it just evaluated. */
  private lastFactor: { key: string; y: Float64Array; k: Kernel; L: Float64Array; alpha: Float64Array; mean: number; lml: number; jitter: number } | undefined;

  /** K's factor, alpha = K^-1 (y - m), the mean and the LML at theta (undefined where K cannot be factored). */
  private factorAt(
    theta: Float64Array,
    y: Float64Array,
  ): { k: Kernel; L: Float64Array; alpha: Float64Array; mean: number; lml: number; jitter: number } | undefined {
    const key = theta.join(',');
    const c = this.lastFactor;
    if (c && c.key === key && c.y === y) return c;
    this.evaluations++;
    const n = this.n;
    const k = this.kernel.clone();
    k.setTheta(theta, 0);
    const K = k.matrix(this.X, n, this.d);
    for (let i = 0; i < n; i++) bump(K, i * n + i, this.opts.alpha);
    const fac = factorWithJitter(K, n);
    if (!fac) return undefined;
    const { L } = fac;
    let mean = 0;
    let alpha: Float64Array = choSolve(L, n, y);
    if (this.opts.mean === 'constant') {
      const a1 = choSolve(L, n, new Float64Array(n).fill(1));
      let num = 0;
      let den = 0;
      for (let i = 0; i < n; i++) {
        num += a1[i]! * y[i]!;
        den += a1[i]!;
      }
      mean = num / den;
      alpha = alpha.map((v, i) => v - mean * a1[i]!);
    }
    let lml = -0.5 * n * Math.log(2 * Math.PI);
    for (let i = 0; i < n; i++) lml += -0.5 * (y[i]! - mean) * alpha[i]! - Math.log(L[i * n + i]!);
    if (!Number.isFinite(lml)) return undefined;
    this.lastFactor = { key, y, k, L, alpha, mean, lml, jitter: fac.jitter };
    return this.lastFactor;
  }

  private likelihood(
    theta: Float64Array,
    y: Float64Array,
    withGrad: boolean,
  ): { lml: number; grad: Float64Array; L: Float64Array; alpha: Float64Array; mean: number; jitter: number } | undefined {
    const f = this.factorAt(theta, y);
    if (!f) return undefined;
    const { k, L, alpha, mean, lml } = f;
    const n = this.n;
    const grad = new Float64Array(k.nParams);
    if (withGrad) {
      // dLML/dtheta = 0.5 tr((a a' - K^-1) dK/dtheta)
      const W = choInverse(L, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * n + j] = alpha[i]! * alpha[j]! - W[i * n + j]!;
      k.gradDot(this.X, n, this.d, W, grad, 0);
      for (const [p, g] of grad.entries()) grad[p] = g * 0.5;
    }
    return { lml, grad, L, alpha, mean, jitter: f.jitter };
  }

  /**
   * Leave-one-out predictions of the training points in closed form
   * (Rasmussen & Williams eq. 5.12): mean y_i - a_i / [K^-1]_ii and
   * variance 1 / [K^-1]_ii, on the original scale of y. Tells how well the
   * model would have predicted each point without it: a search reads the
   * most recent ones as the model's calibration.
   */
  leaveOneOut(): Prediction {
    if (this.n === 0) throw ERR_GPR('leaveOneOut before fit');
    const n = this.n;
    const Kinv = choInverse(this.L, n);
    const mean = new Float64Array(n);
    const std = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d = Kinv[i * n + i]!;
      mean[i] = (this.yTrain[i]! - this.alphaVec[i]! / d) * this.yStd + this.yMean;
      std[i] = Math.sqrt(1 / d) * this.yStd;
    }
    return { mean, std };
  }

  predict(rows: ReadonlyArray<ArrayLike<number>>): Prediction {
    if (this.n === 0) throw ERR_GPR('predict before fit');
    const { X: Xs, n: m, d } = toFlat(rows, 'prediction inputs');
    if (d !== this.d) throw ERR_GPR(`prediction inputs have ${d} dimensions, the model was fitted on ${this.d}`);
    const n = this.n;
    const Ks = this.kernel.cross(Xs, m, this.X, n, d);
    const prior = this.kernel.diag(Xs, m, d);
    const mean = new Float64Array(m);
    const std = new Float64Array(m);
    const v = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      let mu = 0;
      for (let j = 0; j < n; j++) {
        v[j] = Ks[i * n + j]!;
        mu += v[j]! * this.alphaVec[j]!;
      }
      solveLower(this.L, n, v);
      let q = 0;
      for (let j = 0; j < n; j++) q += v[j]! * v[j]!;
      const variance = Math.max(0, prior[i]! - q);
      mean[i] = (mu + this.meanValue) * this.yStd + this.yMean;
      std[i] = Math.sqrt(variance) * this.yStd;
    }
    return { mean, std };
  }
}
