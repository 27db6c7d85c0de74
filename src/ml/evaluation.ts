/**
 * Leave-one-source-out evaluation of the similarity model (the protocol is in
 * split.ts). For each held-out source, `askFold` records, per method, the
 * distance and nearest workload of every query; `scoreFold` applies a
 * threshold to those outcomes. Thresholds are cross-fitted: the one that
 * scores source S is calibrated on the OTHER sources' outcomes only
 * (calibration.ts), so neither the network nor the threshold that judges S has
 * seen S.
 */
import type { Stream } from './data.js';
import { calibrateThreshold, type Threshold } from './calibration.js';
import {
  chunkRanges,
  embedWindows,
  knownByVote,
  METHODS,
  nearestOf,
  profileWorkload,
  signatureOf,
  type KnownWorkload,
  type Method,
  type WindowStreams,
} from './identify.js';
import { KnownWorkloads } from './known-workloads.js';
import type { SimilarityModel } from './model-io.js';
import { byWorkload, profileSplit } from './split.js';

/** One query's outcome under one method: its nearest stored workload and the distance. */
export interface Outcome {
  nearest?: string;
  distance: number;
}

/** A same-workload query: the workload it must find. */
export interface MatchOutcome extends Outcome {
  workload: string;
}

export interface FoldOutcome {
  source: string;
  /** Streams of the source asked about (at least queryWindows windows: a shorter query is always answered "new"). */
  streams: string[];
  byMethod: Record<
    Method,
    {
      /** New-workload queries: every chunk of every stream of the source, against a store without the source. */
      detection: (Outcome & { stream: string })[];
      /** The same chunks grouped per stream (a whole stream asked at once), and the whole trace's chunks (all its streams, as `identify` asks). */
      wholeStreams: { stream: string; chunks: Outcome[] }[];
      wholeTrace: Outcome[];
      /** Same-workload queries: later chunks of the source's workloads, stored from their beginnings. */
      match: MatchOutcome[];
      /** The same later chunks grouped per stream: a whole later capture asked at once (as `tune` asks again). */
      laterCaptures: { workload: string; chunks: Outcome[] }[];
    }
  >;
}

/** A stream embedded once: its windows and their embeddings, for signatures of any range. */
interface Embedded {
  windows: readonly Float64Array[];
  emb: number[][];
}

function embedStream(m: SimilarityModel, windows: readonly Float64Array[]): Embedded {
  return { windows, emb: windows.length ? embedWindows(m, windows) : [] };
}

/** Outcomes, per method, of the chunks of some streams against a store (the chunking identify() uses). */
function askChunks(m: SimilarityModel, streams: readonly Embedded[], stored: readonly KnownWorkload[], q: number, max?: number): Record<Method, Outcome[]> {
  const out = { network: [] as Outcome[], pca: [] as Outcome[] };
  const store = KnownWorkloads.of(stored);
  for (const [s, a, b] of chunkRanges(
    streams.map((x) => x.windows.length),
    q,
    max,
  )) {
    const sig = signatureOf(m, streams[s]!.windows.slice(a, b), streams[s]!.emb.slice(a, b));
    for (const method of METHODS) {
      const r = nearestOf(m, sig, store, method);
      out[method].push({ ...(r.nearest ? { nearest: r.nearest.id } : {}), distance: r.distance });
    }
  }
  return out;
}

/** Store profiles of workloads from their streams' windows. */
export function profiles(m: SimilarityModel, streams: readonly Stream[], part: (w: Float64Array[]) => Float64Array[] = (w) => w): KnownWorkload[] {
  const out: KnownWorkload[] = [];
  for (const [w, ss] of byWorkload(streams)) {
    const lists: WindowStreams = ss.map((s) => part(s.windows)).filter((x) => x.length > 0);
    if (lists.length) out.push(profileWorkload(m, w, w, lists));
  }
  return out;
}

