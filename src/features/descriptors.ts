/**
 * Window descriptors: a fixed set of numbers that summarise one window of
 * requests (see perio.ts for windows). They feed PCA / k-means and the
 * similarity network. Each is defined exactly below so that tests (and the
 * Python cross-check in bench/) can compute the same value by hand.
 *
 * Percentiles use linear interpolation between closest ranks (numpy's default,
 * "type 7"): for sorted x of length n, p -> x[f] + (x[f+1]-x[f]) * (h-f) with
 * h = p (n-1), f = floor(h).
 */
import { ERR_ML_NONFINITE } from '../errors.js';
import { Op, SECTOR_BYTES } from '../trace/model.js';
import { gapNs, perIoFeatures, type RequestWindow } from './perio.js';

/** Latency assumed for the queue-depth estimate when the trace has no completion times (a typical SSD 4 KiB read). */
export const NOMINAL_LATENCY_NS = 100_000;
/** Reuse is tracked per 4 KiB page (8 sectors), the page-cache and FTL mapping unit. */
export const REUSE_PAGE_SECTORS = 8;

export interface Descriptors {
  /** Requests in the window. */
  requests: number;
  /** Fraction of requests with the READ flag (0..1). */
  readRatio: number;
  /** 10th / 50th / 90th percentile of request size, bytes. */
  sizeP10: number;
  sizeP50: number;
  sizeP90: number;
  /** 10th / 50th / 90th percentile of inter-arrival gap, µs (gap of the first request: to the stream's previous request, 0 at the stream start). */
  iatP10: number;
  iatP50: number;
  iatP90: number;
  /** Mean inter-arrival gap, µs. */
  iatMean: number;
  /** Burstiness: coefficient of variation (population std / mean) of inter-arrival gaps; 1 for Poisson arrivals, >1 bursty; 0 when the mean gap is 0. */
  iatCv: number;
  /** Fraction of the n-1 consecutive pairs where request i starts exactly where request i-1 (same device) ended. */
  sequentialFraction: number;
  /** max(sector + bytes/512) - min(sector) over the window, in bytes. */
  lbaSpanBytes: number;
  /** Fraction of requests whose starting 4 KiB page (device, floor(sector/8)) was the start page of an earlier request in the window. */
  reuseFraction: number;
  /** Median, over those re-used requests, of the number of requests since the page's previous use (reuse interval); 0 when none. */
  reuseIntervalMedian: number;
  /**
   * Queue depth estimate: time-averaged outstanding requests over the window,
   * sum(latency_i) / (max(t_i + latency_i) - min(t_i)) (Little's law). latency_i is the
   * measured completion - arrival when the trace has it, else NOMINAL_LATENCY_NS.
   */
  queueDepth: number;
  /** True when queueDepth used measured latencies for every request. */
  queueDepthMeasured: boolean;
  /** Distinct devices in the window. */
  devices: number;
  /** Mean and population std of the per-I/O features logIat, logOffset, logSize (perio.ts). */
  meanLogIat: number;
  stdLogIat: number;
  meanLogOffset: number;
  stdLogOffset: number;
  meanLogSize: number;
  stdLogSize: number;
}

