/**
 * Workload identification: given the window vectors of a trace, one list per
 * device stream, and the workloads already known, answer "known: which one"
 * or "new", with the nearest stored workloads, their distances and how sure
 * the answer is.
 *
 * Windows never mix devices: a trace is described per device stream (as the
 * training data is, data.ts), and a query is `queryWindows` consecutive
 * windows of ONE stream (a chunk).
 *
 * Distance of a chunk to a stored workload, by method:
 * - 'network': embedding distance (0..2) from the chunk's centroid embedding
 *   (mean of its windows' embeddings, renormalised) to the workload's centroid
 *   or, nearer, one of its phase centroids (modes: consecutive time segments
 *   of each of its streams; a workload changes over time and one centroid of
 *   all phases lies near none of them);
 * - 'pca': Euclidean distance between the chunk's centre in the model's 2-D
 *   PCA plane and the workload's (the plain LearnedSSD baseline).
 * No per-workload radius: a radius measured on the workload's own windows
 * did not make distances of unseen workloads more comparable. Measured leave
 * one source out (MODEL_CARD.md), dividing by it lost same-workload matches at
 * equal false-known rate, capping it made every radius the cap.
 *
 * Decision: a chunk votes for its nearest workload when that distance is at
 * most the calibrated threshold (calibration.ts), else for "new". The answer
 * is "known" only when one workload holds at least two thirds of the chunks,
 * and at least MIN_KNOWN_CHUNKS of them; otherwise "new" (when unsure, learning
 * anew is the cheaper mistake: see knownByVote). At most
 * MAX_CHUNKS chunks are asked, spread evenly over the trace's streams. A
 * query without one full chunk is "new": the threshold says nothing about
 * fewer windows.
 *
 * Confidence: each chunk's probability that its nearest workload is its own,
 * from the distance (calibration.ts, fitted leave-one-source-out); the answer's
 * confidence is the mean, over chunks, of the probability that the chunk
 * supports it (known W: p for chunks nearest to W, 0 for the others; new: 1 - p).
 *
 * Before any distance: a stored workload profiled from the very same windows
 * (same mean descriptor vector) is known outright (exact).
 */
import { ERR_FEATURES_TOO_SHORT, ERR_ML_DEGENERATE } from '../errors.js';
import { assertFiniteVector, DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import { sameWorkloadProbability } from './calibration.js';
import type { SimilarityInfo, SimilarityModel } from './model-io.js';
import { projectPca } from './pca.js';
import { KnownWorkloads, medianDistance, scanChunks, type KnownWorkload, type Method, type RateTest } from './known-workloads.js';
import { centroid, distance, embed } from './similarity.js';
import { standardize } from './standardize.js';

export type { KnownWorkload, Method } from './known-workloads.js';

/**
 * Where known workloads live: the ConfDB (service/workload-store.ts) or
 * memory. `known()` gives them packed for the scan (known-workloads.ts). A
 * cache that follows the store may append to what it gave (workloads stored
 * since), never take from it.
 */
export interface WorkloadStore {
  known(): Promise<KnownWorkloads>;
}

export class MemoryWorkloadStore implements WorkloadStore {
  private readonly items = new Map<string, KnownWorkload>();
  put(w: KnownWorkload): void {
    this.items.set(w.id, w);
  }
  async known(): Promise<KnownWorkloads> {
    return KnownWorkloads.of([...this.items.values()]);
  }
}

export const METHODS: readonly Method[] = ['network', 'pca'];

/** Window vectors of a trace, one list per device stream (in time order within each). */
export type WindowStreams = readonly (readonly ArrayLike<number>[])[];
/** The similarity network's embeddings of WindowStreams, stream by stream, window by window. */
export type EmbeddedStreams = readonly (readonly number[][])[];

export interface Candidate {
  id: string;
  name: string;
  /** Median, over the query's chunks, of the distance to this workload. */
  distance: number;
  /**
   * Chunks whose rate lies outside this workload's by more than the model's
   * intensity factor (KnownWorkloads.rateFits): they could not vote for it,
   * however near. Absent when none.
   */
  outOfRate?: number;
}

export interface Identification {
  kind: 'known' | 'new';
  method: Method;
  /** The answer's workload when known; the nearest stored workload when new (absent when nothing comparable is stored). */
  nearest?: Candidate;
  /** nearest.distance (Infinity when nothing comparable is stored). */
  distance: number;
  threshold: number;
  /** How sure the answer is, 0..1 (see the module comment). */
  confidence: number;
  /** Windows and device streams the answer is based on. */
  windows: number;
  streams: number;
  /** Chunks asked, and their votes: workload id or "new" -> chunks. */
  chunks: number;
  votes: Record<string, number>;
  /** The nearest stored workloads, nearest first (at most `candidates` of identify's options). */
  candidates: Candidate[];
  /** The query's windows are those the workload was profiled from (same mean descriptors): known without a distance test. */
  exact?: boolean;
  /**
   * No device stream holds queryWindows windows: the threshold is not
   * calibrated for so little, so the answer is "new" (confidence 0); the
   * candidates are still measured on what there is.
   */
  short?: boolean;
}

/** The per-method signature of a set of windows. */
export interface Signature {
  centroidEmbedding: number[];
  pcaCentre: number[];
  /** Mean inter-arrival gap of the windows' requests, µs (meanGapUs): the intensity a stored workload's range is checked against. */
  gapUs: number;
}

const IAT_MEAN = DESCRIPTOR_VECTOR_NAMES.indexOf('ln1p(iatMean)');

/**
 * Mean inter-arrival gap over windows, µs: the mean of their mean gaps (each
 * window holds as many requests, so this is the gap of all their requests
 * together), from the vector's ln1p(iatMean). A copy of the trace replayed k
 * times slower has exactly k times this gap.
 */
export function meanGapUs(windows: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const w of windows) s += Math.expm1(w[IAT_MEAN]!);
  return s / windows.length;
}

