/**
 * Neighbours of a configuration: LearnedSSD tunes one parameter, or two
 * related ones (same `group`), at a time. For a parameter with few levels
 * every other level is a candidate; for a long range the candidates are
 * geometric steps (±1, ±2, ±4, ...) plus both ends, so a step can both
 * refine and jump.
 */
import { levelCount, requireIndex, valueAt } from './params.js';
import type { ConfigSpace, Configuration, ParamSpec } from './types.js';
import { configKey, isFeasible } from './constraints.js';

export interface NeighbourOptions {
  /** Only change these parameters (default: all). */
  params?: readonly string[];
  /** Also change two parameters of the same group together (default true). */
  pairs?: boolean;
  /** Parameters with at most this many other levels list them all; longer ones use geometric steps (default 16). */
  maxMoves?: number;
  /** Moves per parameter when two change together (default 8), to keep pair candidates bounded. */
  maxPairMoves?: number;
  /** Drop candidates that violate a constraint (default true). */
  feasibleOnly?: boolean;
}

/** Candidate level indices for one parameter currently at index `i`. */
export function moveIndices(p: ParamSpec, i: number, maxMoves: number): number[] {
  const n = levelCount(p);
  if (n - 1 <= maxMoves) {
    const all: number[] = [];
    for (let k = 0; k < n; k++) if (k !== i) all.push(k);
    return all;
  }
  const out = new Set<number>();
  // Nearest steps first so truncation to maxMoves keeps the local ones.
  for (let s = 1; out.size < maxMoves - 2 && (i - s >= 0 || i + s < n); s *= 2) {
    if (i - s >= 0) out.add(i - s);
    if (i + s < n) out.add(i + s);
  }
  if (i !== 0) out.add(0);
  if (i !== n - 1) out.add(n - 1);
  return [...out];
}

const groupOf = (p: ParamSpec): string => p.group ?? '';

export function neighbours(space: ConfigSpace, c: Configuration, opts: NeighbourOptions = {}): Configuration[] {
  const maxMoves = opts.maxMoves ?? 16;
  const maxPairMoves = opts.maxPairMoves ?? 8;
  const wanted = opts.params ? new Set(opts.params) : undefined;
  const ps = space.params.filter((p) => !wanted || wanted.has(p.name));
  const seen = new Set<string>([configKey(space, c)]);
  const out: Configuration[] = [];
  const add = (n: Configuration): void => {
    const k = configKey(space, n);
    if (seen.has(k)) return;
    seen.add(k);
    if (opts.feasibleOnly !== false && !isFeasible(space, n)) return;
    out.push(n);
  };
  const idx = new Map(ps.map((p) => [p.name, requireIndex(space, p, c[p.name])]));
  for (const p of ps) {
    for (const k of moveIndices(p, idx.get(p.name)!, maxMoves)) add({ ...c, [p.name]: valueAt(p, k) });
  }
  if (opts.pairs !== false) {
    for (let a = 0; a < ps.length; a++) {
      for (let b = a + 1; b < ps.length; b++) {
        const pa = ps[a]!;
        const pb = ps[b]!;
        if (groupOf(pa) !== groupOf(pb)) continue;
        const ma = moveIndices(pa, idx.get(pa.name)!, maxPairMoves);
        const mb = moveIndices(pb, idx.get(pb.name)!, maxPairMoves);
        for (const ka of ma) for (const kb of mb) add({ ...c, [pa.name]: valueAt(pa, ka), [pb.name]: valueAt(pb, kb) });
      }
    }
  }
  return out;
}
