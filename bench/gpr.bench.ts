/**
 * GPR fit + predict time for n = 50, 200, 500 training points, ours vs
 * scikit-learn's GaussianProcessRegressor in the same run (same data, same
 * AutoBlox kernel and start, normalize_y, one optimiser start, 200
 * predictions with std), and the log marginal likelihood each reaches.
 * Goal: >= 3x faster at equal or better LML. Median of `GPR_BENCH_REPEATS`
 * (default 3) runs each; scikit-learn's time is measured inside Python
 * around fit + predict only.
 */
import { GaussianProcess } from '../src/gpr/gpr.js';
import { gprDataset, runSklearn, sklearnMissing, type SklearnJob } from './gpr-sklearn.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function run(): Promise<void> {
  const sizes = (process.env.GPR_BENCH_SIZES ?? '50,200,500').split(',').map(Number);
  const repeats = Number(process.env.GPR_BENCH_REPEATS ?? 3);
  const d = 4;
  const missing = sklearnMissing();
  if (missing) console.log(`scikit-learn unavailable (${missing}): ours only`);
  // Warm the JIT so the first size is not charged with compilation.
  for (const n of [40, 40, 40, 100]) {
    const warm = gprDataset(99 + n, n, d, 10);
    new GaussianProcess({ normalizeY: true }).fit(warm.X, warm.y).predict(warm.Xs);
  }
  console.log(
    `d = ${d}, kernel 1e3*RBF(10) + 1e3*RationalQuadratic(1, 1) + WhiteKernel(1e3), normalize_y, 1 optimiser start, 200 predictions; median of ${repeats}`,
  );
  console.log('    n |   ours ms   evals        LML |  sklearn ms        LML | speed-up  dLML');
  for (const n of sizes) {
    const data = gprDataset(n, n, d, 200);
    const times: number[] = [];
    let gp: GaussianProcess | undefined;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      gp = new GaussianProcess({ normalizeY: true }).fit(data.X, data.y);
      gp.predict(data.Xs);
      times.push(performance.now() - t0);
    }
    const ours = median(times);
    let skMs = NaN;
    let skLml = NaN;
    if (!missing) {
      const jobs: SklearnJob[] = Array.from({ length: repeats }, () => ({ ...data, optimize: true, normalize: true }));
      const res = runSklearn(jobs);
      skMs = median(res.map((r) => r.seconds * 1000));
      skLml = res[0]!.lml;
    }
    console.log(
      `${String(n).padStart(5)} | ${ours.toFixed(1).padStart(9)} ${String(gp!.evaluations).padStart(7)} ${gp!.lml.toFixed(4).padStart(10)} | ${skMs.toFixed(1).padStart(11)} ${skLml.toFixed(4).padStart(10)} | ${(skMs / ours).toFixed(2).padStart(7)}x ${(gp!.lml - skLml).toExponential(1).padStart(8)}`,
    );
  }
}
