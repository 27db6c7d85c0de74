/**
 * The one implementation of the window maths: native/src/descriptors.cc
 * computes, for one window, every descriptor (descriptors.ts defines them)
 * and, on request, the per-I/O features (perio.ts defines them). It ran in
 * JavaScript before; the per-request loops (percentile selection, reuse
 * table, logarithms) and their garbage were most of the pipeline's time.
 *
 * This module calls the addon and turns its out-of-range report into the
 * project's coded error; descriptors.ts and perio.ts give the results their
 * shapes.
 */
import { ERR_ML_NONFINITE, ERR_NATIVE } from '../errors.js';
import { native } from '../native.js';
import type { PerIoFeatures, RequestWindow } from './types.js';

/** The addon's output slots, in order (checked against the addon's own list on first use). */
export const WINDOW_SLOTS = [
  'requests',
  'readRatio',
  'sizeP10',
  'sizeP50',
  'sizeP90',
  'sizeMode',
  'offsetP10',
  'offsetP50',
  'offsetP90',
  'iatP10',
  'iatP50',
  'iatP90',
  'iatMean',
  'iatCv',
  'sequentialFraction',
  'lbaSpanBytes',
  'reuseFraction',
  'reuseIntervalMedian',
  'queueDepth',
  'queueDepthMeasured',
  'devices',
  'meanLogIat',
  'stdLogIat',
  'meanLogOffset',
  'stdLogOffset',
  'meanLogSize',
  'stdLogSize',
  'nearFraction',
  'jumpMedianBytes',
  'regions64k',
  'regions1m',
  'regions16m',
  'readSizeP50',
  'writeSizeP50',
  'readSequentialFraction',
  'writeSequentialFraction',
  'alignedFraction',
  'sizeUpTo4k',
  'size4kTo16k',
  'size16kTo64k',
] as const;

type WindowColumns = Pick<RequestWindow, 'timeNs' | 'sector' | 'bytes' | 'op' | 'device' | 'completeNs' | 'prevTimeNs'>;
type PerIoOut = Omit<PerIoFeatures, 'length'>;
interface OutOfRange {
  request: number;
  sector: number;
  devices: number;
}
type DescribeFn = (w: WindowColumns, out: Float64Array, perIo?: PerIoOut) => OutOfRange | undefined;

let describe: DescribeFn | undefined;

function addon(): DescribeFn {
  if (describe) return describe;
  const a = native();
  const fields = a.descriptorFields as unknown;
  if (typeof a.describeWindow !== 'function' || !Array.isArray(fields) || fields.join() !== WINDOW_SLOTS.join()) {
    throw ERR_NATIVE('build/Release/ssdtune_native.node has no describeWindow matching this code (stale build?): run `npm run build:native`');
  }
  describe = a.describeWindow as DescribeFn;
  return describe;
}

/**
 * Measure one window into `out` (WINDOW_SLOTS order; reused by the caller to
 * avoid an allocation per window) and, when given, fill `perIo`. `where`
 * names the window in errors; `firstRequest` numbers its requests.
 */
export function measureWindow(w: WindowColumns & { firstRequest?: number }, out: Float64Array, where: string, perIo?: PerIoOut): Float64Array {
  const bad = addon()(w, out, perIo);
  if (bad) {
    throw ERR_ML_NONFINITE(
      where,
      `in the reuse key of request ${(w.firstRequest ?? 0) + bad.request}: sector ${bad.sector} or device count ${bad.devices} beyond the supported range (sector >= 0 and < 2^44, fewer than 4096 devices)`,
    );
  }
  return out;
}