/**
 * The range of intensity a workload was seen at: the 5th and 95th
 * percentile, over runs of `q` consecutive windows of one stream
 * (overlapping), of the run's mean gap (µs). A stream shorter than q counts
 * as one run. The tails are left out so that one idle or burst run of a long
 * trace does not widen the range by itself.
 */
export function gapRange(streams: WindowStreams, q: number): [number, number] {
  const gaps: number[] = [];
  for (const s of streams) {
    if (s.length > 0 && s.length < q) gaps.push(meanGapUs(s));
    for (let i = 0; i + q <= s.length; i++) gaps.push(meanGapUs(s.slice(i, i + q)));
  }
  gaps.sort((a, b) => a - b);
  const at = (p: number) => gaps[Math.min(gaps.length - 1, Math.max(0, Math.ceil(p * gaps.length) - 1))]!;
  return [at(0.05), at(0.95)];
}

function checkStreams(m: SimilarityInfo, streams: WindowStreams): number {
  let n = 0;
  for (const s of streams) {
    for (const w of s) {
      if (w.length !== m.meta.shape.inputDim) throw ERR_ML_DEGENERATE(`window vector has ${w.length} components, the model expects ${m.meta.shape.inputDim}`);
      assertFiniteVector(w, 'query window');
    }
    n += s.length;
  }
  if (n === 0) throw ERR_FEATURES_TOO_SHORT('query', `no complete window of ${m.meta.windowSize} requests to identify`);
  return n;
}

/** Embeddings a caller passes must be one per window of each stream. */
function checkEmbedded(streams: WindowStreams, embedded: EmbeddedStreams | undefined): void {
  if (embedded === undefined) return;
  const got = embedded.map((e) => e.length).join(',');
  const want = streams.map((s) => s.length).join(',');
  if (got !== want) throw ERR_ML_DEGENERATE(`embeddings given per stream [${got}] for windows per stream [${want}]`);
}

/** Component-wise mean of equal-length rows. */
function meanOf(rows: readonly ArrayLike<number>[]): number[] {
  const out = new Array<number>(rows[0]!.length).fill(0);
  for (const r of rows) for (let j = 0; j < out.length; j++) out[j]! += r[j]! / rows.length;
  return out;
}

/** The windows' embeddings from the similarity network. */
export function embedWindows(m: SimilarityModel, windows: readonly ArrayLike<number>[]): number[][] {
  return embed(
    m.model,
    windows.map((w) => standardize(m.meta.scaler, w)),
  );
}

/** The model with its network, to embed here: the metadata alone (a serve process, whose ML worker embeds) needs the caller's embeddings. */
function networkOf(m: SimilarityInfo | SimilarityModel): SimilarityModel {
  if (!('model' in m)) throw new Error("identification from the model metadata alone needs the windows' embeddings (src/ml/worker.ts embedOffThread)");
  return m;
}

/** The signature of windows whose embeddings are already at hand. */
export function signatureOf(m: SimilarityInfo, windows: readonly ArrayLike<number>[], emb: readonly number[][]): Signature {
  return { centroidEmbedding: centroid(emb), pcaCentre: meanOf(windows.map((w) => projectPca(m.meta.pca, w))), gapUs: meanGapUs(windows) };
}

