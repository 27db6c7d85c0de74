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
  /** Most frequent request size, bytes (the smallest of equally frequent ones). */
  sizeMode: number;
  /**
   * 10th / 50th / 90th percentile of the requests' absolute start offset
   * (sector * 512), bytes: WHERE on the device the workload works. A volume
   * keeps touching the same files and extents over time, so this tells apart
   * workloads whose request mix is alike (Tencent volumes, WebSearch ASUs).
   */
  offsetP10: number;
  offsetP50: number;
  offsetP90: number;
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

/**
 * For every request whose start page (device, floor(sector / 8)) started an
 * earlier request of the window: the distance in requests to the latest such
 * one. An open-addressing hash table on typed arrays (reused between calls)
 * instead of a Map: this runs for every request of every window and a Map
 * made it the slowest part of the pipeline.
 */
let slotKey = new Float64Array(0);
let slotIdx = new Int32Array(0);
let slotGen = new Uint32Array(0);
let generation = 0;
function reuseIntervals(w: RequestWindow, deviceOrdinal: Uint32Array): Float64Array {
  const n = w.length;
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (slotKey.length < cap) {
    slotKey = new Float64Array(cap);
    slotIdx = new Int32Array(cap);
    slotGen = new Uint32Array(cap);
    generation = 0;
  } else cap = slotKey.length;
  if (++generation === 0xffffffff) {
    slotGen.fill(0);
    generation = 1;
  }
  const mask = cap - 1;
  const shift = 32 - Math.log2(cap);
  const out = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const page = Math.floor(w.sector[i]! / REUSE_PAGE_SECTORS);
    // page * 4096 + device ordinal is exact while page < 2^41 (sectors < 8 PiB) and there are < 4096 devices.
    const dev = deviceOrdinal[i]!;
    if (page >= 2 ** 41 || dev >= 4096) throw ERR_ML_NONFINITE('reuse distance', `sector ${w.sector[i]} or device count ${dev + 1} beyond the supported range`);
    const key = page * 4096 + dev;
    // Fibonacci hashing: keep the product's HIGH bits (keys are multiples of 4096, so the low bits are all zero).
    let h = Math.imul(((key % 0x7fffffff) ^ Math.floor(key / 0x7fffffff)) | 0, 0x9e3779b1) >>> shift;
    while (slotGen[h] === generation && slotKey[h] !== key) h = (h + 1) & mask;
    if (slotGen[h] === generation) out[m++] = i - slotIdx[h]!;
    else {
      slotGen[h] = generation;
      slotKey[h] = key;
    }
    slotIdx[h] = i;
  }
  return out.slice(0, m);
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

/**
 * The same percentiles as percentileSorted, without sorting: quickselect
 * (Hoare partition, median-of-three pivot) finds the f-th smallest value and
 * the (f+1)-th is the minimum of what lies above it. Reorders `x`. Sorting
 * two 3000-element arrays per window was the largest cost of describeWindow.
 */
export function percentilesInPlace(x: Float64Array, ps: readonly number[]): number[] {
  const n = x.length;
  if (n === 0) return ps.map(() => 0);
  return ps.map((p) => {
    const h = p * (n - 1);
    const f = Math.floor(h);
    const lo = select(x, f);
    if (f + 1 >= n || h === f) return lo;
    let next = Infinity;
    for (let i = f + 1; i < n; i++) if (x[i]! < next) next = x[i]!;
    return lo + (next - lo) * (h - f);
  });
}

/** k-th smallest (0-based) of x; afterwards x[0..k) <= x[k] <= x(k..n). */
function select(x: Float64Array, k: number): number {
  let left = 0;
  let right = x.length - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    // median of three as pivot
    const a = x[left]!;
    const b = x[mid]!;
    const c = x[right]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = left;
    let j = right;
    while (i <= j) {
      while (x[i]! < pivot) i++;
      while (x[j]! > pivot) j--;
      if (i <= j) {
        const t = x[i]!;
        x[i] = x[j]!;
        x[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return x[k]!;
  }
  return x[k]!;
}

/** Most frequent value (the smallest of equally frequent ones). */
function modeOf(x: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < x.length; i++) counts.set(x[i]!, (counts.get(x[i]!) ?? 0) + 1);
  let best = 0;
  let bestN = 0;
  for (const [v, c] of counts) if (c > bestN || (c === bestN && v < best)) [best, bestN] = [v, c];
  return best;
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

  const [sizeP10, sizeP50, sizeP90] = percentilesInPlace(Float64Array.from(w.bytes), [0.1, 0.5, 0.9]) as [number, number, number];
  const offsets = new Float64Array(n);
  for (let i = 0; i < n; i++) offsets[i] = w.sector[i]! * SECTOR_BYTES;
  const [offsetP10, offsetP50, offsetP90] = percentilesInPlace(offsets, [0.1, 0.5, 0.9]) as [number, number, number];
  const gaps = new Float64Array(n);
  for (let i = 0; i < n; i++) gaps[i] = gapNs(w, i) / 1000;
  const [iatMean, iatStd] = meanStd(gaps);
  const [iatP10, iatP50, iatP90] = percentilesInPlace(gaps, [0.1, 0.5, 0.9]) as [number, number, number];

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
  const intervals = reuseIntervals(w, pf.device);
  const [reuseIntervalMedian] = percentilesInPlace(intervals, [0.5]) as [number];

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
    sizeP10,
    sizeP50,
    sizeP90,
    sizeMode: modeOf(w.bytes),
    offsetP10,
    offsetP50,
    offsetP90,
    iatP10,
    iatP50,
    iatP90,
    iatMean,
    iatCv: iatMean > 0 ? iatStd / iatMean : 0,
    sequentialFraction: n > 1 ? seq / (n - 1) : 0,
    lbaSpanBytes: (hi - lo) * SECTOR_BYTES,
    reuseFraction: intervals.length / n,
    reuseIntervalMedian,
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
  'ln1p(sizeMode)',
  'ln1p(offsetP10)',
  'ln1p(offsetP50)',
  'ln1p(offsetP90)',
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
    l(d.sizeMode),
    l(d.offsetP10),
    l(d.offsetP50),
    l(d.offsetP90),
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
