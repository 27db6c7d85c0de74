/**
 * Covariance kernels for the Gaussian process, with the same definitions and
 * parameterisation as scikit-learn's (so fitted models can be compared):
 * every hyper-parameter is optimised as its natural log, with bounds in log
 * space, and each kernel gives its analytic gradient with respect to those
 * logs.
 *
 * Points are rows of a row-major Float64Array (n x d). Instead of returning
 * one n x n gradient matrix per hyper-parameter, kernels compute
 * `gradDot(W)[p] = sum_ij W_ij dK_ij/dtheta_p` for a symmetric W in a single
 * pass: that contraction is all the log-marginal-likelihood gradient needs,
 * and it avoids allocating p extra n x n matrices.
 */
import { bump } from '../util/at.js';

export type Bounds = readonly [number, number];
/** scikit-learn's default hyper-parameter bounds. */
export const DEFAULT_BOUNDS: Bounds = [1e-5, 1e5];

export interface Kernel {
  /** Number of (log) hyper-parameters. */
  readonly nParams: number;
  /** Natural logs of the hyper-parameters, written into `out` from `at`. */
  getTheta(out: Float64Array, at: number): void;
  setTheta(theta: ArrayLike<number>, at: number): void;
  /** Log-space bounds, appended to `out`. */
  logBounds(out: Array<[number, number]>): void;
  /** Names of the hyper-parameters, appended to `out`. */
  paramNames(out: string[], prefix: string): void;
  /** K(X, X), n x n, full symmetric storage. */
  matrix(X: Float64Array, n: number, d: number): Float64Array;
  /** K(X, Y), nx x ny (for a White kernel: zero, as in scikit-learn, since X and Y are different points). */
  cross(X: Float64Array, nx: number, Y: Float64Array, ny: number, d: number): Float64Array;
  /** diag K(X, X). */
  diag(X: Float64Array, n: number, d: number): Float64Array;
  /** Adds sum_ij W_ij dK_ij/dtheta_p into out[at + p]. W is symmetric n x n. */
  gradDot(X: Float64Array, n: number, d: number, W: Float64Array, out: Float64Array, at: number): void;
  clone(): Kernel;
  /** scikit-learn-like text, for logs and records. */
  toString(): string;
}

/** The current theta of a kernel as a fresh array. */
export function thetaOf(k: Kernel): Float64Array {
  const t = new Float64Array(k.nParams);
  k.getTheta(t, 0);
  return t;
}

export function boundsOf(k: Kernel): Array<[number, number]> {
  const b: Array<[number, number]> = [];
  k.logBounds(b);
  return b;
}

export function namesOf(k: Kernel): string[] {
  const n: string[] = [];
  k.paramNames(n, '');
  return n;
}

const logB = (b: Bounds): [number, number] => [Math.log(b[0]), Math.log(b[1])];
const fmt = (x: number): string => Number(x.toPrecision(3)).toString();

export class ConstantKernel implements Kernel {
  readonly nParams = 1;
  constructor(
    public value = 1,
    readonly bounds: Bounds = DEFAULT_BOUNDS,
  ) {}
  getTheta(out: Float64Array, at: number): void {
    out[at] = Math.log(this.value);
  }
  setTheta(t: ArrayLike<number>, at: number): void {
    this.value = Math.exp(t[at]!);
  }
  logBounds(out: Array<[number, number]>): void {
    out.push(logB(this.bounds));
  }
  paramNames(out: string[], prefix: string): void {
    out.push(`${prefix}constant_value`);
  }
  matrix(_X: Float64Array, n: number): Float64Array {
    return new Float64Array(n * n).fill(this.value);
  }
  cross(_X: Float64Array, nx: number, _Y: Float64Array, ny: number): Float64Array {
    return new Float64Array(nx * ny).fill(this.value);
  }
  diag(_X: Float64Array, n: number): Float64Array {
    return new Float64Array(n).fill(this.value);
  }
  gradDot(_X: Float64Array, n: number, _d: number, W: Float64Array, out: Float64Array, at: number): void {
    let s = 0;
    for (let i = 0; i < n * n; i++) s += W[i]!;
    bump(out, at, s * this.value);
  }
  clone(): Kernel {
    return new ConstantKernel(this.value, this.bounds);
  }
  toString(): string {
    return `${fmt(Math.sqrt(this.value))}**2`;
  }
}

