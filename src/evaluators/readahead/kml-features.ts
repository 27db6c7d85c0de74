/**
 * KML's readahead features (Akgun et al., HotStorage'21), per window of read
 * requests: transaction count, normalised variance of page offsets, mean
 * absolute page-index delta, current readahead. Two more that the readahead
 * rules themselves key on: mean request size and the share of requests that
 * start where the previous one ended.
 */
import { Op, type TraceBatch } from '../../trace/model.js';

export const FEATURE_NAMES = [
  'log2_transactions',
  'norm_offset_std',
  'log2_mean_abs_page_delta',
  'log2_current_readahead_kb',
  'log2_mean_request_pages',
  'sequential_share',
] as const;

const PAGE = 4096;

/** Features of the reads in rows [from, to) of a batch. */
export function windowFeatures(batch: TraceBatch, from: number, to: number, currentReadAheadKb: number): number[] {
  const pages: number[] = [];
  const sizes: number[] = [];
  for (let i = from; i < to; i++) {
    if (!(batch.op[i]! & Op.READ) || batch.op[i]! & Op.WRITE) continue;
    pages.push((batch.sector[i]! * 512) / PAGE);
    sizes.push(batch.bytes[i]! / PAGE);
  }
  const n = pages.length;
  if (n === 0) return [0, 0, 0, Math.log2(1 + currentReadAheadKb), 0, 0];
  let min = Infinity;
  let max = -Infinity;
  let mean = 0;
  for (const p of pages) {
    min = Math.min(min, p);
    max = Math.max(max, p);
    mean += p / n;
  }
  let v = 0;
  for (const p of pages) v += (p - mean) ** 2 / n;
  // Standard deviation relative to the span: ~0.29 for uniform random, lower for runs.
  const normStd = max > min ? Math.sqrt(v) / (max - min) : 0;
  let delta = 0;
  let seq = 0;
  for (let i = 1; i < n; i++) {
    delta += Math.abs(pages[i]! - pages[i - 1]!);
    if (Math.abs(pages[i]! - (pages[i - 1]! + sizes[i - 1]!)) < 1e-9) seq++;
  }
  const meanSize = sizes.reduce((a, b) => a + b, 0) / n;
  return [
    Math.log2(n),
    normStd,
    Math.log2(1 + (n > 1 ? delta / (n - 1) : 0)),
    Math.log2(1 + currentReadAheadKb),
    Math.log2(Math.max(1, meanSize)),
    n > 1 ? seq / (n - 1) : 0,
  ];
}