export function signature(m: SimilarityModel, windows: readonly ArrayLike<number>[]): Signature {
  if (windows.length === 0) throw ERR_FEATURES_TOO_SHORT('query', 'no window');
  return signatureOf(m, windows, embedWindows(m, windows));
}

/** Runs of `q` consecutive windows the spread is measured on, at most this many per workload (evenly spread). */
export const MAX_SPREAD_RUNS = 256;

/**
 * The spread of a workload: the 90th percentile, over runs of `q` consecutive
 * windows of one stream (overlapping), of the distance between the run's
 * centroid embedding and the centroid of the workload's OTHER windows. `n` is
 * the number of runs (0 when no stream has more than q windows).
 */
export function embeddingSpread(streams: readonly (readonly number[][])[], q: number): { p90: number; n: number } {
  const all = streams.flat();
  if (all.length === 0) return { p90: 0, n: 0 };
  const dim = all[0]!.length;
  const total = new Array<number>(dim).fill(0);
  for (const e of all) for (let j = 0; j < dim; j++) total[j]! += e[j]!;
  const runs: (readonly number[][])[] = [];
  for (const s of streams) for (let i = 0; i + q <= s.length; i++) runs.push(s.slice(i, i + q));
  if (runs.length === 0 || all.length <= q) return { p90: 0, n: 0 };
  const take = Math.min(runs.length, MAX_SPREAD_RUNS);
  const d: number[] = [];
  for (let g = 0; g < take; g++) {
    const run = runs[Math.floor((g * runs.length) / take)]!;
    const rest = total.slice();
    for (const e of run) for (let j = 0; j < dim; j++) rest[j]! -= e[j]!;
    d.push(distance(centroid(run), centroid([rest])));
  }
  d.sort((a, b) => a - b);
  return { p90: d[Math.min(d.length - 1, Math.ceil(0.9 * d.length) - 1)]!, n: d.length };
}

/**
 * Phase centroids per stream, at most; each holds at least 2 queries' worth of
 * windows. Many small phases rather than a few: real traces return to earlier
 * behaviour in bursts (CloudPhysics alternates four), and a query is near one
 * of them, not near an average of several.
 */
export const MAX_MODES = 64;
/** Phase centroids per workload, at most (a trace of many volumes keeps those of its longest streams). */
export const MAX_MODES_TOTAL = 128;

function modesOf(streams: readonly (readonly number[][])[], q: number): number[][] | undefined {
  const per = streams.map((e) => Math.min(MAX_MODES, Math.floor(e.length / (2 * q))));
  const order = streams.map((_, i) => i).sort((a, b) => streams[b]!.length - streams[a]!.length);
  const out: number[][] = [];
  for (const i of order) {
    const e = streams[i]!;
    const k = Math.min(per[i]!, MAX_MODES_TOTAL - out.length);
    // One segment is the stream's own centroid: worth a mode only when the workload has several streams.
    if (k < 2 && !(k === 1 && streams.length > 1)) continue;
    for (let j = 0; j < k; j++) out.push(centroid(e.slice(Math.floor((j * e.length) / k), Math.floor(((j + 1) * e.length) / k))));
  }
  return out.length >= 2 ? out : undefined;
}

/**
 * A known-workload record for the store, from the windows of that workload
 * (one list per device stream). `embedded`: the windows' embeddings, per
 * stream, when the caller computed them already (off the event loop:
 * src/ml/worker.ts); otherwise they are computed here.
 */
export function profileWorkload(
  m: SimilarityInfo | SimilarityModel,
  id: string,
  name: string,
  streams: WindowStreams,
  embedded?: EmbeddedStreams,
): KnownWorkload {
  checkStreams(m, streams);
  checkEmbedded(streams, embedded);
  const kept = streams.map((_, i) => i).filter((i) => streams[i]!.length > 0);
  const windows = kept.flatMap((i) => streams[i]!);
  // One pass through the network serves the centroid, the phases and the spread (or the caller's).
  let emb: (readonly number[][])[];
  if (embedded) emb = kept.map((i) => embedded[i]!);
  else {
    const all = embedWindows(networkOf(m), windows);
    emb = [];
    let at = 0;
    for (const i of kept) {
      emb.push(all.slice(at, at + streams[i]!.length));
      at += streams[i]!.length;
    }
  }
  const modes = modesOf(emb, m.meta.queryWindows);
  const spread = embeddingSpread(emb, m.meta.queryWindows);
  const typical = m.meta.typicalSpread;
  return {
    id,
    name,
    ...signatureOf(m, windows, emb.flat()),
    descriptors: meanOf(windows),
    arrivalGapUs: gapRange(
      kept.map((i) => streams[i]!),
      m.meta.queryWindows,
    ),
    ...(modes ? { modes } : {}),
    ...(spread.n > 0 ? { spread: spread.p90, ...(typical > 0 ? { spreadRatio: spread.p90 / typical } : {}) } : {}),
  };
}

