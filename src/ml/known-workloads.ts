/**
 * The stored workloads packed for the nearest-workload scan, and the scan.
 *
 * Every identification compares each chunk of a query with every stored
 * workload: its centroid embedding and its phase centroids (modes), or its
 * PCA centre. Against 10k stored workloads that was most of a fleet report's
 * CPU (a profile of the serve process: 3 of 5.4 CPU-s per 1,000 reports,
 * identification, with the per-workload median and the closures around it).
 * Here the rows live in one Float64Array per method, appended to as
 * workloads are added (the fleet's cache follows the store:
 * service/workload-store.ts), and the scan is a plain loop over them:
 *
 * - squared distances, summed in component order exactly as
 *   similarity.distance sums them, and one square root per workload and
 *   chunk: the distances are the very same numbers as before, not close ones;
 * - a row stops being summed once its partial sum proves it can matter
 *   neither to a chunk's nearest workload nor to the closest `keep` medians
 *   (the candidates); see `scanChunks` for why that changes no answer;
 * - the newest workloads are scanned first: a fleet registers the workloads
 *   its agents report, so the near ones are usually recent, and bounds found
 *   early prune the rest. Ties go to the earlier workload (lower index), as
 *   they did when the scan ran in order.
 */
/** How a query is compared with stored workloads (identify.ts). */
export type Method = 'network' | 'pca';

/** A stored workload as identification sees it (identify.ts; the ConfDB's record: service/workload-store.ts). */
export interface KnownWorkload {
  id: string;
  name: string;
  /** Unit-length centroid of the workload's window embeddings. */
  centroidEmbedding: number[];
  /** Unit-length centroids of its phases (time segments of each device stream); absent when too short to segment. */
  modes?: number[][];
  /** Mean of the workload's window projections in the model's PCA plane. */
  pcaCentre: number[];
  /** Mean raw descriptor vector of the workload's windows (DESCRIPTOR_VECTOR_NAMES order). */
  descriptors: number[];
  /**
   * The intensity it was seen at: 5th and 95th percentile of the mean
   * inter-arrival gap (µs) of its runs of queryWindows windows (identify.ts
   * gapRange). A chunk whose gap lies beyond it by more than the model's
   * intensity factor is not this workload (scanChunks). Absent (a profile of an
   * earlier version): no intensity test.
   */
  arrivalGapUs?: [number, number];
  /**
   * Spread of its windows' embeddings (90th percentile, over runs of
   * queryWindows windows, of the run centroid's distance to the rest): what
   * the workload's own later queries may look like. Informational; distances
   * are not scaled by it.
   */
  spread?: number;
  /**
   * spread / the model's typical spread. Far above 1 (a short, noisy or
   * multi-phase trace), later captures of the workload are hard to recognise;
   * the same trace always is (exact match).
   */
  spreadRatio?: number;
  /**
   * False when the embedding and PCA centre come from another model (a
   * profile stored before a retrain): only the exact-match rule, which
   * compares raw descriptors, can recognise it. Default true.
   */
  comparable?: boolean;
}

/** Rows of one method, `dim` components each (-1: no row yet). */
class Rows {
  dim = -1;
  data = new Float64Array(0);
  count = 0;

  /** Whether rows of this width fit (the first row sets the width). */
  fits(rows: readonly (readonly number[])[]): boolean {
    const dim = this.dim < 0 ? rows[0]!.length : this.dim;
    return dim > 0 && rows.every((r) => r.length === dim);
  }

  push(rows: readonly (readonly number[])[]): void {
    if (this.dim < 0) this.dim = rows[0]!.length;
    const need = (this.count + rows.length) * this.dim;
    if (need > this.data.length) {
      const grown = new Float64Array(Math.max(need, 2 * this.data.length, 64 * this.dim));
      grown.set(this.data.subarray(0, this.count * this.dim));
      this.data = grown;
    }
    for (const r of rows) {
      this.data.set(r, this.count * this.dim);
      this.count++;
    }
  }
}

