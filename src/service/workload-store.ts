/** The ConfDB seen as the identification module's WorkloadStore. */
import type { ConfDB } from '../confdb/db.js';
import type { WorkloadRecord } from '../confdb/records.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import type { KnownWorkload, WorkloadStore } from '../ml/identify.js';
import { KnownWorkloads } from '../ml/known-workloads.js';

/**
 * A stored workload as identification sees it. With `modelId`, a profile made
 * by another model (or before models had ids) is offered for the exact-match
 * rule only: its embedding lives in that model's space.
 */
export function toKnown(w: WorkloadRecord, modelId?: string): KnownWorkload | undefined {
  if (!w.embedding || !w.pcaCentre) return undefined;
  const comparable = modelId === undefined || w.modelId === modelId;
  return {
    id: w.id,
    name: w.name,
    centroidEmbedding: w.embedding,
    ...(w.modes ? { modes: w.modes } : {}),
    ...(w.embeddingSpread !== undefined ? { spread: w.embeddingSpread } : {}),
    ...(validGapRange(w.arrivalGapUs) ? { arrivalGapUs: w.arrivalGapUs } : {}),
    pcaCentre: w.pcaCentre,
    descriptors: w.descriptors,
    ...(comparable ? {} : { comparable: false }),
  };
}

/** A stored gap range identification can use: two finite gaps, lowest first (anything else: no intensity test). */
function validGapRange(r: unknown): r is [number, number] {
  return Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) && r[0] <= r[1];
}

export class ConfDBWorkloadStore implements WorkloadStore {
  constructor(
    private readonly db: ConfDB,
    /** Only workloads described with the model's window size are comparable. */
    private readonly windowSize: number,
    /** The loaded model's fingerprint (SimilarityModel.id); profiles of other models are exact-match only. */
    private readonly modelId?: string,
  ) {}

  async list(): Promise<readonly KnownWorkload[]> {
    const out: KnownWorkload[] = [];
    for (const w of await this.db.workloadsWithWindow(this.windowSize)) {
      const k = comparable(w, this.windowSize, this.modelId);
      if (k) out.push(k);
    }
    return out;
  }

  async known(): Promise<KnownWorkloads> {
    return KnownWorkloads.of(await this.list());
  }
}

/** A stored workload identification can compare with queries of this window size, as it sees it. */
function comparable(w: WorkloadRecord, windowSize: number, modelId: string | undefined): KnownWorkload | undefined {
  // Profiles made with another descriptor set come from another model generation: their
  // embeddings and PCA centres live in a different space and would match at random.
  const sameDescriptors = w.descriptorNames?.length === DESCRIPTOR_VECTOR_NAMES.length && w.descriptorNames.every((n, i) => n === DESCRIPTOR_VECTOR_NAMES[i]);
  return w.windowSize === windowSize && sameDescriptors ? toKnown(w, modelId) : undefined;
}

/**
 * The known workloads of one process, following the store: the first read
 * takes them all, later ones only the workloads written since the generation
 * it holds (a shared PostgreSQL: rows keep the generation that wrote them).
 * With 10k stored workloads and agents registering new ones, a new workload
 * costs every serve instance a read of one row, not of 10k (about 300 ms of
 * query and JSON parsing on the event loop, measured at load 10). The
 * workloads are kept packed for the scan (KnownWorkloads), appended to as
 * they come; a workload rewritten or deleted packs them all again.
 */
export class FollowingWorkloadStore {
  private generation?: number;
  /** Every stored workload of the window size; undefined where identification cannot compare it. */
  private readonly byId = new Map<string, KnownWorkload | undefined>();
  private packed = new KnownWorkloads();
  private following?: Promise<void>;

  constructor(
    private readonly windowSize: number,
    private readonly modelId?: string,
  ) {}

  /**
   * The workloads as `db` (the store, or the transaction of a lock held on it)
   * sees them now. A later call may append to it (workloads stored since);
   * a rewrite or deletion packs a new one.
   */
  async known(db: ConfDB): Promise<KnownWorkloads> {
    for (;;) {
      const now = await db.generation('workloads');
      if (this.generation !== undefined && this.generation >= now) return this.packed;
      // One read at a time; the lock's transaction may need one more after a read through the pool.
      this.following ??= this.follow(db).finally(() => (this.following = undefined));
      await this.following;
    }
  }

  /**
   * What this cache holds now and the generation it is current to, without
   * asking the store (undefined before the first known()). The workloads may
   * grow in place after it is taken (appends), never lose one: a decision made
   * on them is made on at least the store as it was at `generation`.
   */
  held(): { known: KnownWorkloads; generation: number } | undefined {
    return this.generation === undefined ? undefined : { known: this.packed, generation: this.generation };
  }

  /**
   * This process wrote `w`, taking the store's workloads from generation
   * `from` to `to` (batchIfUnchanged): taken in without reading it back, when
   * it is the only write between them and this cache holds `from` with no read
   * under way. Otherwise the next known() reads it as any other.
   */
  wrote(w: WorkloadRecord, from: number, to: number): void {
    if (this.generation !== from || to !== from + 1 || this.following || this.byId.has(w.id)) return;
    const k = comparable(w, this.windowSize, this.modelId);
    this.byId.set(w.id, k);
    if (k) this.packed.add(k);
    this.generation = to;
  }

  private async follow(db: ConfDB): Promise<void> {
    let r = await db.workloadsSince(this.windowSize, this.generation);
    // New workloads are appended to the packed ones; one rewritten (same id) packs them all again, in the same order.
    let repack = r.complete;
    if (r.complete) this.byId.clear();
    const added: KnownWorkload[] = [];
    for (const w of r.workloads) {
      const k = comparable(w, this.windowSize, this.modelId);
      if (this.byId.has(w.id)) repack = true;
      else if (k) added.push(k);
      this.byId.set(w.id, k);
    }
    if (!r.complete && r.total >= 0 && r.total !== this.byId.size) {
      // Some were deleted: read them all again.
      r = await db.workloadsSince(this.windowSize);
      this.byId.clear();
      for (const w of r.workloads) this.byId.set(w.id, comparable(w, this.windowSize, this.modelId));
      repack = true;
    }
    if (repack) this.packed = KnownWorkloads.of([...this.byId.values()].filter((k): k is KnownWorkload => k !== undefined));
    else for (const k of added) this.packed.add(k);
    this.generation = r.generation;
  }
}

/** The stored record of a workload profiled now (profileWorkload), by tune from a trace or by an agent's report. */
export function workloadRecord(
  prof: KnownWorkload,
  o: { name: string; source: WorkloadRecord['source']; windowSize: number; modelId?: string; clusters?: number[] },
): WorkloadRecord {
  return {
    id: prof.id,
    name: o.name,
    createdAt: new Date().toISOString(),
    source: o.source,
    descriptorNames: [...DESCRIPTOR_VECTOR_NAMES],
    descriptors: prof.descriptors,
    pcaCentre: prof.pcaCentre,
    embedding: prof.centroidEmbedding,
    ...(prof.modes ? { modes: prof.modes } : {}),
    ...(prof.spread !== undefined ? { embeddingSpread: prof.spread } : {}),
    ...(prof.arrivalGapUs ? { arrivalGapUs: prof.arrivalGapUs } : {}),
    windowSize: o.windowSize,
    ...(o.modelId ? { modelId: o.modelId } : {}),
    ...(o.clusters ? { clusters: o.clusters } : {}),
  };
}