export class WhiteKernel implements Kernel {
  readonly nParams = 1;
  constructor(
    public noise = 1,
    readonly bounds: Bounds = DEFAULT_BOUNDS,
  ) {}
  getTheta(out: Float64Array, at: number): void {
    out[at] = Math.log(this.noise);
  }
  setTheta(t: ArrayLike<number>, at: number): void {
    this.noise = Math.exp(t[at]!);
  }
  logBounds(out: Array<[number, number]>): void {
    out.push(logB(this.bounds));
  }
  paramNames(out: string[], prefix: string): void {
    out.push(`${prefix}noise_level`);
  }
  matrix(_X: Float64Array, n: number): Float64Array {
    const K = new Float64Array(n * n);
    for (let i = 0; i < n; i++) K[i * n + i] = this.noise;
    return K;
  }
  cross(_X: Float64Array, nx: number, _Y: Float64Array, ny: number): Float64Array {
    return new Float64Array(nx * ny);
  }
  diag(_X: Float64Array, n: number): Float64Array {
    return new Float64Array(n).fill(this.noise);
  }
  gradDot(_X: Float64Array, n: number, _d: number, W: Float64Array, out: Float64Array, at: number): void {
    let s = 0;
    for (let i = 0; i < n; i++) s += W[i * n + i]!;
    bump(out, at, s * this.noise);
  }
  clone(): Kernel {
    return new WhiteKernel(this.noise, this.bounds);
  }
  toString(): string {
    return `WhiteKernel(noise_level=${fmt(this.noise)})`;
  }
}

/**
 * Unscaled squared distances between the rows of X, per point set: the
 * optimiser evaluates the likelihood ~100 times on the same X, and the
 * distances are all the isotropic kernels need from it.
 */
const sqdistCache = new WeakMap<Float64Array, { n: number; d: number; D: Float64Array }>();

function sqdist(X: Float64Array, n: number, d: number): Float64Array {
  const hit = sqdistCache.get(X);
  if (hit && hit.n === n && hit.d === d) return hit.D;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = X[i * d + k]! - X[j * d + k]!;
        s += t * t;
      }
      D[i * n + j] = s;
      D[j * n + i] = s;
    }
  }
  sqdistCache.set(X, { n, d, D });
  return D;
}

/**
 * Stationary kernels k(z) of the scaled squared distance
 * z = sum_d (dx_d / l_d)^2: RBF (isotropic or ARD) and RationalQuadratic
 * share the pair loops and differ only in k and its derivatives. The last
 * K(X, X) (and z) is kept so that the gradient pass after a matrix
 * evaluation at the same hyper-parameters needs no exp/pow again.
 */
abstract class Stationary implements Kernel {
  abstract readonly nParams: number;
  private cache: { X: Float64Array; key: string; K: Float64Array; Z: Float64Array | undefined } | undefined;
  /**
   * Length scales: one (isotropic) or one per input dimension (ARD); with
   * `tie`, dimension k uses lengthScale[tie[k]] (the one-hot columns of one
   * categorical parameter share a scale).
   */
  constructor(
    public lengthScale: number[],
    readonly lsBounds: Bounds,
    readonly tie?: readonly number[],
  ) {}
  abstract getTheta(out: Float64Array, at: number): void;
  abstract setTheta(t: ArrayLike<number>, at: number): void;
  abstract logBounds(out: Array<[number, number]>): void;
  abstract paramNames(out: string[], prefix: string): void;
  abstract clone(): Kernel;
  abstract toString(): string;
  /** Identifies the current hyper-parameters (the cache key). */
  protected abstract paramKey(): string;
  /** k as a function of z. */
  protected abstract value(z: number): number;
  /**
   * Adds w * dk/dtheta into g for one pair with kernel value k: `diff2`
   * holds (dx_d / l_d)^2 per dimension for ARD kernels (unused otherwise).
   */
  protected abstract grad(z: number, k: number, diff2: Float64Array, w: number, g: Float64Array): void;