/** Percentile (0..1) of an ascending-sorted array, numpy "linear" method. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const h = p * (n - 1);
  const f = Math.floor(h);
  const lo = sorted[f]!;
  if (f + 1 >= n) return lo;
  return lo + (sorted[f + 1]! - lo) * (h - f);
}

function meanStd(x: ArrayLike<number>): [number, number] {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  const m = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i]! - m) * (x[i]! - m);
  return [m, Math.sqrt(v / n)];
}

export function describeWindow(w: RequestWindow): Descriptors {
  const n = w.length;
  const pf = perIoFeatures(w);

  let reads = 0;
  for (let i = 0; i < n; i++) if (w.op[i]! & Op.READ) reads++;

  const sizes = Float64Array.from(w.bytes).sort();
  const gaps = new Float64Array(n);
  for (let i = 0; i < n; i++) gaps[i] = gapNs(w, i) / 1000;
  const [iatMean, iatStd] = meanStd(gaps);
  gaps.sort();

  let seq = 0;
  for (let i = 1; i < n; i++) {
    if (w.device[i] === w.device[i - 1] && w.sector[i] === w.sector[i - 1]! + w.bytes[i - 1]! / SECTOR_BYTES) seq++;
  }

  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = w.sector[i]!;
    if (s < lo) lo = s;
    const e = s + w.bytes[i]! / SECTOR_BYTES;
    if (e > hi) hi = e;
  }

  // Reuse: last index at which each (device, page) started a request.
  // Key: page * 4096 + device ordinal stays an exact number while pages < 2^40 (sectors < 4 PiB).
  const last = new Map<number | string, number>();
  const intervals: number[] = [];
  for (let i = 0; i < n; i++) {
    const page = Math.floor(w.sector[i]! / REUSE_PAGE_SECTORS);
    const key = page < 2 ** 40 && pf.device[i]! < 4096 ? page * 4096 + pf.device[i]! : `${w.device[i]}:${page}`;
    const prev = last.get(key);
    if (prev !== undefined) intervals.push(i - prev);
    last.set(key, i);
  }
  intervals.sort((a, b) => a - b);

  let busy = 0;
  let first = Infinity;
  let end = -Infinity;
  let measured = w.completeNs !== undefined;
  for (let i = 0; i < n; i++) {
    const t = w.timeNs[i]!;
    let lat = NOMINAL_LATENCY_NS;
    const c = w.completeNs?.[i];
    if (c !== undefined && Number.isFinite(c) && c >= t) lat = c - t;
    else measured = false;
    busy += lat;
    if (t < first) first = t;
    if (t + lat > end) end = t + lat;
  }

  const [meanLogIat, stdLogIat] = meanStd(pf.logIat);
  const [meanLogOffset, stdLogOffset] = meanStd(pf.logOffset);
  const [meanLogSize, stdLogSize] = meanStd(pf.logSize);
  let devices = 0;
  for (let i = 0; i < n; i++) if (pf.device[i]! + 1 > devices) devices = pf.device[i]! + 1;

  return {
    requests: n,
    readRatio: reads / n,
    sizeP10: percentileSorted(sizes, 0.1),
    sizeP50: percentileSorted(sizes, 0.5),
    sizeP90: percentileSorted(sizes, 0.9),
    iatP10: percentileSorted(gaps, 0.1),
    iatP50: percentileSorted(gaps, 0.5),
    iatP90: percentileSorted(gaps, 0.9),
    iatMean,
    iatCv: iatMean > 0 ? iatStd / iatMean : 0,
    sequentialFraction: n > 1 ? seq / (n - 1) : 0,
    lbaSpanBytes: (hi - lo) * SECTOR_BYTES,
    reuseFraction: intervals.length / n,
    reuseIntervalMedian: percentileSorted(intervals, 0.5),
    queueDepth: end > first ? busy / (end - first) : 0,
    queueDepthMeasured: measured,
    devices,
    meanLogIat,
    stdLogIat,
    meanLogOffset,
    stdLogOffset,
    meanLogSize,
    stdLogSize,
  };
}

/**
 * The numeric vector the models see, in this order. Heavy-tailed quantities
 * (sizes, gaps, spans, intervals, depth) enter as ln(1 + x) so that one
 * huge window does not dominate a standardised column; fractions and the
 * per-I/O moments (already logs) enter as they are.
 */
export const DESCRIPTOR_VECTOR_NAMES = [
  'readRatio',
  'ln1p(sizeP10)',
  'ln1p(sizeP50)',
  'ln1p(sizeP90)',
  'ln1p(iatP10)',
  'ln1p(iatP50)',
  'ln1p(iatP90)',
  'ln1p(iatMean)',
  'ln1p(iatCv)',
  'sequentialFraction',
  'ln1p(lbaSpanBytes)',
  'reuseFraction',
  'ln1p(reuseIntervalMedian)',
  'ln1p(queueDepth)',
  'meanLogIat',
  'stdLogIat',
  'meanLogOffset',
  'stdLogOffset',
  'meanLogSize',
  'stdLogSize',
] as const;
export const DESCRIPTOR_DIM = DESCRIPTOR_VECTOR_NAMES.length;

export function descriptorVector(d: Descriptors, where = 'window'): Float64Array {
  const l = Math.log1p;
  const v = Float64Array.of(
    d.readRatio,
    l(d.sizeP10),
    l(d.sizeP50),
    l(d.sizeP90),
    l(d.iatP10),
    l(d.iatP50),
    l(d.iatP90),
    l(d.iatMean),
    l(d.iatCv),
    d.sequentialFraction,
    l(d.lbaSpanBytes),
    d.reuseFraction,
    l(d.reuseIntervalMedian),
    l(d.queueDepth),
    d.meanLogIat,
    d.stdLogIat,
    d.meanLogOffset,
    d.stdLogOffset,
    d.meanLogSize,
    d.stdLogSize,
  );
  assertFiniteVector(v, where, DESCRIPTOR_VECTOR_NAMES);
  return v;
}

/** Raise SSDTUNE_ML_NONFINITE naming the component if any entry is NaN or infinite. */
export function assertFiniteVector(v: ArrayLike<number>, where: string, names?: readonly string[]): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw ERR_ML_NONFINITE(where, `${v[i]} in ${names?.[i] ?? `component ${i}`}`);
  }
}
