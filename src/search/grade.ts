/**
 * The grade (LearnedSSD/AutoBlox; docs/tuning.md):
 *   grade = (1 - a) ln(latency speedup) + a ln(throughput speedup), a = 0.5,
 * relative to the baseline configuration's metrics on the same workload, so
 * the baseline grades 0 and a configuration twice as fast on both grades
 * ln 2. Non-target workloads must keep >= 0.9x the baseline's performance.
 */
import type { Metrics } from '../evaluators/types.js';

export const DEFAULT_GRADE_ALPHA = 0.5;
export const DEFAULT_MIN_OTHER_RATIO = 0.9;

/** Why metrics cannot be graded, or undefined when they can (positive, finite latency and throughput). */
export function badMetrics(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return `expected a metrics object, got ${m === null ? 'null' : typeof m}`;
  const { latencyMeanUs, throughputBps } = m as Partial<Metrics>;
  if (typeof latencyMeanUs !== 'number' || !Number.isFinite(latencyMeanUs) || latencyMeanUs <= 0)
    return `latencyMeanUs is ${latencyMeanUs}, expected a positive finite number`;
  if (typeof throughputBps !== 'number' || !Number.isFinite(throughputBps) || throughputBps <= 0)
    return `throughputBps is ${throughputBps}, expected a positive finite number`;
  return undefined;
}

export interface Speedups {
  /** baseline latency / latency: > 1 is faster. */
  latency: number;
  /** throughput / baseline throughput. */
  throughput: number;
}

export function speedups(m: Metrics, base: Metrics): Speedups {
  return { latency: base.latencyMeanUs / m.latencyMeanUs, throughput: m.throughputBps / base.throughputBps };
}

export function grade(m: Metrics, base: Metrics, a = DEFAULT_GRADE_ALPHA): number {
  const s = speedups(m, base);
  return (1 - a) * Math.log(s.latency) + a * Math.log(s.throughput);
}

/** The worst ratio (either speedup) over the non-target workloads; 1 when there are none. */
export function otherRatio(others: readonly Metrics[], bases: readonly Metrics[]): number {
  let r = 1;
  others.forEach((m, i) => {
    const s = speedups(m, bases[i]!);
    r = Math.min(r, s.latency, s.throughput);
  });
  return r;
}

/**
 * What the search maximises: the grade, minus a penalty when a non-target
 * workload falls below `minRatio` of its baseline. The penalty grows with the
 * shortfall (10 ln(minRatio / ratio)), so the model still learns which way
 * is less bad, and any acceptable configuration with a grade above that of
 * an unacceptable one by less than the penalty wins.
 */
export function objective(g: number, ratio: number, minRatio = DEFAULT_MIN_OTHER_RATIO): number {
  return ratio >= minRatio ? g : g - 10 * Math.log(minRatio / ratio);
}
