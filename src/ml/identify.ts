/**
 * Workload identification: given windows of a trace and the workloads
 * already known, answer "known: which one, at what distance, how confident"
 * or "new".
 *
 * Two methods, same interface, so they can be compared side by side:
 * - 'network': distance between the query's centroid embedding (mean of its
 *   windows' embeddings, renormalised) and each known workload's centroid
 *   embedding or, nearer, one of its phase centroids (modes: workloads change
 *   over time, and one centroid of all phases lies near none of them; on the
 *   model card's six held-out draws this raised match on every draw, mean
 *   94.2% -> 95.4%, and raised or kept validation balanced accuracy on every
 *   draw, with detection 97.7% -> 97.5%), from the similarity network, divided by that workload's
 *   radius (how far its own queries fall from its centroid). Workloads are
 *   not equally tight in embedding space; a fixed radius lets a broad one
 *   swallow unseen workloads while a tight one rejects its own queries
 *   (measured: radius scaling raised same-workload accuracy from 49% to 72%
 *   at equal new-workload detection on the held-out data of the model card);
 * - 'pca': plain Euclidean distance between the query's centre in the 2-D
 *   PCA space (mean of its windows' projections, i.e. the k-means centre of
 *   a one-cluster fit) and each known workload's PCA centre.
 * The nearest known workload is the answer when its distance is at most the
 * threshold calibrated on validation data (stored with the model). Before
 * either: a stored workload profiled from the very same windows is known
 * outright (exactMatch).
 *
 * Confidence: for "known", 1 - d/threshold (1 at distance 0, 0 at the
 * threshold); for "new", min(1, d/threshold - 1). It says how far from the
 * decision boundary the answer is, not a calibrated probability.
 *
 * Long queries: thresholds are calibrated for queries of the model's
 * queryWindows windows, and the centroid of a whole long trace mixes its
 * phases into a point none of them is near. So a longer query is cut into
 * chunks of queryWindows windows (at most MAX_CHUNKS, evenly spread), each is
 * decided alone, and the majority answer wins; nearest and distance are those
 * of the agreeing chunk of median distance, and the confidence is the agreeing
 * share times the agreeing chunks' median confidence.
 */
import { ERR_FEATURES_TOO_SHORT, ERR_ML_DEGENERATE } from '../errors.js';
import { assertFiniteVector } from '../features/descriptors.js';
import type { SimilarityInfo, SimilarityModel } from './model-io.js';
import { projectPca } from './pca.js';
import { centroid, distance, embed } from './similarity.js';
import { standardize } from './standardize.js';

export interface KnownWorkload {
  id: string;
  name: string;
  /** Unit-length centroid of the workload's window embeddings. */
  centroidEmbedding: number[];
  /**
   * Unit-length centroids of consecutive time segments of its windows (its
   * phases); a query's network distance is to the nearest of these and the
   * centroid. Absent for workloads too short to segment.
   */
  modes?: number[][];
  /**
   * Spread of the workload in embedding space (embeddingSpread, shrunk
   * towards the model's typical radius by shrunkRadius), at least
   * MIN_RADIUS. Network distances are in units of this radius.
   */
  embeddingRadius: number;
  /** Mean of the workload's window projections in the model's PCA space. */
  pcaCentre: number[];
  /** Mean raw descriptor vector of the workload's windows (DESCRIPTOR_VECTOR_NAMES order). */
  descriptors: number[];
  /**
   * The workload's measured spread (embeddingSpread p90) in units of the
   * model's typical radius, before shrinkage and cap; set by profileWorkload.
   * Far above 1 (a short or mixed trace), the capped radius makes even the
   * workload's own later queries look new: only the exact-match rule will
   * recognise it reliably.
   */
  spreadRatio?: number;
  /**
   * False when the embedding and PCA centre come from another model (a
   * profile stored before a retrain): only the exact-match rule, which
   * compares raw descriptors, can recognise it. Default true.
   */
  comparable?: boolean;
}

/** Where known workloads live: this in-memory store now, the ConfDB later (same interface). */
export interface WorkloadStore {
  list(): Promise<readonly KnownWorkload[]>;
}

export class MemoryWorkloadStore implements WorkloadStore {
  private readonly items = new Map<string, KnownWorkload>();
  put(w: KnownWorkload): void {
    this.items.set(w.id, w);
  }
  async list(): Promise<readonly KnownWorkload[]> {
    return [...this.items.values()];
  }
}