  private get isotropic(): boolean {
    return this.lengthScale.length === 1;
  }

  /** Inverse squared length scale per dimension. */
  private inv2(d: number): Float64Array {
    if (this.tie && this.tie.length !== d) throw new Error(`kernel ties ${this.tie.length} dimensions, points have ${d}`);
    if (!this.isotropic && !this.tie && this.lengthScale.length !== d) {
      throw new Error(`kernel has ${this.lengthScale.length} length scales for ${d}-dimensional points`);
    }
    const out = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      const l = this.isotropic ? this.lengthScale[0]! : this.lengthScale[this.tie ? this.tie[k]! : k]!;
      out[k] = 1 / (l * l);
    }
    return out;
  }

  private z(X: Float64Array, i: number, Y: Float64Array, j: number, d: number, inv2: Float64Array): number {
    let s = 0;
    const a = i * d;
    const b = j * d;
    for (let k = 0; k < d; k++) {
      const t = X[a + k]! - Y[b + k]!;
      s += t * t * inv2[k]!;
    }
    return s;
  }

  /** K(X, X) (cached; callers must not modify it) and, for isotropic kernels, z. */
  private computed(X: Float64Array, n: number, d: number): { K: Float64Array; Z: Float64Array | undefined } {
    const key = this.paramKey();
    if (this.cache && this.cache.X === X && this.cache.key === key && this.cache.K.length === n * n) return this.cache;
    const K = new Float64Array(n * n);
    const k0 = this.value(0);
    let Z: Float64Array | undefined;
    if (this.isotropic) {
      const D = sqdist(X, n, d);
      const inv2 = 1 / (this.lengthScale[0]! * this.lengthScale[0]!);
      Z = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        K[i * n + i] = k0;
        for (let j = 0; j < i; j++) {
          const z = D[i * n + j]! * inv2;
          const v = this.value(z);
          Z[i * n + j] = z;
          K[i * n + j] = v;
          K[j * n + i] = v;
        }
      }
    } else {
      const inv2 = this.inv2(d);
      for (let i = 0; i < n; i++) {
        K[i * n + i] = k0;
        for (let j = 0; j < i; j++) {
          const v = this.value(this.z(X, i, X, j, d, inv2));
          K[i * n + j] = v;
          K[j * n + i] = v;
        }
      }
    }
    this.cache = { X, key, K, Z };
    return this.cache;
  }

  matrix(X: Float64Array, n: number, d: number): Float64Array {
    return Float64Array.from(this.computed(X, n, d).K);
  }

  cross(X: Float64Array, nx: number, Y: Float64Array, ny: number, d: number): Float64Array {
    const inv2 = this.inv2(d);
    const K = new Float64Array(nx * ny);
    for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) K[i * ny + j] = this.value(this.z(X, i, Y, j, d, inv2));
    return K;
  }

  diag(_X: Float64Array, n: number): Float64Array {
    return new Float64Array(n).fill(this.value(0));
  }

  gradDot(X: Float64Array, n: number, d: number, W: Float64Array, out: Float64Array, at: number): void {
    const { K, Z } = this.computed(X, n, d);
    const g = new Float64Array(this.nParams);
    // Pairs i > j only: W and K are symmetric, so each counts twice. The diagonal (z = 0) has zero derivatives.
    if (Z) {
      const none = new Float64Array(0);
      for (let i = 1; i < n; i++) {
        const r = i * n;
        for (let j = 0; j < i; j++) this.grad(Z[r + j]!, K[r + j]!, none, 2 * W[r + j]!, g);
      }
    } else {
      const inv2 = this.inv2(d);
      const diff2 = new Float64Array(d);
      for (let i = 1; i < n; i++) {
        const a = i * d;
        for (let j = 0; j < i; j++) {
          const b = j * d;
          let z = 0;
          for (let k = 0; k < d; k++) {
            const t = X[a + k]! - X[b + k]!;
            const q = t * t * inv2[k]!;
            z += q;
            diff2[k] = q;
          }
          this.grad(z, K[i * n + j]!, diff2, 2 * W[i * n + j]!, g);
        }
      }
    }
    for (let p = 0; p < this.nParams; p++) bump(out, at + p, g[p]!);
  }
}