/**
 * Ask model `m` (trained without `held`) about the held-out source. `others`
 * are the workloads stored from every other source (whole traces, as tune
 * stores them). Streams of the source with at least `minWindows` windows are
 * also stored from their beginning and asked again from their later part;
 * its shorter streams are stored whole, as distractors.
 */
export function askFold(m: SimilarityModel, source: string, held: readonly Stream[], others: readonly KnownWorkload[], minWindows: number): FoldOutcome {
  const q = m.meta.queryWindows;
  const asked = held.filter((s) => s.windows.length >= q);
  const embedded = new Map(asked.map((s) => [s.name, embedStream(m, s.windows)]));
  const fold: FoldOutcome = {
    source,
    streams: asked.map((s) => s.name),
    byMethod: {
      network: { detection: [], wholeStreams: [], wholeTrace: [], match: [], laterCaptures: [] },
      pca: { detection: [], wholeStreams: [], wholeTrace: [], match: [], laterCaptures: [] },
    },
  };
  for (const s of asked) {
    const r = askChunks(m, [embedded.get(s.name)!], others, q);
    for (const method of METHODS) {
      fold.byMethod[method].detection.push(...r[method].map((o) => ({ ...o, stream: s.name })));
      fold.byMethod[method].wholeStreams.push({ stream: s.name, chunks: r[method] });
    }
  }
  const whole = askChunks(m, [...embedded.values()], others, q);
  for (const method of METHODS) fold.byMethod[method].wholeTrace = whole[method];

  const long = asked.filter((s) => s.windows.length >= minWindows);
  const store = [...others, ...profiles(m, long, (w) => profileSplit(w).profile)];
  const stored = new Set(store.map((k) => k.id));
  store.push(
    ...profiles(
      m,
      held.filter((s) => s.windows.length > 0 && !stored.has(s.workload)),
    ),
  );
  for (const s of long) {
    const later = profileSplit(s.windows).later;
    const r = askChunks(m, [embedStream(m, later)], store, q);
    for (const method of METHODS) {
      fold.byMethod[method].match.push(...r[method].map((o) => ({ ...o, workload: s.workload })));
      fold.byMethod[method].laterCaptures.push({ workload: s.workload, chunks: r[method] });
    }
  }
  return fold;
}

/** Distances of right answers (positives) and of answers that would be false "known" (negatives) in some folds. */
export function calibrationData(folds: readonly FoldOutcome[], method: Method): { positives: number[]; negatives: number[] } {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (const f of folds) {
    const o = f.byMethod[method];
    for (const x of o.detection) negatives.push(x.distance);
    for (const x of o.match) (x.nearest === x.workload ? positives : negatives).push(x.distance);
  }
  return { positives, negatives: negatives.filter(Number.isFinite) };
}

/** The threshold that judges fold `i`: calibrated on every other fold's outcomes. */
export function crossFittedThreshold(folds: readonly FoldOutcome[], i: number, method: Method, minRejection: number): Threshold {
  const d = calibrationData(
    folds.filter((_, j) => j !== i),
    method,
  );
  return calibrateThreshold(d.positives, d.negatives, minRejection);
}

/** The answer to a set of chunk outcomes, as identify decides (knownByVote): a workload or "new". */
export function majority(chunks: readonly Outcome[], threshold: number): { answer: string; share: number } {
  const votes = new Map<string, number>();
  for (const c of chunks) {
    const k = c.nearest !== undefined && c.distance <= threshold ? c.nearest : 'new';
    votes.set(k, (votes.get(k) ?? 0) + 1);
  }
  const [top, n] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['new', 0];
  return top !== 'new' && knownByVote(n, chunks.length)
    ? { answer: top, share: n / chunks.length }
    : { answer: 'new', share: (votes.get('new') ?? 0) / Math.max(1, chunks.length) };
}