/**
 * 'both': known only when the network and the PCA baseline, each against its
 * own stored threshold, name the same workload (distance and threshold are the
 * network's, confidence the smaller of the two). More cautious: on the model
 * card's test data it rejects more unseen workloads and accepts fewer known ones.
 */
export type Method = 'network' | 'pca' | 'both';

/** Floor of a workload radius (embedding distance, 0..2): a workload seen in a single query has no spread to measure. */
export const MIN_RADIUS = 0.02;

export interface Identification {
  kind: 'known' | 'new';
  method: Method;
  /** The nearest known workload (the answer when kind is 'known'); absent when the store is empty. */
  nearest?: { id: string; name: string; distance: number };
  /** Distance to the nearest known workload (Infinity when the store is empty). */
  distance: number;
  threshold: number;
  confidence: number;
  /** Windows the answer is based on. */
  windows: number;
  /** The query's windows are those the workload was profiled from (same mean descriptors): known without a distance test. */
  exact?: boolean;
}

/** The per-method signature of a set of windows: centroid embedding or PCA centre. */
export interface Signature {
  centroidEmbedding: number[];
  pcaCentre: number[];
  descriptors: number[];
}

function checkWindows(m: SimilarityInfo, windows: readonly ArrayLike<number>[]): void {
  if (windows.length === 0) throw ERR_FEATURES_TOO_SHORT('query', `no complete window of ${m.meta.windowSize} requests to identify`);
  for (const w of windows) {
    if (w.length !== m.meta.shape.inputDim) throw ERR_ML_DEGENERATE(`window vector has ${w.length} components, the model expects ${m.meta.shape.inputDim}`);
    assertFiniteVector(w, 'query window');
  }
}

/** Component-wise mean of equal-length rows. */
function meanOf(rows: readonly ArrayLike<number>[]): number[] {
  const out = new Array<number>(rows[0]!.length).fill(0);
  for (const r of rows) for (let j = 0; j < out.length; j++) out[j]! += r[j]! / rows.length;
  return out;
}

/** The windows' embeddings from the similarity network. */
export function embedWindows(m: SimilarityModel, windows: readonly ArrayLike<number>[]): number[][] {
  return embed(m.model, windows.map((w) => standardize(m.meta.scaler, w)));
}

/** The windows' embeddings: the caller's (`embedded`, computed on the ML worker), else the network's here. */
function embeddingsOf(m: SimilarityInfo | SimilarityModel, windows: readonly ArrayLike<number>[], embedded: readonly number[][] | undefined): readonly number[][] {
  if (embedded) return embedded;
  if (!('model' in m)) throw new Error('identification from the model metadata alone needs the windows\' embeddings (src/ml/worker.ts embedOffThread)');
  return embedWindows(m, windows);
}

/** The signature of windows whose embeddings are already at hand. */
function signatureOf(m: SimilarityInfo, windows: readonly ArrayLike<number>[], emb: readonly number[][]): Signature {
  return { centroidEmbedding: centroid(emb), pcaCentre: meanOf(windows.map((w) => projectPca(m.meta.pca, w))), descriptors: meanOf(windows) };
}

export function signature(m: SimilarityModel, windows: readonly ArrayLike<number>[]): Signature {
  checkWindows(m, windows);
  return signatureOf(m, windows, embedWindows(m, windows));
}

/** Groups of `q` consecutive windows used to measure a workload's spread, at most this many (evenly spread). */
export const MAX_RADIUS_GROUPS = 256;

/**
 * The raw spread of a workload: the 90th percentile, over every run of `q`
 * consecutive windows (overlapping, so a workload of 9 windows gives 6 runs
 * instead of 2), of the distance between the run's centroid embedding and
 * the centroid of the workload's OTHER windows (leave-run-out: a run always
 * sits close to a centroid it helped make, which made small workloads look
 * tight and rejected their own later queries). `n` is the number of runs.
 */