/** A stationary kernel whose only hyper-parameters are its length scales (one, or one per dimension). */
abstract class LengthScaled extends Stationary {
  get nParams(): number {
    return this.lengthScale.length;
  }
  getTheta(out: Float64Array, at: number): void {
    this.lengthScale.forEach((l, k) => (out[at + k] = Math.log(l)));
  }
  setTheta(t: ArrayLike<number>, at: number): void {
    for (let k = 0; k < this.lengthScale.length; k++) this.lengthScale[k] = Math.exp(t[at + k]!);
  }
  logBounds(out: Array<[number, number]>): void {
    for (let k = 0; k < this.lengthScale.length; k++) out.push(logB(this.lsBounds));
  }
  paramNames(out: string[], prefix: string): void {
    if (this.lengthScale.length === 1) out.push(`${prefix}length_scale`);
    else this.lengthScale.forEach((_, k) => out.push(`${prefix}length_scale[${k}]`));
  }
  protected paramKey(): string {
    return this.lengthScale.join(',');
  }
  protected scalesText(): string {
    return this.lengthScale.length === 1 ? fmt(this.lengthScale[0]!) : `[${this.lengthScale.map(fmt).join(', ')}]`;
  }
}

export class RBF extends LengthScaled {
  /** `lengthScale` as an array makes an ARD kernel (one scale per input dimension). */
  constructor(lengthScale: number | number[] = 1, bounds: Bounds = DEFAULT_BOUNDS) {
    super(Array.isArray(lengthScale) ? [...lengthScale] : [lengthScale], bounds);
  }
  protected value(z: number): number {
    return Math.exp(-0.5 * z);
  }
  protected grad(z: number, k: number, diff2: Float64Array, w: number, g: Float64Array): void {
    // d/dlog l_k exp(-z/2) = exp(-z/2) * (dx_k / l_k)^2; isotropic: k * z
    if (this.lengthScale.length === 1) bump(g, 0, w * k * z);
    else for (let q = 0; q < diff2.length; q++) bump(g, q, w * k * diff2[q]!);
  }
  clone(): Kernel {
    return new RBF(this.lengthScale.length === 1 ? this.lengthScale[0]! : [...this.lengthScale], this.lsBounds);
  }
  toString(): string {
    return `RBF(length_scale=${this.scalesText()})`;
  }
}

export class RationalQuadratic extends Stationary {
  readonly nParams = 2;
  constructor(
    lengthScale = 1,
    public alpha = 1,
    bounds: Bounds = DEFAULT_BOUNDS,
    readonly alphaBounds: Bounds = DEFAULT_BOUNDS,
  ) {
    super([lengthScale], bounds);
  }
  getTheta(out: Float64Array, at: number): void {
    out[at] = Math.log(this.lengthScale[0]!);
    out[at + 1] = Math.log(this.alpha);
  }
  setTheta(t: ArrayLike<number>, at: number): void {
    this.lengthScale[0] = Math.exp(t[at]!);
    this.alpha = Math.exp(t[at + 1]!);
  }
  logBounds(out: Array<[number, number]>): void {
    out.push(logB(this.lsBounds), logB(this.alphaBounds));
  }
  paramNames(out: string[], prefix: string): void {
    out.push(`${prefix}length_scale`, `${prefix}alpha`);
  }
  protected paramKey(): string {
    return `${this.lengthScale[0]},${this.alpha}`;
  }
  protected value(z: number): number {
    // (1 + z / 2a)^-a as exp(-a ln(.)): V8's Math.pow costs 2.5x as much, and this runs n^2/2 times per likelihood evaluation.
    return Math.exp(-this.alpha * Math.log(1 + z / (2 * this.alpha)));
  }
  protected grad(z: number, k: number, _diff2: Float64Array, w: number, g: Float64Array): void {
    const base = 1 + z / (2 * this.alpha);
    bump(g, 0, (w * k * z) / base);
    bump(g, 1, w * k * (-this.alpha * Math.log(base) + z / (2 * base)));
  }
  clone(): Kernel {
    return new RationalQuadratic(this.lengthScale[0]!, this.alpha, this.lsBounds, this.alphaBounds);
  }
  toString(): string {
    return `RationalQuadratic(alpha=${fmt(this.alpha)}, length_scale=${fmt(this.lengthScale[0]!)})`;
  }
}

