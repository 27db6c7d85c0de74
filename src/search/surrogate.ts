/**
 * The adaptive search's surrogate: a Gaussian process over encoded
 * configurations with a Matérn 5/2 kernel, one length scale per parameter
 * group (automatic relevance determination at the level of the groups: the
 * parameters of one group, and the one-hot columns of a categorical one,
 * share theirs; a space without groups has one length scale for all), a
 * fitted amplitude, a constant mean and a noise term.
 *
 * A group whose length scale grows long hardly moves the prediction: the
 * fitted scales are the search's screening of which groups matter for this
 * workload (after a prior on the scales keeps a handful of points from
 * declaring a group flat merely because they did not vary it).
 *
 * Why groups, not parameters: a search of 20 evaluations cannot identify a
 * length scale per parameter. On Hartmann-6 (six parameters, all relevant,
 * no groups) one scale per parameter let the fit call parameters flat that
 * the points had merely not varied, and the search stopped moving them
 * (best grade within 20 evaluations, median of seeds 1-30: 73.4% of the
 * best with one scale per parameter, 76.2% with one shared scale, 84.4%
 * with the one-point design of adaptive.ts as well). On the ssd space, whose
 * screening design moves one group at a time, the tied scales lose nothing
 * (within 20, seeds 1-10: msnfs 95.4%, oltp 99.6%, against 93.8% and 98.2%).
 */
import { GaussianProcess, logNormalPrior } from '../gpr/gpr.js';
import { ConstantKernel, Matern52, Product, Sum, WhiteKernel, thetaOf, type Kernel } from '../gpr/kernels.js';
import { Encoder } from '../space/space.js';
import type { ConfigSpace, Configuration } from '../space/types.js';

/** Length-scale bounds in encoded units (a parameter's whole range is 1): shorter than 1/50 is noise, longer than 50 is flat. */
const LS_BOUNDS: [number, number] = [0.02, 50];
const AMP_BOUNDS: [number, number] = [0.05, 20];
const NOISE_BOUNDS: [number, number] = [1e-6, 0.5];

export interface Observation {
  config: Configuration;
  /** The objective (higher is better). */
  y: number;
}

/**
 * Objectives to the model's scale: standardised after clipping the low tail
 * at three interquartile ranges below the lower quartile, so one
 * configuration that is 30x worse than the rest (an overloaded simulated
 * device) does not flatten the model everywhere else, while the differences
 * among good configurations keep their size (a rank transform would lose
 * them, and they are what the last evaluations of a search resolve).
 */
export function robustScale(ys: readonly number[]): { z: Float64Array; toZ: (y: number) => number } {
  // Quartiles of the distinct values: configurations that differ only in parameters with no effect repeat
  // one value (often the baseline's 0) many times, which makes the interquartile range 0; nothing would be
  // clipped and one overloaded configuration would set the whole scale (the ssd space's small searches).
  const s = [...new Set(ys)].sort((a, b) => a - b);
  const q = (f: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(f * (s.length - 1))))]!;
  const iqr = q(0.75) - q(0.25);
  const floor = iqr > 0 ? q(0.25) - 3 * iqr : -Infinity;
  const clipped = ys.map((y) => Math.max(floor, y));
  const m = clipped.reduce((a, b) => a + b, 0) / clipped.length;
  const sd = Math.sqrt(clipped.reduce((a, b) => a + (b - m) ** 2, 0) / clipped.length) || 1;
  const toZ = (y: number): number => (Math.max(floor, y) - m) / sd;
  return { z: Float64Array.from(ys, toZ), toZ };
}

export interface SurrogateOptions {
  /** Random restarts of the hyper-parameter optimiser besides the default start (default 2). */
  restarts?: number;
  seed?: number;
  /** Standard deviation of the log-normal prior on each length scale, in e-folds (default 1; 0: maximum likelihood). */
  lengthScalePriorSd?: number;
  /** Median of that prior, in encoded units (default 0.5). */
  lengthScalePriorMedian?: number;
}

export class Surrogate {
  readonly encoder: Encoder;
  /** Parameter index -> its group's length scale. */
  private readonly groupOf: number[];
  /** Encoded dimension -> length scale (the tie of the ARD kernel). */
  private readonly tie: number[];
  /** Length scales: one per group of parameters. */
  private readonly scales: number;
  private gp: GaussianProcess | undefined;
  private X: Float64Array[] = [];
  private z: Float64Array = new Float64Array(0);
  /** Objective -> model scale. */
  toZ: (y: number) => number = (y) => y;
  /** Best observed value on the model scale. */
  bestZ = -Infinity;