/**
 * Stored workloads in the order given, with their embedding rows (centroid,
 * then modes) and PCA centres packed. A workload with comparable === false,
 * or whose vectors have another width than the first comparable workload's,
 * has no rows: only the exact-match rule (raw descriptors) can find it.
 */
export class KnownWorkloads {
  private readonly list: KnownWorkload[] = [];
  private readonly rows: Record<Method, Rows> = { network: new Rows(), pca: new Rows() };
  /** first[m][i]: workload i's first row of method m; first[m][n] ends the last one. */
  private readonly first: Record<Method, number[]> = { network: [0], pca: [0] };
  /** Each workload's first raw descriptor (NaN: none), so the exact-match rule reads a workload's own array only when that one agrees. */
  private lead = new Float64Array(64);
  /** Each workload's arrivalGapUs, lowest and highest (0 and Infinity when it has none). */
  private gapLo = new Float64Array(64);
  private gapHi = new Float64Array(64);

  static of(ws: readonly KnownWorkload[]): KnownWorkloads {
    const k = new KnownWorkloads();
    for (const w of ws) k.add(w);
    return k;
  }

  get items(): readonly KnownWorkload[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  add(w: KnownWorkload): void {
    const emb = [w.centroidEmbedding, ...(w.modes ?? [])];
    const { network, pca } = this.rows;
    if (w.comparable !== false && network.fits(emb) && pca.fits([w.pcaCentre])) {
      network.push(emb);
      pca.push([w.pcaCentre]);
    }
    if (this.list.length === this.lead.length) {
      const grow = (a: Float64Array) => {
        const grown = new Float64Array(2 * a.length);
        grown.set(a);
        return grown;
      };
      this.lead = grow(this.lead);
      this.gapLo = grow(this.gapLo);
      this.gapHi = grow(this.gapHi);
    }
    const at = this.list.length;
    this.lead[at] = w.descriptors.length > 0 ? w.descriptors[0]! : NaN;
    this.gapLo[at] = w.arrivalGapUs?.[0] ?? 0;
    this.gapHi[at] = w.arrivalGapUs?.[1] ?? Infinity;
    this.list.push(w);
    this.first.network.push(network.count);
    this.first.pca.push(pca.count);
  }

  /**
   * The first workload profiled from the very windows whose mean descriptor
   * vector is `mean` (every component equal to 1e-9, relative above 1), of any
   * model: the exact-match rule (identify.ts).
   */
  exact(mean: readonly number[]): KnownWorkload | undefined {
    const same = (v: number, x: number) => Math.abs(v - x) <= 1e-9 * Math.max(1, Math.abs(v));
    for (let i = 0; i < this.list.length; i++) {
      if (!same(this.lead[i]!, mean[0]!)) continue;
      const d = this.list[i]!.descriptors;
      if (d.length !== mean.length) continue;
      let j = 1;
      while (j < d.length && same(d[j]!, mean[j]!)) j++;
      if (j === d.length) return this.list[i];
    }
    return undefined;
  }

  /**
   * Whether a chunk of mean gap `gapUs` may be workload i at intensity factor
   * `factor`: its gap within [lo / factor, hi * factor] of the workload's
   * range. Always, for factor 0 (no rule) or a NaN gap.
   */
  rateFits(i: number, gapUs: number, factor: number): boolean {
    return !(factor > 0) || !(gapUs < this.gapLo[i]! / factor || gapUs > this.gapHi[i]! * factor);
  }

  /** The rows of `method`, the width of a row, and each workload's first row. */
  rowsOf(method: Method): { data: Float64Array; dim: number; first: readonly number[] } {
    const r = this.rows[method];
    return { data: r.data, dim: r.dim, first: this.first[method] };
  }
}

/** The outcome of a scan of the stored workloads for a query's chunks. */
export interface ChunkScan {
  /** Per chunk: the index of its nearest comparable workload (-1: none), and that distance (Infinity: none). */
  nearest: Int32Array;
  distance: Float64Array;
  /** The `keep` workloads with the smallest median distance over the chunks, smallest first (ties: lower index), and those medians. */
  closest: number[];
  medians: number[];
}

/** The intensity test of a scan: each chunk's mean gap (µs), and the model's intensity factor (KnownWorkloads.rateFits). */
export interface RateTest {
  gapUs: ArrayLike<number>;
  factor: number;
}

/** A relative margin on the pruning bounds: a row is cut only when it is beyond a bound by more than any rounding of a square root or a mean. */
const MARGIN = 1e-9;

/**
 * Scan the stored workloads for `m` chunks (`queries`: m rows of the method's
 * width, packed). For each chunk, its nearest workload (smallest distance;
 * ties to the lower index) among the workloads it may be by its intensity
 * (`rate`: a workload seen at rates more than the model's factor away is
 * another workload, KnownWorkloads.rateFits); for each workload, the median
 * over the chunks of its distance, whatever the intensity (for the network:
 * the smallest over its centroid and modes); the `keep` smallest medians.
 *
 * A row's sum of squares only grows as components are added, so the partial
 * sum is a lower bound of the row's distance. A workload's distance to chunk j
 * is needed exactly only when it is (a) at most chunk j's nearest so far, or
 * (b) could put the workload's median at or below T, the keep-th smallest
 * median so far. (b) needs only the values up to the median's position: with
 * T the bound, a value above T for an odd m (the median is one value), above
 * 2T for an even m (it is the mean of two, the lower at least 0), is past it.
 * Such a value is cut and counted as Infinity: the workload's median is then
 * Infinity or the exact one, and it is inserted only where the exact one would
 * be. Bounds carry MARGIN, so a cut value is strictly beyond them whatever
 * the rounding, and ties (equal distances or medians) are always computed.
 */
export function scanChunks(known: KnownWorkloads, method: Method, queries: Float64Array, m: number, keep: number, rate?: RateTest): ChunkScan {
  const { data, dim, first } = known.rowsOf(method);
  const n = known.size;
  const nearest = new Int32Array(m).fill(-1);
  const distance = new Float64Array(m).fill(Infinity);
  const closest: number[] = [];
  const medians: number[] = [];
  if (m === 0 || dim <= 0 || queries.length !== m * dim) return { nearest, distance, closest, medians };
  /** Per chunk: the nearest's sum of squares, and the sum past which a row is cut (the larger of it and the candidates' bound). */
  const bestSq = new Float64Array(m).fill(Infinity);
  const cut = new Float64Array(m).fill(Infinity);
  let past = Infinity;
  let pastSq = Infinity;
  const sq = new Float64Array(m);
  const sorted = new Float64Array(m);
  const odd = m % 2 === 1;
  const lower = (m - 1) >> 1;
  const blocks = dim - (dim % 8);
  /** Per chunk: whether it may be the current workload by its intensity (only then may it be its nearest). */
  const fits = new Uint8Array(m);
  for (let i = n - 1; i >= 0; i--) {
    const r0 = first[i]!;
    const r1 = first[i + 1]!;
    if (r1 === r0) continue;
    for (let j = 0; j < m; j++) fits[j] = rate === undefined || known.rateFits(i, rate.gapUs[j]!, rate.factor) ? 1 : 0;
    // A fleet report's two chunks against a workload without phases: summed side by side (pairSums). A chunk
    // that cannot be this workload needs its sum for the median only (its "nearest" bound: -1, never).
    if (m === 2 && r1 - r0 === 1)
      pairSums(queries, data, r0 * dim, dim, fits[0] ? bestSq[0]! * (1 + MARGIN) : -1, fits[1] ? bestSq[1]! * (1 + MARGIN) : -1, past, sq);
    else
      for (let j = 0; j < m; j++) {
        const q = j * dim;
        // The workload's smallest sum over its rows; a row is summed only while it stays at or under `limit`.
        let min = Infinity;
        let limit = fits[j] ? cut[j]! : pastSq;
        for (let r = r0; r < r1; r++) {
          const o = r * dim;
          let s = 0;
          let c = 0;
          // Blocks of 8 components, then the bound: the test costs about as much as a component. The sum runs in
          // component order, as similarity.distance's does, so an uncut sum is the very same number.
          for (; c < blocks; c += 8) {
            let t = queries[q + c]! - data[o + c]!;
            s += t * t;
            t = queries[q + c + 1]! - data[o + c + 1]!;
            s += t * t;
            t = queries[q + c + 2]! - data[o + c + 2]!;
            s += t * t;
            t = queries[q + c + 3]! - data[o + c + 3]!;
            s += t * t;
            t = queries[q + c + 4]! - data[o + c + 4]!;
            s += t * t;
            t = queries[q + c + 5]! - data[o + c + 5]!;
            s += t * t;
            t = queries[q + c + 6]! - data[o + c + 6]!;
            s += t * t;
            t = queries[q + c + 7]! - data[o + c + 7]!;
            s += t * t;
            if (s > limit) break;
          }
          if (c < blocks) continue;
          for (; c < dim; c++) {
            const t = queries[q + c]! - data[o + c]!;
            s += t * t;
          }
          if (s < min) {
            min = s;
            if (s < limit) limit = s;
          }
        }
        sq[j] = min;
      }
    for (let j = 0; j < m; j++) {
      const min = sq[j]!;
      if (min === Infinity) continue;
      const d = Math.sqrt(min);
      if (fits[j] && (d < distance[j]! || (d === distance[j]! && i < nearest[j]!))) {
        distance[j] = d;
        nearest[j] = i;
        bestSq[j] = min;
        cut[j] = Math.max(min * (1 + MARGIN), pastSq);
      }
    }
    // The median of the chunks' distances (a cut one: Infinity), as identification always took it.
    let med: number;
    if (m === 1) med = Math.sqrt(sq[0]!);
    else if (m === 2) med = (Math.sqrt(sq[0]!) + Math.sqrt(sq[1]!)) / 2;
    else {
      for (let j = 0; j < m; j++) {
        const v = Math.sqrt(sq[j]!);
        let at = j;
        while (at > 0 && sorted[at - 1]! > v) {
          sorted[at] = sorted[at - 1]!;
          at--;
        }
        sorted[at] = v;
      }
      med = odd ? sorted[lower]! : (sorted[lower]! + sorted[lower + 1]!) / 2;
    }
    if (med === Infinity || !insertClosest(closest, medians, i, med, keep) || closest.length < keep) continue;
    // With `keep` closest found, a value past this cannot bring a median under the last one's.
    past = (odd ? medians[keep - 1]! : 2 * medians[keep - 1]!) * (1 + MARGIN);
    pastSq = past * past;
    for (let j = 0; j < m; j++) cut[j] = Math.max(bestSq[j]! * (1 + MARGIN), pastSq);
  }
  return { nearest, distance, closest, medians };
}

/**
 * The sums of squares of one row against two chunks (queries' rows 0 and 1),
 * into sq (Infinity: cut), summed side by side. Their median is their mean,
 * so the two partial sums bound it from below together: (sqrt p0 + sqrt p1) /
 * 2 past T (here `past`, 2T with the margin) puts the workload out of the
 * candidates, and then each chunk stops once its own partial sum is past its
 * nearest's (`near0`, `near1`: that sum with the margin). Apart, each chunk's
 * bound could only be 2T; a random row 1.4 away was cut after 24-32 of 32
 * components against near workloads at 0.6, and side by side after 8.
 */
function pairSums(queries: Float64Array, data: Float64Array, o: number, dim: number, near0: number, near1: number, past: number, sq: Float64Array): void {
  const blocks = dim - (dim % 8);
  let s0 = 0;
  let s1 = 0;
  // Whether each chunk's exact sum may still matter.
  let need0 = true;
  let need1 = true;
  let c = 0;
  for (; c < blocks && (need0 || need1); c += 8) {
    if (need0) {
      let t = queries[c]! - data[o + c]!;
      s0 += t * t;
      t = queries[c + 1]! - data[o + c + 1]!;
      s0 += t * t;
      t = queries[c + 2]! - data[o + c + 2]!;
      s0 += t * t;
      t = queries[c + 3]! - data[o + c + 3]!;
      s0 += t * t;
      t = queries[c + 4]! - data[o + c + 4]!;
      s0 += t * t;
      t = queries[c + 5]! - data[o + c + 5]!;
      s0 += t * t;
      t = queries[c + 6]! - data[o + c + 6]!;
      s0 += t * t;
      t = queries[c + 7]! - data[o + c + 7]!;
      s0 += t * t;
    }
    if (need1) {
      const q = dim + c;
      let t = queries[q]! - data[o + c]!;
      s1 += t * t;
      t = queries[q + 1]! - data[o + c + 1]!;
      s1 += t * t;
      t = queries[q + 2]! - data[o + c + 2]!;
      s1 += t * t;
      t = queries[q + 3]! - data[o + c + 3]!;
      s1 += t * t;
      t = queries[q + 4]! - data[o + c + 4]!;
      s1 += t * t;
      t = queries[q + 5]! - data[o + c + 5]!;
      s1 += t * t;
      t = queries[q + 6]! - data[o + c + 6]!;
      s1 += t * t;
      t = queries[q + 7]! - data[o + c + 7]!;
      s1 += t * t;
    }
    if (Math.sqrt(s0) + Math.sqrt(s1) > past) {
      need0 &&= s0 <= near0;
      need1 &&= s1 <= near1;
    }
  }
  for (let k = c; need0 && k < dim; k++) {
    const t = queries[k]! - data[o + k]!;
    s0 += t * t;
  }
  for (let k = c; need1 && k < dim; k++) {
    const t = queries[dim + k]! - data[o + k]!;
    s1 += t * t;
  }
  sq[0] = need0 ? s0 : Infinity;
  sq[1] = need1 ? s1 : Infinity;
}

/** Insert workload i with median `med` among the `keep` smallest (median, index), in that order; false when it is not among them. */
function insertClosest(closest: number[], medians: number[], i: number, med: number, keep: number): boolean {
  const before = (a: number) => medians[a]! < med || (medians[a] === med && closest[a]! < i);
  if (closest.length === keep && before(keep - 1)) return false;
  let at = closest.length;
  while (at > 0 && !before(at - 1)) at--;
  closest.splice(at, 0, i);
  medians.splice(at, 0, med);
  if (closest.length > keep) {
    closest.pop();
    medians.pop();
  }
  return true;
}

/** Workload i's median distance over the chunks, computed in full (the voted workload's, which need not be among the closest). */
export function medianDistance(known: KnownWorkloads, method: Method, queries: Float64Array, m: number, i: number): number {
  const { data, dim, first } = known.rowsOf(method);
  const ds: number[] = [];
  for (let j = 0; j < m; j++) {
    let min = Infinity;
    for (let r = first[i]!; r < first[i + 1]!; r++) {
      let s = 0;
      for (let c = 0; c < dim; c++) s += (queries[j * dim + c]! - data[r * dim + c]!) ** 2;
      if (s < min) min = s;
    }
    ds.push(Math.sqrt(min));
  }
  ds.sort((a, b) => a - b);
  return m % 2 ? ds[(m - 1) / 2]! : (ds[m / 2 - 1]! + ds[m / 2]!) / 2;
}
