/**
 * Window descriptors: a fixed set of numbers that summarise one window of
 * requests (see perio.ts for windows). They feed PCA / k-means and the
 * similarity network. Each is defined exactly below so that tests (and the
 * numpy cross-checks in test/features-numpy.test.ts and bench/) can compute
 * the same value by hand. native/src/descriptors.cc implements them.
 *
 * Percentiles use linear interpolation between closest ranks (numpy's default,
 * "type 7"): for sorted x of length n, p -> x[f] + (x[f+1]-x[f]) * (h-f) with
 * h = p (n-1), f = floor(h).
 */
import { ERR_ML_NONFINITE } from '../errors.js';
import type { RequestWindow } from './types.js';
import { measureWindow, WINDOW_SLOTS } from './window-native.js';

/** Latency assumed for the queue-depth estimate when the trace has no completion times (a typical SSD 4 KiB read). The addon (native/src/descriptors.cc) holds the same value. */
export const NOMINAL_LATENCY_NS = 100_000;
/** Reuse is tracked per 4 KiB page (8 sectors), the page-cache and FTL mapping unit (the same value in native/src/descriptors.cc). */
export const REUSE_PAGE_SECTORS = 8;
/** A jump of at most this many bytes (but not 0) is "near" (the same value in native/src/descriptors.cc). */
export const NEAR_JUMP_BYTES = 1 << 20;
/** Jumps are clipped at this many bytes before their median is taken (the same value in native/src/descriptors.cc). */
export const JUMP_CLIP_BYTES = 16 << 20;
/** Region sizes of the regions* descriptors: 64 KiB, 1 MiB, 16 MiB (the same values in native/src/descriptors.cc). */
export const REGION_BYTES = [64 << 10, 1 << 20, 16 << 20] as const;

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
   * (sector * 512), bytes: WHERE on the device the workload works. Describes
   * a window; not in the models' vector (see DESCRIPTOR_VECTOR_NAMES).
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
  /**
   * Locality, none of it tied to where on the device the requests land (the
   * model sees these, not the absolute offsets above, see DESCRIPTOR_VECTOR_NAMES).
   * A request's jump is |its start sector - (the previous request's start + size)| in
   * bytes, over the n-1 consecutive pairs; a pair on two devices jumps JUMP_CLIP_BYTES.
   * nearFraction: share of pairs with 0 < jump <= NEAR_JUMP_BYTES (strided, nearly sequential).
   */
  nearFraction: number;
  /** Median of min(jump, JUMP_CLIP_BYTES) over the pairs, bytes (0 for one request). */
  jumpMedianBytes: number;
  /**
   * Distinct (device, region) pairs among the requests' start sectors, divided
   * by n, for regions of REGION_BYTES: 64 KiB, 1 MiB, 16 MiB (1 when every
   * request starts in a region of its own; small for sequential or hot-spot I/O).
   */
  regions64k: number;
  regions1m: number;
  regions16m: number;
  /** Median (numpy linear) size of the reads, and of the other requests, bytes; 0 when none. */
  readSizeP50: number;
  writeSizeP50: number;
  /** Among pairs whose second request is a read (resp. not a read): share where it starts where the first ended, same device; 0 when none. */
  readSequentialFraction: number;
  writeSequentialFraction: number;
  /** Share of requests starting on a 4 KiB boundary (sector multiple of 8). */
  alignedFraction: number;
  /** Shares of requests of <= 4 KiB, (4, 16] KiB, (16, 64] KiB (the rest is larger). */
  sizeUpTo4k: number;
  size4kTo16k: number;
  size16kTo64k: number;
}

const OUT = new Float64Array(WINDOW_SLOTS.length);

/**
 * The descriptors of one window, computed by the addon (window-native.ts)
 * exactly as defined above: percentiles by selection, reuse by an
 * open-addressing table keyed (device ordinal, page), which needs
 * floor(sector / 8) < 2^41 and fewer than 4096 devices in the window
 * (SSDTUNE_ML_NONFINITE otherwise, naming `where` and the request).
 */
export function describeWindow(w: RequestWindow, where = `window ${w.index}`): Descriptors {
  const out = measureWindow(w, OUT, where);
  const d = {} as Record<(typeof WINDOW_SLOTS)[number], number>;
  for (let i = 0; i < WINDOW_SLOTS.length; i++) d[WINDOW_SLOTS[i]!] = out[i]!;
  return { ...d, queueDepthMeasured: d.queueDepthMeasured === 1 };
}

/**
 * The numeric vector the models see, in this order. Heavy-tailed quantities
 * (sizes, gaps, jumps, intervals, depth) enter as ln(1 + x) so that one huge
 * window does not dominate a standardised column; fractions and the per-I/O
 * moments (already logs) enter as they are.
 *
 * Location enters only through locality measures (sequential and near
 * fractions, clipped jumps, distinct regions, reuse): never the absolute
 * offsets, the window's LBA span or the log-offset moments. Those made a
 * workload "the same" as another because it sat at the same disk offsets, and
 * "different" because it was recorded on a smaller device (a random workload's
 * span is the device's). The measures above saturate for scattered I/O
 * whatever the device size. Effect, leave one source out: models/similarity/MODEL_CARD.md.
 */
export const DESCRIPTOR_VECTOR_NAMES = [
  'readRatio',
  'ln1p(sizeP10)',
  'ln1p(sizeP50)',
  'ln1p(sizeP90)',
  'ln1p(sizeMode)',
  'ln1p(iatP10)',
  'ln1p(iatP50)',
  'ln1p(iatP90)',
  'ln1p(iatMean)',
  'ln1p(iatCv)',
  'sequentialFraction',
  'reuseFraction',
  'ln1p(reuseIntervalMedian)',
  'ln1p(queueDepth)',
  'meanLogIat',
  'stdLogIat',
  'meanLogSize',
  'stdLogSize',
  'nearFraction',
  'ln1p(jumpMedianBytes)',
  'regions64k',
  'regions1m',
  'regions16m',
  'ln1p(readSizeP50)',
  'ln1p(writeSizeP50)',
  'readSequentialFraction',
  'writeSequentialFraction',
  'alignedFraction',
  'sizeUpTo4k',
  'size4kTo16k',
  'size16kTo64k',
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
    l(d.iatP10),
    l(d.iatP50),
    l(d.iatP90),
    l(d.iatMean),
    l(d.iatCv),
    d.sequentialFraction,
    d.reuseFraction,
    l(d.reuseIntervalMedian),
    l(d.queueDepth),
    d.meanLogIat,
    d.stdLogIat,
    d.meanLogSize,
    d.stdLogSize,
    d.nearFraction,
    l(d.jumpMedianBytes),
    d.regions64k,
    d.regions1m,
    d.regions16m,
    l(d.readSizeP50),
    l(d.writeSizeP50),
    d.readSequentialFraction,
    d.writeSequentialFraction,
    d.alignedFraction,
    d.sizeUpTo4k,
    d.size4kTo16k,
    d.size16kTo64k,
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