/**
 * Matérn kernel with nu = 5/2 (scikit-learn's Matern(nu=2.5)): twice
 * differentiable, the usual prior for Bayesian optimisation, where the RBF's
 * infinite smoothness makes the model overconfident between observations.
 * k = (1 + r + r^2/3) exp(-r), r = sqrt(5 z). ARD with an array of length
 * scales; `tie` maps input dimensions onto shared length scales.
 */
export class Matern52 extends LengthScaled {
  constructor(lengthScale: number | number[] = 1, bounds: Bounds = DEFAULT_BOUNDS, tie?: readonly number[]) {
    super(Array.isArray(lengthScale) ? [...lengthScale] : [lengthScale], bounds, tie);
    if (tie && (tie.some((t) => !Number.isInteger(t) || t < 0 || t >= this.lengthScale.length) || this.lengthScale.length === 1)) {
      throw new Error(`Matern52: tie must map dimensions onto 0..${this.lengthScale.length - 1} of several length scales`);
    }
  }
  protected value(z: number): number {
    const r = Math.sqrt(5 * z);
    return (1 + r + (r * r) / 3) * Math.exp(-r);
  }
  protected grad(z: number, _k: number, diff2: Float64Array, w: number, g: Float64Array): void {
    // dk/dlog l_q = (5/3) (1 + r) exp(-r) (dx_q / l_q)^2; isotropic: the same with z.
    const r = Math.sqrt(5 * z);
    const c = w * (5 / 3) * (1 + r) * Math.exp(-r);
    if (this.lengthScale.length === 1) bump(g, 0, c * z);
    else if (this.tie) for (let q = 0; q < diff2.length; q++) bump(g, this.tie[q]!, c * diff2[q]!);
    else for (let q = 0; q < diff2.length; q++) bump(g, q, c * diff2[q]!);
  }
  clone(): Kernel {
    return new Matern52(this.lengthScale.length === 1 ? this.lengthScale[0]! : [...this.lengthScale], this.lsBounds, this.tie);
  }
  toString(): string {
    return `Matern(length_scale=${this.scalesText()}, nu=2.5)`;
  }
}

abstract class Binary implements Kernel {
  readonly nParams: number;
  constructor(
    readonly a: Kernel,
    readonly b: Kernel,
  ) {
    this.nParams = a.nParams + b.nParams;
  }
  getTheta(out: Float64Array, at: number): void {
    this.a.getTheta(out, at);
    this.b.getTheta(out, at + this.a.nParams);
  }
  setTheta(t: ArrayLike<number>, at: number): void {
    this.a.setTheta(t, at);
    this.b.setTheta(t, at + this.a.nParams);
  }
  logBounds(out: Array<[number, number]>): void {
    this.a.logBounds(out);
    this.b.logBounds(out);
  }
  paramNames(out: string[], prefix: string): void {
    this.a.paramNames(out, `${prefix}k1__`);
    this.b.paramNames(out, `${prefix}k2__`);
  }
  abstract matrix(X: Float64Array, n: number, d: number): Float64Array;
  abstract cross(X: Float64Array, nx: number, Y: Float64Array, ny: number, d: number): Float64Array;
  abstract diag(X: Float64Array, n: number, d: number): Float64Array;
  abstract gradDot(X: Float64Array, n: number, d: number, W: Float64Array, out: Float64Array, at: number): void;
  abstract clone(): Kernel;
  abstract toString(): string;
}

/** x + y into x (x is a fresh array the caller owns). */
function add(x: Float64Array, y: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) bump(x, i, y[i]!);
  return x;
}
/** x * c into x (x is a fresh array the caller owns). */
function scale(x: Float64Array, c: number): Float64Array {
  for (const [i, v] of x.entries()) x[i] = v * c;
  return x;
}
/** x * y elementwise into x (x is a fresh array the caller owns). */
function mul(x: Float64Array, y: Float64Array): Float64Array {
  for (const [i, v] of x.entries()) x[i] = v * y[i]!;
  return x;
}

