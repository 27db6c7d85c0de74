/**
 * Analytic benchmark functions as evaluators, for testing and
 * benchmarking the searchers on problems with a known optimum (Branin,
 * Hartmann-6), mapped onto integer and ordinal parameter spaces.
 *
 * A function value f (to minimise, known minimum f*) is reported as a
 * latency of 1 + (f - f*) microseconds and the matching throughput, so the
 * grade (docs/tuning.md) is ln(latency_baseline / latency): maximising
 * the grade minimises f, and the true optimum has latency exactly 1.
 */
import type { Evaluator, Metrics, WorkloadRef } from '../evaluators/types.js';
import { emptyMeta, sourceFromBatches } from '../trace/model.js';
import { defineSpace } from '../space/space.js';
import type { ConfigSpace, Configuration } from '../space/types.js';

export interface AnalyticProblem {
  space: ConfigSpace;
  /** The function at a configuration. */
  f(c: Configuration): number;
  /** Its global minimum over the continuous domain. */
  fmin: number;
}

export const BRANIN_MIN = 0.39788735772973816;

export function branin(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

/** Branin on x1 = -5 + 0.25 i (int i in 0..60) and x2 in an ordinal list 0, 0.25, ..., 15. */
export function braninProblem(): AnalyticProblem {
  const x2Values = Array.from({ length: 61 }, (_, i) => i * 0.25);
  const space = defineSpace({
    name: 'branin',
    params: [
      { name: 'i1', kind: 'int', min: 0, max: 60, default: 30, description: 'x1 = -5 + 0.25 i1' },
      { name: 'x2', kind: 'ordinal', values: x2Values, default: 7.5 },
    ],
  });
  return { space, fmin: BRANIN_MIN, f: (c) => branin(-5 + 0.25 * (c.i1 as number), c.x2 as number) };
}

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((r) => r.map((v) => v * 1e-4));
export const HARTMANN6_MIN = -3.322368011391339;

export function hartmann6(x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < 6; j++) e += H_A[i]![j]! * (x[j]! - H_P[i]![j]!) ** 2;
    s += H_ALPHA[i]! * Math.exp(-e);
  }
  return -s;
}

/** Hartmann-6 on a 0.05 grid: x1..x3 as ints 0..20 (x = i/20), x4..x6 as ordinal lists 0, 0.05, ..., 1. */
export function hartmann6Problem(): AnalyticProblem {
  const values = Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100);
  const space = defineSpace({
    name: 'hartmann6',
    params: [
      ...[1, 2, 3].map((k) => ({ name: `i${k}`, kind: 'int' as const, min: 0, max: 20, default: 10, description: `x${k} = i${k} / 20` })),
      ...[4, 5, 6].map((k) => ({ name: `x${k}`, kind: 'ordinal' as const, values, default: 0.5 })),
    ],
  });
  return { space, fmin: HARTMANN6_MIN, f: (c) => hartmann6(hartmann6Point(c)) };
}

/** A configuration of hartmann6Problem's space as the point of the unit cube it stands for. */
export function hartmann6Point(c: Configuration): number[] {
  return [(c.i1 as number) / 20, (c.i2 as number) / 20, (c.i3 as number) / 20, c.x4 as number, c.x5 as number, c.x6 as number];
}

export function metricsFromValue(f: number, fmin: number): Metrics {
  const latencyMeanUs = 1 + (f - fmin);
  return { latencyMeanUs, throughputBps: 1e6 / latencyMeanUs, iops: 1e6 / latencyMeanUs };
}

export class AnalyticEvaluator implements Evaluator {
  readonly name: string;
  readonly space: string;
  /** Evaluations performed. */
  calls = 0;
  constructor(readonly problem: AnalyticProblem) {
    this.name = `analytic:${problem.space.name}`;
    this.space = problem.space.name;
  }
  async evaluate(config: Configuration): Promise<Metrics> {
    this.calls++;
    return metricsFromValue(this.problem.f(config), this.problem.fmin);
  }
}

/** An analytic evaluator needs no trace; this workload opens an empty one. */
export function analyticWorkload(name: string): WorkloadRef {
  return { name, open: async () => sourceFromBatches(emptyMeta(name, 'analytic'), []) };
}