export function embeddingSpread(emb: readonly number[][], q: number): { p90: number; n: number } {
  const dim = emb[0]!.length;
  const total = new Array<number>(dim).fill(0);
  for (const e of emb) for (let j = 0; j < dim; j++) total[j]! += e[j]!;
  const runs = emb.length - q + 1;
  if (runs < 1 || emb.length - q < 1) return { p90: 0, n: 0 };
  const take = Math.min(runs, MAX_RADIUS_GROUPS);
  const d: number[] = [];
  for (let g = 0; g < take; g++) {
    const i = Math.floor((g * runs) / take);
    const run = emb.slice(i, i + q);
    const rest = total.slice();
    for (const e of run) for (let j = 0; j < dim; j++) rest[j]! -= e[j]!;
    d.push(distance(centroid(run), centroid([rest])));
  }
  d.sort((a, b) => a - b);
  return { p90: d[Math.min(d.length - 1, Math.ceil(0.9 * d.length) - 1)]!, n: d.length };
}

/**
 * Radius with shrinkage towards the model's typical radius (meta.radiusPrior,
 * measured on the training workloads): r^2 = (n r_k^2 + n0 r0^2) / (n + n0).
 * A workload seen in a handful of windows has a spread estimate that is
 * mostly noise; the prior weighs like meta.radiusPriorWeight runs of it.
 *
 * Capped at meta.radiusCap x r0: distances are divided by the radius, so a
 * broad workload (a short, noisy sample; a trace mixing phases) would accept
 * anything inside a ball of threshold x its radius. Measured: the 1,000-request
 * MSR sample alone in the store, radius 0.74 uncapped, answered "known: MSR"
 * for the WebSearch, MSNFS, CloudPhysics and Hadoop traces. A capped workload
 * rejects some of its own far-flung queries instead (learning anew is the
 * cheaper mistake than reusing a wrong configuration).
 */
export function shrunkRadius(m: SimilarityInfo, spread: { p90: number; n: number }): number {
  const r0 = m.meta.radiusPrior ?? 0;
  const n0 = r0 > 0 ? (m.meta.radiusPriorWeight ?? 0) : 0;
  const r = spread.n + n0 > 0 ? Math.sqrt((spread.n * spread.p90 ** 2 + n0 * r0 ** 2) / (spread.n + n0)) : 0;
  const cap = r0 > 0 && m.meta.radiusCap !== undefined ? m.meta.radiusCap * r0 : Infinity;
  return Math.max(MIN_RADIUS, Math.min(r, cap));
}

/** Time segments a workload's phases are summarised in, at most; each holds at least 2 queries' worth of windows. */
export const MAX_MODES = 8;

function modesOf(emb: readonly number[][], q: number): number[][] | undefined {
  const k = Math.min(MAX_MODES, Math.floor(emb.length / (2 * q)));
  if (k < 2) return undefined;
  return Array.from({ length: k }, (_, i) => centroid(emb.slice(Math.floor((i * emb.length) / k), Math.floor(((i + 1) * emb.length) / k))));
}

/** A known-workload record for the store, from windows of that workload. */
export function profileWorkload(m: SimilarityInfo | SimilarityModel, id: string, name: string, windows: readonly ArrayLike<number>[], embedded?: readonly number[][]): KnownWorkload {
  checkWindows(m, windows);
  // One pass through the network serves the centroid, the phases and the spread (or the caller's, `embedded`).
  const emb = embeddingsOf(m, windows, embedded);
  if (emb.length !== windows.length) throw ERR_ML_DEGENERATE(`${emb.length} embeddings given for ${windows.length} windows`);
  const sig = signatureOf(m, windows, emb);
  const modes = modesOf(emb, m.meta.queryWindows);
  const spread = embeddingSpread(emb, Math.min(m.meta.queryWindows, windows.length));
  const r0 = m.meta.radiusPrior ?? 0;
  return { id, name, ...sig, ...(modes ? { modes } : {}), embeddingRadius: shrunkRadius(m, spread), ...(spread.n > 0 && r0 > 0 ? { spreadRatio: spread.p90 / r0 } : {}) };
}

/** Embedding distance from a query's centroid to a workload: to its centroid or the nearest of its phase centroids. */
function networkDistance(sig: Signature, k: KnownWorkload): number {
  let d = distance(sig.centroidEmbedding, k.centroidEmbedding);
  for (const c of k.modes ?? []) d = Math.min(d, distance(sig.centroidEmbedding, c));
  return d;
}

