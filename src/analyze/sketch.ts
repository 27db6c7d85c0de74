/**
 * Bounded-memory quantiles for one-pass trace statistics.
 *
 * `LogSketch` is a DDSketch-style log-bucketed histogram: value v > 0 goes to
 * bucket ceil(log_gamma(v)) with gamma = (1+a)/(1-a); every quantile it answers
 * is within relative error `a` (default 1%) of the true value, whatever the
 * stream length, in a fixed ~15 KiB array (values 1 .. 2^53).
 *
 * `Quantiles` keeps exact counts per distinct value while there are few of them
 * (request sizes usually take a handful of values, so their percentiles are
 * exact) and falls back to a LogSketch once a limit of distinct values is
 * passed. `exact` says which answer the caller got.
 *
 * Quantile definition (nearest rank): q-quantile = the smallest value v such
 * that at least ceil(q * n) of the n values are <= v.
 */
import { bump } from '../util/at.js';

export const DEFAULT_RELATIVE_ERROR = 0.01;

export class LogSketch {
  readonly relativeError: number;
  private readonly gamma: number;
  private readonly lnGamma: number;
  private readonly counts: Float64Array;
  /** Values < 1 (zero latencies, zero sizes). */
  private zero = 0;
  count = 0;

  constructor(relativeError = DEFAULT_RELATIVE_ERROR) {
    this.relativeError = relativeError;
    this.gamma = (1 + relativeError) / (1 - relativeError);
    this.lnGamma = Math.log(this.gamma);
    this.counts = new Float64Array(Math.ceil(Math.log(2 ** 53) / this.lnGamma) + 2);
  }

  add(v: number, n = 1): void {
    this.count += n;
    if (!(v >= 1)) {
      this.zero += n;
      return;
    }
    const i = Math.min(this.counts.length - 1, Math.ceil(Math.log(v) / this.lnGamma));
    bump(this.counts, i, n, 'sketch');
  }

  /** The representative of bucket i: within relativeError of every value in it. */
  private value(i: number): number {
    return (2 * this.gamma ** i) / (this.gamma + 1);
  }

  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let cum = this.zero;
    if (cum >= rank) return 0;
    for (const [i, c] of this.counts.entries()) {
      cum += c;
      if (cum >= rank) return this.value(i);
    }
    return this.value(this.counts.length - 1);
  }

  /** Non-empty buckets in increasing order as [value, count]. */
  entries(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (this.zero) out.push([0, this.zero]);
    for (const [i, c] of this.counts.entries()) if (c) out.push([this.value(i), c]);
    return out;
  }
}

export interface QuantileSummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** 0 when the percentiles are exact, else the sketch's bound on their relative error. */
  relativeError: number;
}

/** Exact per-value counts up to `exactLimit` distinct values, then a LogSketch. */
export class Quantiles {
  /** value -> count cell (a boxed counter, so a repeat costs one lookup, not get + set) */
  private exact: Map<number, { n: number }> | null = new Map();
  private sketch: LogSketch | null = null;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(
    private readonly exactLimit = 4096,
    private readonly relativeError = DEFAULT_RELATIVE_ERROR,
  ) {}

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.exact) {
      const cell = this.exact.get(v);
      if (cell) cell.n++;
      else {
        this.exact.set(v, { n: 1 });
        if (this.exact.size > this.exactLimit) this.toSketch();
      }
    } else {
      this.sketch!.add(v);
    }
  }

  private toSketch(): void {
    const s = new LogSketch(this.relativeError);
    for (const [v, c] of this.exact!) s.add(v, c.n);
    this.sketch = s;
    this.exact = null;
  }

  get isExact(): boolean {
    return this.exact !== null;
  }

  /** [value, count] in increasing value order (exact values, or sketch buckets). */
  entries(): Array<[number, number]> {
    if (this.exact) return [...this.exact].map(([v, c]): [number, number] => [v, c.n]).sort((a, b) => a[0] - b[0]);
    return this.sketch!.entries();
  }

  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q >= 1) return this.max;
    if (!this.exact) return clamp(this.sketch!.quantile(q), this.min, this.max);
    const rank = Math.max(1, Math.ceil(q * this.count));
    let cum = 0;
    for (const [v, n] of this.entries()) {
      cum += n;
      if (cum >= rank) return v;
    }
    return this.max;
  }

  summary(): QuantileSummary | null {
    if (this.count === 0) return null;
    return {
      count: this.count,
      mean: this.sum / this.count,
      min: this.min,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.max,
      relativeError: this.isExact ? 0 : this.relativeError,
    };
  }

  /**
   * Empirical CDF as at most `maxPoints` [value, fraction <= value] pairs
   * (thinned evenly by rank so plots stay small; the last point is always kept).
   */
  cdf(maxPoints = 400): Array<[number, number]> {
    const e = this.entries();
    const out: Array<[number, number]> = [];
    let cum = 0;
    const step = this.count / maxPoints;
    let next = 0;
    for (const [i, [value, n]] of e.entries()) {
      cum += n;
      if (cum >= next || i === e.length - 1) {
        out.push([clamp(value, this.min, this.max), cum / this.count]);
        next = cum + step;
      }
    }
    return out;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
