/**
 * Open-set calibration: the distance at or below which a query is a known
 * workload, and how sure an answer is.
 *
 * Both are fitted on leave-one-source-out outcomes (evaluation.ts): distances
 * of queries about workloads the network never trained on. "Positives" are
 * same-workload queries whose nearest stored workload is the right one;
 * "negatives" are queries whose nearest is wrong: every query of a source
 * absent from the store, and same-workload queries nearest to another
 * workload (accepting either is a false "known").
 *
 * The threshold errs towards "new": among thresholds that reject at least
 * `minRejection` of the negatives, the one that accepts the most positives
 * (the lowest such one on ties). Reusing another workload's configuration
 * costs more than learning one anew.
 */
import { ERR_ML_DEGENERATE } from '../errors.js';

export interface Threshold {
  threshold: number;
  /** Share of positives accepted (d <= threshold). */
  acceptance: number;
  /** Share of negatives rejected (d > threshold). */
  rejection: number;
}

export function calibrateThreshold(positives: readonly number[], negatives: readonly number[], minRejection: number): Threshold {
  if (positives.length === 0) throw ERR_ML_DEGENERATE('no same-workload queries to calibrate the threshold on');
  const pos = positives.slice().sort((a, b) => a - b);
  const neg = negatives.slice().sort((a, b) => a - b);
  if (neg.length === 0) throw ERR_ML_DEGENERATE('no new-workload queries to calibrate the threshold on (at least two sources are needed)');
  // Candidates: midway between neighbouring observed distances, and below the smallest.
  const all = [...pos, ...neg].sort((a, b) => a - b);
  const cands = [all[0]! / 2, ...all.map((d, i) => (i + 1 < all.length ? (d + all[i + 1]!) / 2 : d * 1.01))];
  const below = (s: number[], t: number) => {
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let best: Threshold | undefined;
  for (const t of cands) {
    const rejection = 1 - below(neg, t) / neg.length;
    if (rejection < minRejection) continue;
    const acceptance = below(pos, t) / pos.length;
    if (!best || acceptance > best.acceptance) best = { threshold: t, acceptance, rejection };
  }
  // cands[0] rejects every negative, so some candidate always qualifies.
  return { ...best!, threshold: Math.max(best!.threshold, 1e-9) };
}

/**
 * P(the nearest stored workload is the query's own | distance d), a logistic
 * curve in ln d: p = 1 / (1 + exp(-(intercept + slope ln d))). Fitted by
 * Newton's method with positives and negatives weighted equally in total, so
 * it assumes a query is as likely to be about a known workload as about a new
 * one; a store where most queries are new would make "known" less likely
 * than it says.
 */
export interface ConfidenceCurve {
  intercept: number;
  slope: number;
}

export function fitConfidence(positives: readonly number[], negatives: readonly number[]): ConfidenceCurve {
  if (positives.length === 0 || negatives.length === 0) throw ERR_ML_DEGENERATE('the confidence curve needs same-workload and new-workload queries');
  const x = [...positives, ...negatives].map((d) => Math.log(Math.max(d, 1e-9)));
  const y = [...positives.map(() => 1), ...negatives.map(() => 0)];
  const w = [...positives.map(() => 0.5 / positives.length), ...negatives.map(() => 0.5 / negatives.length)];
  let a = 0;
  let b = 0;
  // A small ridge keeps the fit finite when the classes separate completely.
  const ridge = 1e-4;
  for (let it = 0; it < 100; it++) {
    let ga = 0;
    let gb = -ridge * b;
    let haa = 0;
    let hab = 0;
    let hbb = ridge;
    for (let i = 0; i < x.length; i++) {
      const p = 1 / (1 + Math.exp(-(a + b * x[i]!)));
      const r = w[i]! * (y[i]! - p);
      ga += r;
      gb += r * x[i]!;
      const v = w[i]! * p * (1 - p);
      haa += v;
      hab += v * x[i]!;
      hbb += v * x[i]! * x[i]!;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 1e-15)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a += da;
    b += db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw ERR_ML_DEGENERATE('the confidence curve did not converge');
  return { intercept: a, slope: b };
}

/** Probability, by the curve, that a query at distance d is about its nearest stored workload. */
export function sameWorkloadProbability(c: ConfidenceCurve, d: number): number {
  if (!Number.isFinite(d)) return 0;
  return 1 / (1 + Math.exp(-(c.intercept + c.slope * Math.log(Math.max(d, 1e-9)))));
}