/** Decide from a signature (shared by identify() and the evaluation, which reuses signatures). */
export function decide(m: SimilarityInfo, sig: Signature, known: readonly KnownWorkload[], method: Method, windows: number): Identification {
  if (method === 'both') {
    const a = decide(m, sig, known, 'network', windows);
    const b = decide(m, sig, known, 'pca', windows);
    const agree = a.kind === 'known' && b.kind === 'known' && a.nearest!.id === b.nearest!.id;
    const confidence = agree ? Math.min(a.confidence, b.confidence) : a.kind === 'new' ? a.confidence : b.kind === 'new' ? b.confidence : 0;
    return { ...a, kind: agree ? 'known' : 'new', method, confidence };
  }
  const threshold = method === 'network' ? m.meta.threshold : m.meta.pcaThreshold;
  let best: KnownWorkload | undefined;
  let bd = Infinity;
  for (const k of known) {
    if (k.comparable === false) continue;
    const d = method === 'network' ? networkDistance(sig, k) / k.embeddingRadius : distance(sig.pcaCentre, k.pcaCentre);
    if (d < bd) {
      bd = d;
      best = k;
    }
  }
  const isKnown = best !== undefined && bd <= threshold;
  return {
    kind: isKnown ? 'known' : 'new',
    method,
    ...(best ? { nearest: { id: best.id, name: best.name, distance: bd } } : {}),
    distance: bd,
    threshold,
    confidence: isKnown ? 1 - bd / threshold : Math.min(1, Number.isFinite(bd) ? bd / threshold - 1 : 1),
    windows,
  };
}

export const MAX_CHUNKS = 64;

const median = (x: number[]) => {
  const s = x.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * A stored workload profiled from exactly these windows (its mean descriptor
 * vector equals the query's to rounding). The same trace asked again must be
 * known whatever its spread: a short, noisy trace (the 1,000-request MSR sample
 * spreads 10x the typical radius) otherwise fails its own distance test once
 * radii are capped.
 */
function exactMatch(windows: readonly ArrayLike<number>[], known: readonly KnownWorkload[]): KnownWorkload | undefined {
  const mean = meanOf(windows);
  return known.find((k) => k.descriptors.length === mean.length && k.descriptors.every((v, j) => Math.abs(v - mean[j]!) <= 1e-9 * Math.max(1, Math.abs(v))));
}

/**
 * `embedded`: the windows' embeddings when the caller computed them already
 * (off the event loop: src/ml/worker.ts); otherwise they are computed here.
 */
export async function identify(m: SimilarityInfo | SimilarityModel, windows: readonly ArrayLike<number>[], store: WorkloadStore, method: Method = 'network', embedded?: readonly number[][]): Promise<Identification> {
  checkWindows(m, windows);
  if (embedded !== undefined && embedded.length !== windows.length) throw ERR_ML_DEGENERATE(`${embedded.length} embeddings given for ${windows.length} windows`);
  // The signature of windows [start, end): only the windows a decision reads are embedded.
  const sig = (start: number, end: number) => {
    const w = windows.slice(start, end);
    return signatureOf(m, w, embeddingsOf(m, w, embedded?.slice(start, end)));
  };
  const known = await store.list();
  const same = exactMatch(windows, known);
  if (same) {
    const threshold = method === 'pca' ? m.meta.pcaThreshold : m.meta.threshold;
    return { kind: 'known', method, nearest: { id: same.id, name: same.name, distance: 0 }, distance: 0, threshold, confidence: 1, windows: windows.length, exact: true };
  }
  const q = m.meta.queryWindows;
  const n = Math.floor(windows.length / q);
  if (n <= 1) return decide(m, sig(0, windows.length), known, method, windows.length);
  const take = Math.min(n, MAX_CHUNKS);
  const votes = new Map<string, Identification[]>();
  for (let c = 0; c < take; c++) {
    const start = Math.floor((c * n) / take) * q;
    const r = decide(m, sig(start, start + q), known, method, q);
    const key = r.kind === 'known' ? `known:${r.nearest!.id}` : 'new';
    const g = votes.get(key) ?? [];
    g.push(r);
    votes.set(key, g);
  }
  // Majority; ties go to "new" (the cautious answer: learning a configuration beats reusing a wrong one).
  const [, winners] = [...votes.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] === 'new' ? -1 : b[0] === 'new' ? 1 : 0))[0]!;
  // Report the agreeing chunk of median distance (its nearest workload and distance belong together).
  const rep = winners.slice().sort((a, b) => a.distance - b.distance)[Math.floor((winners.length - 1) / 2)]!;
  return { ...rep, confidence: (winners.length / take) * median(winners.map((w) => w.confidence)), windows: windows.length };
}
