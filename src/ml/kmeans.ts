/**
 * k-means over PCA coordinates (ml-kmeans, Lloyd iterations, k-means++
 * start from a fixed seed). k is chosen by the mean silhouette coefficient
 * over k = 2..kMax (OtterTune and AutoBlox pick k from the data the same
 * way); `k` overrides the choice.
 *
 * Convergence: tolerance 0, i.e. iterate until the centres stop moving,
 * which is when assignments are stable; scikit-learn's lloyd with tol=0
 * stops at the same fixed point from the same initial centres.
 */
import { kmeans } from 'ml-kmeans';
import { ERR_ML_DEGENERATE, ERR_USAGE } from '../errors.js';
import { assertFiniteVector } from '../features/descriptors.js';

export interface KMeansOptions {
  /** Force this many clusters instead of choosing by silhouette. */
  k?: number;
  /** Largest k tried when choosing (default 8). */
  kMax?: number;
  seed?: number;
  /** Start from these centres (used by the scikit-learn cross-check). */
  initialCentres?: number[][];
  maxIterations?: number;
}

export interface KMeansModel {
  k: number;
  centres: number[][];
  /** Cluster of each fitted point. */
  assignments: number[];
  /** Sum of squared distances of points to their centre. */
  inertia: number;
  iterations: number;
  /** Mean silhouette of the chosen clustering (NaN when k was forced to 1). */
  silhouette: number;
  /** Silhouette per k tried (empty when k was given). */
  scores: { k: number; silhouette: number }[];
}

export const DEFAULT_SEED = 20231028;

function sq(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return s;
}

/** Index of the nearest centre (lowest index on ties, as scikit-learn). */
export function nearestCentre(centres: readonly ArrayLike<number>[], p: ArrayLike<number>): number {
  let best = 0;
  let bd = Infinity;
  for (let c = 0; c < centres.length; c++) {
    const d = sq(centres[c]!, p);
    if (d < bd) {
      bd = d;
      best = c;
    }
  }
  return best;
}

/**
 * Euclidean distance of every pair i < j, row by row. fitKMeans computes it
 * once for all the k it tries: the distances are most of a silhouette's cost
 * and do not depend on the clustering.
 */
export function pairDistances(points: readonly number[][]): Float64Array {
  const n = points.length;
  const out = new Float64Array((n * (n - 1)) / 2);
  let p = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[p++] = Math.sqrt(sq(points[i]!, points[j]!));
  return out;
}

/** Mean silhouette coefficient (Euclidean); points alone in their cluster score 0, as in scikit-learn. */
export function silhouette(points: readonly number[][], labels: readonly number[], k: number, distances = pairDistances(points)): number {
  const n = points.length;
  const counts = new Float64Array(k);
  for (const l of labels) counts[l]!++;
  const sums = clusterDistanceSums(n, labels, k, distances);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = labels[i]!;
    if (counts[own]! <= 1) continue;
    const a = sums[i * k + own]! / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c]! > 0) b = Math.min(b, sums[i * k + c]! / counts[c]!);
    const m = Math.max(a, b);
    if (Number.isFinite(b) && m > 0) total += (b - a) / m;
  }
  return total / n;
}

/**
 * sums[i k + c]: total distance from point i to the points of cluster c. Each
 * pair is visited once and added to both ends; every row still receives its
 * terms in ascending j. (Its own function: V8 optimises this loop while it
 * runs, and the code after it, not yet run, would throw that away.)
 */
function clusterDistanceSums(n: number, labels: readonly number[], k: number, distances: Float64Array): Float64Array {
  const sums = new Float64Array(n * k);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const li = labels[i]!;
    for (let j = i + 1; j < n; j++) {
      const d = distances[p++]!;
      sums[i * k + labels[j]!]! += d;
      sums[j * k + li]! += d;
    }
  }
  return sums;
}

function distinctCount(points: readonly number[][], cap: number): number {
  const seen = new Set<string>();
  for (const p of points) {
    seen.add(p.join(','));
    if (seen.size >= cap) break;
  }
  return seen.size;
}

function lloyd(points: number[][], k: number, opts: KMeansOptions): Omit<KMeansModel, 'silhouette' | 'scores'> {
  const r = kmeans(points, k, {
    initialization: opts.initialCentres ?? 'kmeans++',
    seed: opts.seed ?? DEFAULT_SEED,
    tolerance: 0,
    maxIterations: opts.maxIterations ?? 300,
  });
  const centres = r.centroids;
  const assignments = points.map((p) => nearestCentre(centres, p));
  let inertia = 0;
  points.forEach((p, i) => (inertia += sq(p, centres[assignments[i]!]!)));
  return { k, centres, assignments, inertia, iterations: r.iterations };
}

export function fitKMeans(points: number[][], opts: KMeansOptions = {}): KMeansModel {
  for (const p of points) assertFiniteVector(p, 'k-means input');
  if (opts.initialCentres) {
    const k = opts.initialCentres.length;
    return { ...lloyd(points, k, opts), silhouette: NaN, scores: [] };
  }
  const distinct = distinctCount(points, 64);
  if (opts.k !== undefined) {
    if (!Number.isInteger(opts.k) || opts.k < 1) throw ERR_USAGE(`k must be an integer >= 1, got ${opts.k}`);
    if (opts.k > distinct) throw ERR_ML_DEGENERATE(`cannot form ${opts.k} clusters from ${distinct} distinct window(s)`);
    const m = lloyd(points, opts.k, opts);
    return { ...m, silhouette: opts.k > 1 ? silhouette(points, m.assignments, m.k) : NaN, scores: [] };
  }
  if (distinct < 2) throw ERR_ML_DEGENERATE(`k-means needs at least 2 distinct windows, got ${distinct}`);
  const kMax = Math.min(opts.kMax ?? 8, distinct, points.length - 1);
  if (kMax < 2) return { ...lloyd(points, 1, opts), silhouette: NaN, scores: [] };
  let best: KMeansModel | undefined;
  const scores: { k: number; silhouette: number }[] = [];
  const distances = pairDistances(points);
  for (let k = 2; k <= kMax; k++) {
    const m = lloyd(points, k, opts);
    const s = silhouette(points, m.assignments, k, distances);
    scores.push({ k, silhouette: s });
    // Strictly better only: on ties the smaller k wins (simpler model).
    if (!best || s > best.silhouette) best = { ...m, silhouette: s, scores };
  }
  return best!;
}
