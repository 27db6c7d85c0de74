/**
 * Runs scikit-learn's GaussianProcessRegressor (Debian's python3-sklearn at
 * /usr/bin/python3, not a pyenv python that lacks it) on the same data as
 * our GPR, for the cross-check tests and the benchmark. Timing is taken
 * inside Python around fit + predict only, so interpreter start-up and
 * imports are not charged to scikit-learn.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Rng } from '../src/space/rng.js';

export const SKLEARN_PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import json, sys, time
import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, RationalQuadratic, WhiteKernel, Matern, ConstantKernel as C
req = json.load(sys.stdin)
out = []
for job in req:
    X = np.array(job["X"], dtype=float); y = np.array(job["y"], dtype=float); Xs = np.array(job["Xs"], dtype=float)
    if job.get("family") == "matern":
        # [amplitude, length scales..., noise], bounds as given
        k = job["kernel"]; b = job["bounds"]
        kernel = C(k[0], tuple(b[0])) * Matern(length_scale=k[1:-1], length_scale_bounds=tuple(b[1]), nu=2.5) + WhiteKernel(k[-1], tuple(b[2]))
    else:
        k = job.get("kernel", [1e3, 10.0, 1e3, 1.0, 1.0, 1e3])
        kernel = C(k[0]) * RBF(k[1]) + C(k[2]) * RationalQuadratic(alpha=k[4], length_scale=k[3]) + WhiteKernel(k[5])
    gp = GaussianProcessRegressor(kernel=kernel, optimizer="fmin_l_bfgs_b" if job["optimize"] else None,
                                  normalize_y=job["normalize"], n_restarts_optimizer=job.get("restarts", 0), random_state=0)
    t0 = time.perf_counter()
    gp.fit(X, y)
    mean, std = gp.predict(Xs, return_std=True)
    t1 = time.perf_counter()
    lml = gp.log_marginal_likelihood_value_
    out.append({"mean": mean.tolist(), "std": std.tolist(), "lml": float(lml), "theta": gp.kernel_.theta.tolist(),
                "kernel": str(gp.kernel_), "seconds": t1 - t0})
json.dump(out, sys.stdout)
`;

export interface SklearnJob {
  X: number[][];
  y: number[];
  Xs: number[][];
  optimize: boolean;
  normalize: boolean;
  restarts?: number;
  /**
   * AutoBlox family (default): [c1, rbf length, c2, rq length, rq alpha, noise], default AutoBlox's.
   * 'matern': C * Matern(ARD, nu=2.5) + White as [amplitude, length scales..., noise] with `bounds`.
   */
  kernel?: number[];
  family?: 'autoblox' | 'matern';
  /** 'matern' only: [amplitude, length scale, noise] bounds. */
  bounds?: Array<[number, number]>;
}
export interface SklearnResult {
  mean: number[];
  std: number[];
  lml: number;
  theta: number[];
  kernel: string;
  seconds: number;
}

/** Why scikit-learn cannot be used here, or undefined when it can. */
export function sklearnMissing(): string | undefined {
  if (!existsSync(SKLEARN_PYTHON)) return `${SKLEARN_PYTHON} not found`;
  try {
    execFileSync(SKLEARN_PYTHON, ['-c', 'import sklearn.gaussian_process'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `scikit-learn is not importable by ${SKLEARN_PYTHON} (apt install python3-sklearn)`;
  }
}

export function runSklearn(jobs: SklearnJob[]): SklearnResult[] {
  const out = execFileSync(SKLEARN_PYTHON, ['-c', SCRIPT], {
    input: JSON.stringify(jobs),
    maxBuffer: 256 * 1024 * 1024,
    // Warnings about convergence go to stderr; keep them out of the JSON.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(out.toString()) as SklearnResult[];
}

/**
 * Generated regression data shared by the cross-check tests and the
 * benchmark: points uniform in [0,10]^d, a smooth trend plus uniform noise,
 * on a scale where AutoBlox's 1e3 amplitudes are sensible.
 */
export function gprDataset(seed: number, n: number, d: number, nTest: number): { X: number[][]; y: number[]; Xs: number[][] } {
  const rng = new Rng(seed);
  const pt = (): number[] => Array.from({ length: d }, () => rng.next() * 10);
  const f = (x: number[]): number => 20 * Math.sin(x[0]!) + 10 * Math.cos((x[1] ?? 0) / 2) + x.reduce((a, b) => a + b, 0) + 2 * (rng.next() - 0.5);
  const X = Array.from({ length: n }, pt);
  return { X, y: X.map(f), Xs: Array.from({ length: nTest }, pt) };
}