  constructor(readonly space: ConfigSpace) {
    this.encoder = new Encoder(space);
    const groups = [...new Set(space.params.map((p) => p.group ?? ''))];
    this.groupOf = space.params.map((p) => groups.indexOf(p.group ?? ''));
    this.tie = this.encoder.owner.map((pi) => this.groupOf[pi]!);
    this.scales = groups.length;
  }

  get fitted(): boolean {
    return this.gp !== undefined;
  }

  get kernel(): Kernel | undefined {
    return this.gp?.kernel;
  }

  /** The kernel the fit starts from: unit amplitude, length scale 0.5 for every group, little noise. */
  private prior(): Kernel {
    const g = this.scales;
    const matern = g === 1 ? new Matern52(0.5, LS_BOUNDS) : new Matern52(new Array(g).fill(0.5), LS_BOUNDS, this.tie);
    return new Sum(new Product(new ConstantKernel(1, AMP_BOUNDS), matern), new WhiteKernel(1e-3, NOISE_BOUNDS));
  }

  /** Fits on the observations; false when there are too few (fewer than 2 distinct values) to learn anything. */
  fit(obs: readonly Observation[], opts: SurrogateOptions = {}): boolean {
    if (obs.length < 2 || new Set(obs.map((o) => o.y)).size < 2) {
      this.gp = undefined;
      return false;
    }
    const { z, toZ } = robustScale(obs.map((o) => o.y));
    this.X = obs.map((o) => this.encoder.encode(o.config));
    this.z = z;
    this.toZ = toZ;
    this.bestZ = Math.max(...z);
    // Log-normal prior on the length scales around 0.5 (one e-fold per standard deviation): with a handful
    // of points, maximum likelihood alone calls a parameter flat merely because the points did not vary it.
    const sd = opts.lengthScalePriorSd ?? 1;
    const terms = new Map<number, [number, number]>(Array.from({ length: this.scales }, (_, i) => [1 + i, [Math.log(opts.lengthScalePriorMedian ?? 0.5), sd]]));
    const gp = new GaussianProcess({
      kernel: this.prior(),
      normalizeY: false,
      mean: 'constant',
      alpha: 1e-8,
      restarts: opts.restarts ?? 2,
      seed: opts.seed ?? 1,
      optimizer: { maxIter: 200 },
      ...(sd > 0 ? { prior: logNormalPrior(terms) } : {}),
    });
    gp.fit(this.X, z);
    this.gp = gp;
    return true;
  }

  /**
   * The same model conditioned on extra points at the given model-scale
   * values, hyper-parameters kept: the constant liar of batch proposals.
   */
  withLies(points: readonly Configuration[], zs: readonly number[]): Surrogate {
    if (!this.gp) throw new Error('Surrogate.withLies before fit');
    const s = new Surrogate(this.space);
    s.X = [...this.X, ...points.map((c) => this.encoder.encode(c))];
    s.z = Float64Array.from([...this.z, ...zs]);
    s.toZ = this.toZ;
    s.bestZ = this.bestZ;
    s.gp = new GaussianProcess({ kernel: this.gp.kernel, normalizeY: false, mean: 'constant', alpha: 1e-8, optimize: false }).fit(s.X, s.z);
    return s;
  }

  /** Leave-one-out predictions of the observations (model scale), beside the observed values. */
  leaveOneOut(): { z: Float64Array; mean: Float64Array; std: Float64Array } {
    if (!this.gp) throw new Error('Surrogate.leaveOneOut before fit');
    return { z: this.z, ...this.gp.leaveOneOut() };
  }

  /** Mean and standard deviation on the model scale. */
  predict(cs: readonly Configuration[]): { mean: Float64Array; std: Float64Array } {
    if (!this.gp) throw new Error('Surrogate.predict before fit');
    return this.gp.predict(cs.map((c) => this.encoder.encode(c)));
  }

  /**
   * Relevance of each parameter: 1 / its group's length scale, scaled so the
   * most relevant is 1. A group at the upper bound of its scale is flat.
   */
  relevance(): Map<string, number> {
    const ls = this.lengthScales();
    const top = Math.max(...ls.map((l) => 1 / l));
    return new Map(this.space.params.map((p, i) => [p.name, 1 / ls[i]! / top]));
  }

  /** Fitted length scale of each parameter (its group's; encoded units). */
  lengthScales(): number[] {
    if (!this.gp) return this.space.params.map(() => 0.5);
    // Layout: [amplitude, length scales (one per group)..., noise].
    const theta = thetaOf(this.gp.kernel);
    return this.groupOf.map((g) => Math.exp(theta[1 + g]!));
  }

  /** Noise variance on the model scale. */
  noise(): number {
    if (!this.gp) return 0;
    const theta = thetaOf(this.gp.kernel);
    return Math.exp(theta[1 + this.scales]!);
  }
}
