/**
 * The LearnedSSD characterisation pipeline, streaming:
 * trace -> windows -> descriptor vectors -> PCA (2-D) -> k-means -> label.
 *
 * Only the descriptor vector of each window is kept (DESCRIPTOR_DIM doubles,
 * 160 bytes), never the requests, so a trace of any length fits. PCA and
 * k-means are fitted on a bounded uniform sample of windows (reservoir,
 * `sampleSize`, seeded), then every window is projected and assigned.
 */
import { ERR_FEATURES_TOO_SHORT } from '../errors.js';
import { describeWindow, descriptorVector } from '../features/descriptors.js';
import { Windower, type WindowOptions } from '../features/perio.js';
import type { TraceBatch } from '../trace/model.js';
import { labelTrace, type ClusterLabel } from './cluster-label.js';
import { DEFAULT_SEED, fitKMeans, nearestCentre, type KMeansModel } from './kmeans.js';
import { fitPca, projectPca, type PcaModel } from './pca.js';
import { Reservoir, seededRng } from './rng.js';

export interface WindowVector {
  /** Stream (device id when split by device, else -1). */
  stream: number;
  /** Window number within the stream. */
  index: number;
  /** Requests of the whole trace up to and including the window's last (a prefix of that many holds it). */
  end: number;
  vector: Float64Array;
}

export interface DescribedTrace {
  source: string;
  windowSize: number;
  requests: number;
  /** Requests after the last full window of each stream (not described). */
  leftover: number;
  windows: WindowVector[];
}

/** Descriptor vectors of every full window of a trace. */
export async function describeTrace(batches: AsyncIterable<TraceBatch>, opts: WindowOptions = {}): Promise<DescribedTrace> {
  const source = opts.source ?? 'trace';
  const w = new Windower(opts);
  const windows: WindowVector[] = [];
  for await (const b of batches) {
    // Borrowed windows: only the vector outlives the callback.
    w.feed(b, (win) => {
      const where = `${source}: window ${win.index}${win.stream >= 0 ? ` of device ${win.stream}` : ''} (request ${win.firstRequest})`;
      windows.push({ stream: win.stream, index: win.index, end: win.endRequest, vector: descriptorVector(describeWindow(win, where), where) });
    });
  }
  return { source, windowSize: w.size, requests: w.requests, leftover: w.leftover, windows };
}

/**
 * A prefix shifted further than this is another phase of the trace, and
 * `tune` warns that its screen may not rank as the whole would (the screen
 * bench: stationary traces' prefixes of 1,000 requests and more stay under
 * 0.35; the vscsi trace's first 5%, at 0.9-1.0, picked configurations below
 * 90% of the best).
 */
export const SCREEN_SHIFT_WARNING = 0.5;

/**
 * How far the windows within a trace's first `requests` requests lie from all
 * its windows: the mean, over the descriptors that vary, of |prefix mean -
 * whole mean| / whole standard deviation. A prefix from another phase of the
 * trace ranks configurations unlike the whole (the screen bench: a shift
 * near 1 picked configurations worse than the baseline on the whole trace;
 * stationary traces stay under 0.35 from 1,000 requests). Undefined when the
 * prefix holds no full window or the trace fewer than two.
 */
export function prefixShift(t: DescribedTrace, requests: number): number | undefined {
  const all = t.windows;
  const prefix = all.filter((w) => w.end <= requests).length;
  if (prefix === 0 || all.length < 2) return undefined;
  let sum = 0;
  let used = 0;
  for (let d = 0; d < all[0]!.vector.length; d++) {
    let [s, s2, p] = [0, 0, 0];
    for (const w of all) {
      const x = w.vector[d]!;
      s += x;
      s2 += x * x;
      if (w.end <= requests) p += x;
    }
    const mean = s / all.length;
    const sd = Math.sqrt(Math.max(0, s2 / all.length - mean * mean));
    if (sd < 1e-9 * Math.max(1, Math.abs(mean))) continue;
    sum += Math.abs(p / prefix - mean) / sd;
    used++;
  }
  return used ? sum / used : 0;
}

/**
 * The window vectors of a described trace, one list per stream (device, when
 * described with splitByDevice), streams in device order, windows in time order.
 */
export function windowStreams(t: DescribedTrace): { device: number; windows: Float64Array[] }[] {
  const byStream = new Map<number, Float64Array[]>();
  for (const w of t.windows) {
    const g = byStream.get(w.stream) ?? [];
    g.push(w.vector);
    byStream.set(w.stream, g);
  }
  return [...byStream.keys()].sort((a, b) => a - b).map((device) => ({ device, windows: byStream.get(device)! }));
}

export interface CharacteriseOptions {
  /** Windows PCA and k-means are fitted on, at most (default 2000). */
  sampleSize?: number;
  k?: number;
  kMax?: number;
  seed?: number;
}

export interface Characterisation {
  pca: PcaModel;
  kmeans: KMeansModel;
  /** Windows the models were fitted on. */
  fittedOn: number;
  /** PCA coordinates and cluster of every window, in trace order. */
  projections: number[][];
  assignments: number[];
  label: ClusterLabel;
}

export function characterise(t: DescribedTrace, opts: CharacteriseOptions = {}): Characterisation {
  if (t.windows.length < 2) {
    throw ERR_FEATURES_TOO_SHORT(
      t.source,
      `${t.requests} requests make ${t.windows.length} full window(s) of ${t.windowSize}; characterisation needs at least 2 (use a smaller window)`,
    );
  }
  const seed = opts.seed ?? DEFAULT_SEED;
  const sample = new Reservoir<Float64Array>(opts.sampleSize ?? 2000, seededRng(seed));
  for (const w of t.windows) sample.offer(w.vector);
  const pca = fitPca(sample.items, 2);
  const fitPoints = sample.items.map((v) => projectPca(pca, v));
  const km = fitKMeans(fitPoints, { k: opts.k, kMax: opts.kMax, seed });
  const projections = t.windows.map((w) => projectPca(pca, w.vector));
  const assignments = projections.map((p) => nearestCentre(km.centres, p));
  return { pca, kmeans: km, fittedOn: sample.items.length, projections, assignments, label: labelTrace(assignments, km.k, t.source) };
}
