/**
 * Confirming a measured gain before it is kept.
 *
 * A search on a measured evaluator (live replay) keeps the best of N noisy
 * measurements, and the best of N is biased upwards (the winner's curse). The
 * baseline is also measured first, when the layers below the device (a VM's
 * disk cache, an SSD's own) are coldest. On a loop device, a 12-evaluation
 * live tune graded its best 1.081 (x2.9) against a baseline measured at
 * 415 us, while the same candidates measured 140-290 us on re-measurement and
 * a second identical tune found nothing better than the baseline.
 *
 * So the search's best is measured again against the baseline, in rounds of
 * one measurement of each in alternating order (baseline first, then the
 * candidate first: a slow drift of the device or of the machine's load
 * affects both alike), and each round gives one paired grade. The gain holds
 * when the one-sided 95% lower confidence bound of the mean paired grade
 * (Student's t) is above zero.
 */
import type { EvaluateOptions, Evaluator, Metrics, WorkloadRef } from '../evaluators/types.js';
import { distinctHeld } from '../blockdev/sysfs.js';
import type { Configuration } from '../space/types.js';
import { grade } from './grade.js';

/** Rounds a confirmation may take: at least 2 (a spread needs two), at most 20. */
export const CONFIRM_ROUNDS = { min: 2, max: 20, default: 4 } as const;

/** Student's t, one-sided 95%, by degrees of freedom 1..19 (scipy.stats.t.ppf(0.95, df); test/confirm.test.ts checks). */
export const T95: readonly number[] = [
  6.314, 2.92, 2.353, 2.132, 2.015, 1.943, 1.895, 1.86, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.74, 1.734, 1.729,
];

export interface Confirmation {
  rounds: number;
  /** The candidate's grade against the baseline in each round. */
  grades: number[];
  /** Their mean: the grade kept for the candidate. */
  grade: number;
  /** One-sided 95% lower confidence bound of the mean. */
  low: number;
  /** low > 0: the gain holds. */
  holds: boolean;
  /** Geometric means over the rounds (grade(candidate, baseline) of these is `grade`). */
  candidate: Metrics;
  baseline: Metrics;
}

/**
 * The geometric mean of each figure every measurement has: the grade is a mean of logarithms. What the measurements
 * held beside the configuration (live) stays with them: it is part of what was measured.
 */
function geometricMean(ms: readonly Metrics[]): Metrics {
  const g = (f: (m: Metrics) => number): number => Math.exp(ms.reduce((s, m) => s + Math.log(f(m)), 0) / ms.length);
  const held = distinctHeld(ms.map((m) => m.held));
  return { latencyMeanUs: g((m) => m.latencyMeanUs), throughputBps: g((m) => m.throughputBps), iops: g((m) => m.iops), ...(held.length ? { held } : {}) };
}

export function summarise(grades: readonly number[], candidate: readonly Metrics[], baseline: readonly Metrics[]): Confirmation {
  const n = grades.length;
  if (n < CONFIRM_ROUNDS.min || n > CONFIRM_ROUNDS.max)
    throw new RangeError(`confirmation rounds: ${n}, expected ${CONFIRM_ROUNDS.min}..${CONFIRM_ROUNDS.max}`);
  const mean = grades.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(grades.reduce((s, g) => s + (g - mean) ** 2, 0) / (n - 1));
  const low = mean - T95[n - 2]! * (sd / Math.sqrt(n));
  return { rounds: n, grades: [...grades], grade: mean, low, holds: low > 0, candidate: geometricMean(candidate), baseline: geometricMean(baseline) };
}

/**
 * Measures `candidate` against `baseline` in `rounds` alternating rounds. An
 * evaluation that fails fails the confirmation (the device or the replay is
 * broken: nothing can be said about either).
 */
export async function confirmGain(
  evaluator: Evaluator,
  workload: WorkloadRef,
  baseline: Configuration,
  candidate: Configuration,
  rounds: number,
  o: EvaluateOptions & { onRound?: (done: number, c: { grade: number }) => void } = {},
): Promise<Confirmation> {
  const eo: EvaluateOptions = o.signal ? { signal: o.signal } : {};
  const grades: number[] = [];
  const cand: Metrics[] = [];
  const base: Metrics[] = [];
  for (let r = 0; r < rounds; r++) {
    let b: Metrics;
    let c: Metrics;
    if (r % 2 === 0) {
      b = await evaluator.evaluate(baseline, workload, eo);
      c = await evaluator.evaluate(candidate, workload, eo);
    } else {
      c = await evaluator.evaluate(candidate, workload, eo);
      b = await evaluator.evaluate(baseline, workload, eo);
    }
    base.push(b);
    cand.push(c);
    grades.push(grade(c, b));
    o.onRound?.(r + 1, { grade: grades[r]! });
  }
  return summarise(grades, cand, base);
}
