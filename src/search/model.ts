/**
 * The search's surrogate: a Gaussian process over encoded configurations
 * predicting the objective (grade), refitted as evaluations arrive. The
 * hyper-parameters are re-optimised while data is scarce and every few
 * points after that; in between, the model is re-conditioned on the new
 * data with the last hyper-parameters (the fit dominates the cost). The
 * optimiser runs on the search's thread (plan-thread.ts), off the event loop,
 * when the kernel is the default one that thread can rebuild.
 */
import { GaussianProcess, type GprOptions } from '../gpr/gpr.js';
import { autobloxKernel } from '../gpr/kernels.js';
import { Encoder } from '../space/space.js';
import { fitThetaOffThread } from './plan-thread.js';
import type { ConfigSpace, Configuration } from '../space/types.js';
import type { EvaluationRecord } from './record.js';
import { modelRows } from './model-points.js';

export interface ModelOptions {
  gpr?: Omit<GprOptions, 'seed' | 'optimize' | 'theta'>;
  /** Re-optimise hyper-parameters at every new point up to this many points (default 30)... */
  refitAllUntil?: number;
  /** ...and then every this many new points (default 5). */
  refitEvery?: number;
}

export class GradeModel {
  readonly encoder: Encoder;
  private gp: GaussianProcess | undefined;
  private lastRefitN = 0;
  /** The points the GP is fitted on (modelRows). */
  private X: Float64Array[] = [];
  /** Every successful evaluation, encoded: past MODEL_POINTS a superset of X. */
  private learnedX: Float64Array[] = [];

  constructor(
    readonly space: ConfigSpace,
    private readonly opts: ModelOptions = {},
    private readonly seed = 1,
  ) {
    this.encoder = new Encoder(space);
  }

  get trained(): boolean {
    return this.gp !== undefined;
  }
  get kernelText(): string {
    return this.gp ? String(this.gp.kernel) : '(unfitted)';
  }

  /**
   * Fits on the successful evaluations (modelRows: all of them up to MODEL_POINTS); resolves false (model unusable)
   * when the GP cannot be fitted.
   */
  async fit(learned: readonly EvaluationRecord[]): Promise<boolean> {
    const all = learned.filter((e) => e.status === 'ok');
    if (all.length === 0) return false;
    this.learnedX = all.map((e) => this.encoder.encode(e.config));
    const rows = modelRows(all.map((e) => e.objective!));
    this.X = rows.map((i) => this.learnedX[i]!);
    const y = rows.map((i) => all[i]!.objective!);
    // Counted over every evaluation: the refit schedule and the seed go on past MODEL_POINTS.
    const n = all.length;
    const refit = !this.gp || n <= (this.opts.refitAllUntil ?? 30) || n - this.lastRefitN >= (this.opts.refitEvery ?? 5);
    const base = this.opts.gpr ?? {};
    try {
      const common = {
        normalizeY: base.normalizeY ?? true,
        mean: base.mean ?? 'constant',
        alpha: base.alpha ?? 1e-10,
        restarts: base.restarts ?? 1,
        seed: this.seed + n,
        ...(base.optimizer ? { optimizer: base.optimizer } : {}),
      } as const;
      const theta = refit && !base.kernel ? await fitThetaOffThread(common, this.X, y) : undefined;
      const gp = new GaussianProcess({
        kernel: this.gp && !refit ? this.gp.kernel : (base.kernel ?? autobloxKernel()),
        ...common,
        optimize: refit,
        ...(theta ? { theta } : {}),
      });
      gp.fit(this.X, y);
      this.gp = gp;
      if (refit) this.lastRefitN = n;
      return true;
    } catch {
      // A degenerate data set (e.g. all grades equal and identical points) leaves the previous model in place.
      return this.gp !== undefined;
    }
  }

  predict(cs: readonly Configuration[]): { mean: Float64Array; std: Float64Array } {
    if (!this.gp) throw new Error('GradeModel.predict before a successful fit');
    return this.gp.predict(cs.map((c) => this.encoder.encode(c)));
  }

  /**
   * Exploitation factor: minimum Manhattan distance from each configuration to the learned ones: every successful
   * evaluation, not only the model's points (past MODEL_POINTS a configuration next to one evaluated but left out of
   * the fit is near what the search knows, not far).
   */
  minDistances(cs: readonly Configuration[]): Float64Array {
    return Float64Array.from(cs, (c) => {
      const x = this.encoder.encode(c);
      let m = Infinity;
      for (const l of this.learnedX) m = Math.min(m, this.encoder.distance(x, l));
      return m;
    });
  }
}