/** The rows a signature is compared with by `method`, packed (one chunk per row). */
function queryRows(sigs: readonly Signature[], method: Method): Float64Array {
  const rows = sigs.map((g) => (method === 'network' ? g.centroidEmbedding : g.pcaCentre));
  const dim = rows[0]?.length ?? 0;
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, j) => out.set(r.length === dim ? r : new Array<number>(dim).fill(NaN), j * dim));
  return out;
}

/** The intensity test of a model for these chunks (none when the model has no intensity factor). */
function rateTest(m: SimilarityInfo, sigs: readonly Signature[]): RateTest | undefined {
  const factor = m.meta.intensityFactor ?? 0;
  return factor > 0 ? { gapUs: sigs.map((g) => g.gapUs), factor } : undefined;
}

/** The nearest comparable stored workload of a signature its intensity allows (ties: the earlier one) and its distance (Infinity: none). */
export function nearestOf(m: SimilarityInfo, sig: Signature, known: KnownWorkloads, method: Method): { nearest?: KnownWorkload; distance: number } {
  const r = scanChunks(known, method, queryRows([sig], method), 1, 1, rateTest(m, [sig]));
  const i = r.nearest[0]!;
  return { ...(i >= 0 ? { nearest: known.items[i]! } : {}), distance: r.distance[0]! };
}

export const thresholdOf = (m: SimilarityInfo, method: Method) => (method === 'network' ? m.meta.threshold : m.meta.pcaThreshold);
const curveOf = (m: SimilarityInfo, method: Method) => (method === 'network' ? m.meta.confidence : m.meta.pcaConfidence);

/**
 * Chunks that must agree on a workload for the answer "known": one chunk (a
 * single query of queryWindows windows) is wrong about 1% of the time on
 * workloads it has never seen (MODEL_CARD.md), and a "known" answer reuses a
 * configuration without a search. Shorter queries are "new" unless exact.
 */
export const MIN_KNOWN_CHUNKS = 2;

/**
 * The reject option of a whole query: "known" needs `top` of the `chunks` to
 * vote for one workload, at least two thirds of them and MIN_KNOWN_CHUNKS. A
 * bare majority let a workload whose chunks split between a stored workload
 * and "new" take that workload's configuration: fio OLTP spread over MSNFS's
 * LBA range (the TPC-C case) had 35 of 64 chunks within the threshold
 * of MSNFS. Effect leave one source out: MODEL_CARD.md (whole later captures).
 */
export function knownByVote(top: number, chunks: number): boolean {
  return top * 3 >= chunks * 2 && top >= MIN_KNOWN_CHUNKS;
}

/** Chunks asked per query, at most (evenly spread over the trace's streams). */
export const MAX_CHUNKS = 64;

/**
 * The chunks of a query, as [stream, first window, end] ranges: `q`
 * consecutive windows of one stream (the remainder of a stream is left out),
 * at most `max`, evenly spread over the streams' chunks.
 */
export function chunkRanges(lengths: readonly number[], q: number, max = MAX_CHUNKS): [number, number, number][] {
  const all: [number, number, number][] = [];
  lengths.forEach((n, s) => {
    for (let i = 0; i + q <= n; i += q) all.push([s, i, i + q]);
  });
  if (all.length <= max) return all;
  return Array.from({ length: max }, (_, i) => all[Math.floor((i * all.length) / max)]!);
}

/**
 * Decide from the signatures of a query's chunks (see the module comment):
 * each chunk votes for its nearest workload within the threshold, else "new";
 * the candidates are the workloads of smallest median distance over the chunks.
 */