export class Sum extends Binary {
  matrix(X: Float64Array, n: number, d: number): Float64Array {
    return add(this.a.matrix(X, n, d), this.b.matrix(X, n, d));
  }
  cross(X: Float64Array, nx: number, Y: Float64Array, ny: number, d: number): Float64Array {
    return add(this.a.cross(X, nx, Y, ny, d), this.b.cross(X, nx, Y, ny, d));
  }
  diag(X: Float64Array, n: number, d: number): Float64Array {
    return add(this.a.diag(X, n, d), this.b.diag(X, n, d));
  }
  gradDot(X: Float64Array, n: number, d: number, W: Float64Array, out: Float64Array, at: number): void {
    this.a.gradDot(X, n, d, W, out, at);
    this.b.gradDot(X, n, d, W, out, at + this.a.nParams);
  }
  clone(): Kernel {
    return new Sum(this.a.clone(), this.b.clone());
  }
  toString(): string {
    return `${this.a} + ${this.b}`;
  }
}

export class Product extends Binary {
  /** The side that is a ConstantKernel, when one is: c * k needs no constant matrix (AutoBlox's 1e3 * RBF). */
  private scaled(): { c: ConstantKernel; k: Kernel; cFirst: boolean } | undefined {
    if (this.a instanceof ConstantKernel) return { c: this.a, k: this.b, cFirst: true };
    if (this.b instanceof ConstantKernel) return { c: this.b, k: this.a, cFirst: false };
    return undefined;
  }
  matrix(X: Float64Array, n: number, d: number): Float64Array {
    const s = this.scaled();
    if (s) return scale(s.k.matrix(X, n, d), s.c.value);
    return mul(this.a.matrix(X, n, d), this.b.matrix(X, n, d));
  }
  cross(X: Float64Array, nx: number, Y: Float64Array, ny: number, d: number): Float64Array {
    return mul(this.a.cross(X, nx, Y, ny, d), this.b.cross(X, nx, Y, ny, d));
  }
  diag(X: Float64Array, n: number, d: number): Float64Array {
    return mul(this.a.diag(X, n, d), this.b.diag(X, n, d));
  }
  gradDot(X: Float64Array, n: number, d: number, W: Float64Array, out: Float64Array, at: number): void {
    const s = this.scaled();
    if (s) {
      // d(c k)/dlog c = c k; d(c k)/dtheta_k = c dk/dtheta_k.
      const K = s.k.matrix(X, n, d);
      let wk = 0;
      for (let i = 0; i < n * n; i++) wk += W[i]! * K[i]!;
      const g = new Float64Array(s.k.nParams);
      s.k.gradDot(X, n, d, W, g, 0);
      const cAt = s.cFirst ? at : at + this.a.nParams;
      const kAt = s.cFirst ? at + 1 : at;
      bump(out, cAt, s.c.value * wk);
      for (let p = 0; p < g.length; p++) bump(out, kAt + p, s.c.value * g[p]!);
      return;
    }
    // d(ab) = b da + a db, so contract a's gradient with W∘B and b's with W∘A.
    const A = this.a.matrix(X, n, d);
    const B = this.b.matrix(X, n, d);
    this.a.gradDot(X, n, d, mul(B, W), out, at);
    this.b.gradDot(X, n, d, mul(A, W), out, at + this.a.nParams);
  }
  clone(): Kernel {
    return new Product(this.a.clone(), this.b.clone());
  }
  toString(): string {
    const wrap = (k: Kernel): string => (k instanceof Sum ? `(${k})` : String(k));
    return `${wrap(this.a)} * ${wrap(this.b)}`;
  }
}

/** AutoBlox's kernel: 1e3*RBF(10) + 1e3*RationalQuadratic(alpha=1, length_scale=1) + WhiteKernel(1e3). */
export function autobloxKernel(): Kernel {
  return new Sum(
    new Sum(new Product(new ConstantKernel(1e3), new RBF(10)), new Product(new ConstantKernel(1e3), new RationalQuadratic(1, 1))),
    new WhiteKernel(1e3),
  );
}
