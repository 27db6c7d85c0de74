/**
 * How the similarity model's data is split for evaluation: leave one SOURCE
 * out. A source is a trace file with all its devices / volumes (data.ts).
 *
 * For each source S in turn, a network is trained on every other source, and
 * S is asked about in two ways (evaluation.ts):
 * - new-workload detection: S's queries against a store of every other
 *   source's workloads (S was never trained on and is not stored: every
 *   answer but "new" is a false "known");
 * - same-workload match: each workload of S is stored from the first
 *   PROFILE_SHARE of its windows, and queries from the rest must find it
 *   (a workload the network never saw, asked again later).
 * Slices of traces the network trained on are never the test.
 */
import type { Stream } from './data.js';

/** Share of a held-out stream's windows (its beginning) its store profile is made from; queries come from the rest. */
export const PROFILE_SHARE = 0.6;

/** Queries per stream and question, at most (evenly spread), so that long traces do not swamp the figures. */
export const MAX_QUERIES_PER_STREAM = 60;

/** Consecutive groups of q windows (a last partial group is dropped). */
export function queries<T>(w: readonly T[], q: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i + q <= w.length; i += q) out.push(w.slice(i, i + q));
  return out;
}

/** Evenly spaced subsample of at most n items, keeping order. */
export function thin<T>(w: readonly T[], n: number): T[] {
  if (w.length <= n) return w.slice();
  return Array.from({ length: n }, (_, i) => w[Math.floor((i * w.length) / n)]!);
}

/** A held-out stream's profile part (its beginning) and the later part its match queries come from. */
export function profileSplit<T>(w: readonly T[]): { profile: T[]; later: T[] } {
  const cut = Math.round(w.length * PROFILE_SHARE);
  return { profile: w.slice(0, cut), later: w.slice(cut) };
}

/** The sources (trace files) of the streams, sorted. */
export function sourcesOf(streams: readonly Pick<Stream, 'source'>[]): string[] {
  return [...new Set(streams.map((s) => s.source))].sort();
}

/** Streams grouped by workload label, in first-seen order. */
export function byWorkload<S extends Pick<Stream, 'workload'>>(streams: readonly S[]): Map<string, S[]> {
  const m = new Map<string, S[]>();
  for (const s of streams) {
    const g = m.get(s.workload) ?? [];
    g.push(s);
    m.set(s.workload, g);
  }
  return m;
}