export function decideChunks(
  m: SimilarityInfo,
  sigs: readonly Signature[],
  known: KnownWorkloads,
  method: Method,
  windows: number,
  streams: number,
  maxCandidates = 5,
): Identification {
  const threshold = thresholdOf(m, method);
  const curve = curveOf(m, method);
  const queries = queryRows(sigs, method);
  const rate = rateTest(m, sigs);
  const scan = scanChunks(known, method, queries, sigs.length, Math.max(1, maxCandidates), rate);
  const chunks = Array.from(scan.nearest, (i, j) => ({ id: i >= 0 ? known.items[i]!.id : undefined, distance: scan.distance[j]! }));
  const votes: Record<string, number> = {};
  for (const c of chunks) {
    const key = c.id !== undefined && c.distance <= threshold ? c.id : 'new';
    votes[key] = (votes[key] ?? 0) + 1;
  }
  const [top, topVotes] = Object.entries(votes).sort((a, b) => b[1] - a[1])[0]!;
  const isKnown = top !== 'new' && knownByVote(topVotes, chunks.length);
  const candidate = (i: number, distance: number): Candidate => {
    const out = rate ? sigs.filter((g) => !known.rateFits(i, g.gapUs, rate.factor)).length : 0;
    return { id: known.items[i]!.id, name: known.items[i]!.name, distance, ...(out > 0 ? { outOfRate: out } : {}) };
  };
  const ranked = scan.closest.map((i, r) => candidate(i, scan.medians[r]!));
  const candidates = ranked.slice(0, maxCandidates);
  // The voted workload need not be among the closest medians: its own median, computed in full.
  const voted = isKnown ? scan.nearest[chunks.findIndex((c) => c.id === top)]! : -1;
  const nearest = isKnown ? candidate(voted, medianDistance(known, method, queries, sigs.length, voted)) : ranked[0];
  const p = chunks.map((c) => sameWorkloadProbability(curve, c.distance));
  const confidence = isKnown
    ? chunks.reduce((s, c, i) => s + (c.id === top ? p[i]! : 0), 0) / chunks.length
    : p.reduce((s, x) => s + (1 - x), 0) / chunks.length;
  return {
    kind: isKnown ? 'known' : 'new',
    method,
    ...(nearest ? { nearest } : {}),
    distance: nearest?.distance ?? Infinity,
    threshold,
    confidence,
    windows,
    streams,
    chunks: chunks.length,
    votes,
    candidates,
  };
}

/**
 * A stored workload profiled from exactly these windows (its mean descriptor
 * vector equals the query's to rounding): the same trace asked again is known
 * whatever its spread.
 */
function exactMatch(windows: readonly ArrayLike<number>[], known: KnownWorkloads): KnownWorkload | undefined {
  return known.exact(meanOf(windows));
}

export interface IdentifyOptions {
  method?: Method;
  /** Nearest stored workloads to report (default 5). */
  candidates?: number;
  /** The windows' embeddings, per stream, when the caller computed them already (off the event loop: src/ml/worker.ts). */
  embedded?: EmbeddedStreams;
}

export async function identify(
  m: SimilarityInfo | SimilarityModel,
  streams: WindowStreams,
  store: WorkloadStore,
  opts: IdentifyOptions = {},
): Promise<Identification> {
  const method = opts.method ?? 'network';
  const windows = checkStreams(m, streams);
  const embedded = opts.embedded;
  checkEmbedded(streams, embedded);
  // The signature of windows [a, b) of stream s: only the windows a decision reads are embedded (unless given).
  const sig = (s: number, a: number, b: number) => {
    const w = streams[s]!.slice(a, b);
    return signatureOf(m, w, embedded ? embedded[s]!.slice(a, b) : embedWindows(networkOf(m), w));
  };
  const nStreams = streams.filter((s) => s.length > 0).length;
  const known = await store.known();
  const same = exactMatch(streams.flat(), known);
  if (same) {
    const hit = { id: same.id, name: same.name, distance: 0 };
    return {
      kind: 'known',
      method,
      nearest: hit,
      distance: 0,
      threshold: thresholdOf(m, method),
      confidence: 1,
      windows,
      streams: nStreams,
      chunks: 0,
      votes: {},
      candidates: [hit],
      exact: true,
    };
  }
  const ranges = chunkRanges(
    streams.map((s) => s.length),
    m.meta.queryWindows,
  );
  if (ranges.length === 0) {
    // Each stream's few windows as one chunk, for the candidates only.
    const sigs = streams.flatMap((w, s) => (w.length > 0 ? [sig(s, 0, w.length)] : []));
    const r = decideChunks(m, sigs, known, method, windows, nStreams, opts.candidates ?? 5);
    const { nearest: _answer, ...rest } = r;
    const nearest = r.candidates[0];
    return { ...rest, kind: 'new', ...(nearest ? { nearest } : {}), distance: nearest?.distance ?? Infinity, confidence: 0, chunks: 0, votes: {}, short: true };
  }
  const sigs = ranges.map(([s, a, b]) => sig(s, a, b));
  return decideChunks(m, sigs, known, method, windows, nStreams, opts.candidates ?? 5);
}