/** A held-out source's figures under one threshold. */
export interface SourceFigures {
  source: string;
  threshold: number;
  /** New-workload queries (chunks) and how many were answered "known" (false known). */
  detection: { queries: number; falseKnown: number };
  /** Whole streams of the source asked at once, and those answered "known" (with the answer). */
  wholeStreams: { asked: number; falseKnown: string[] };
  /** The whole trace asked at once (all its streams): the answer, the share of chunks behind it, and the chunks. */
  wholeTrace: { answer: string; share: number; chunks: number };
  /** Same-workload queries: right workload, another workload (false known), "new" (missed). */
  match: { queries: number; right: number; wrongKnown: number; missed: number };
  /** Whole later captures of its workloads asked at once: answered with the right workload, with another. */
  laterCaptures: { asked: number; right: number; wrongKnown: number };
}

export function scoreFold(f: FoldOutcome, method: Method, threshold: number): SourceFigures {
  const o = f.byMethod[method];
  const known = (x: Outcome) => x.nearest !== undefined && x.distance <= threshold;
  const falseKnown = o.wholeStreams.filter((w) => majority(w.chunks, threshold).answer !== 'new');
  return {
    source: f.source,
    threshold,
    detection: { queries: o.detection.length, falseKnown: o.detection.filter(known).length },
    wholeStreams: { asked: o.wholeStreams.length, falseKnown: falseKnown.map((w) => `${w.stream} -> ${majority(w.chunks, threshold).answer}`) },
    wholeTrace: { ...majority(o.wholeTrace, threshold), chunks: o.wholeTrace.length },
    match: {
      queries: o.match.length,
      right: o.match.filter((x) => known(x) && x.nearest === x.workload).length,
      wrongKnown: o.match.filter((x) => known(x) && x.nearest !== x.workload).length,
      missed: o.match.filter((x) => !known(x)).length,
    },
    laterCaptures: {
      asked: o.laterCaptures.length,
      right: o.laterCaptures.filter((c) => majority(c.chunks, threshold).answer === c.workload).length,
      wrongKnown: o.laterCaptures.filter((c) => !['new', c.workload].includes(majority(c.chunks, threshold).answer)).length,
    },
  };
}

export interface Totals {
  /** Share of new-workload queries answered "new", and the count answered "known". */
  detection: number;
  detectionQueries: number;
  falseKnown: number;
  /** Whole held-out streams and traces answered "known". */
  wholeStreamsFalseKnown: number;
  wholeStreams: number;
  wholeTracesFalseKnown: number;
  /** Share of same-workload queries answered with the right workload; those answered with another (false known) and "new". */
  match: number;
  matchQueries: number;
  wrongKnown: number;
  missed: number;
  /** Whole later captures asked at once: answered with the right workload, with another (false known). */
  laterCaptures: number;
  laterCapturesRight: number;
  laterCapturesWrongKnown: number;
}

export function totals(rows: readonly SourceFigures[]): Totals {
  const sum = (f: (r: SourceFigures) => number) => rows.reduce((s, r) => s + f(r), 0);
  const dq = sum((r) => r.detection.queries);
  const mq = sum((r) => r.match.queries);
  return {
    detection: dq ? 1 - sum((r) => r.detection.falseKnown) / dq : NaN,
    detectionQueries: dq,
    falseKnown: sum((r) => r.detection.falseKnown),
    wholeStreamsFalseKnown: sum((r) => r.wholeStreams.falseKnown.length),
    wholeStreams: sum((r) => r.wholeStreams.asked),
    wholeTracesFalseKnown: rows.filter((r) => r.wholeTrace.answer !== 'new').length,
    match: mq ? sum((r) => r.match.right) / mq : NaN,
    matchQueries: mq,
    wrongKnown: sum((r) => r.match.wrongKnown),
    missed: sum((r) => r.match.missed),
    laterCaptures: sum((r) => r.laterCaptures.asked),
    laterCapturesRight: sum((r) => r.laterCaptures.right),
    laterCapturesWrongKnown: sum((r) => r.laterCaptures.wrongKnown),
  };
}
