/**
 * The embedded ConfDB engine: LevelDB (classic-level) under the data
 * directory, one sublevel per record kind. LevelDB admits one process at a
 * time, so this process is the only writer: generations are counted here,
 * locks are in-process, and most named queries scan (as the embedded store
 * always has; a fleet's store is PostgreSQL). latestJobWithKey, asked on
 * every fleet report and job submission, reads an index instead (jobs by
 * key, kept in the same batch as the jobs: see JOBS_BY_KEY).
 */
import { ClassicLevel } from 'classic-level';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ERR_CONFDB_CORRUPT, ERR_CONFDB_LOCKED, ERR_CONFDB_OPEN } from '../errors.js';
import { KeyedQueue } from '../util/keyed-queue.js';
import { sameReplay } from '../evaluators/types.js';
import { canonicalJson } from '../util/canonical-json.js';
import { StoreBase, type BlobMark } from './base.js';
import type { ConfDB, ConfigScope, PinnedAndBest, WorkloadsSince } from './store.js';
import { KINDS, keyOf, pinKey, type BatchOp, type Kind, type ListOptions, type RecordOf } from './kinds.js';
import type { ConfigRecord, EvaluationRecord, JobRecord, JobStatus, PinRecord, TraceRecord, WorkloadRecord } from './records.js';

/** The part of a classic-level sublevel the ConfDB uses, with its value type. */
interface Sub<V> {
  get(key: string): Promise<V | undefined>;
  put(key: string, value: V): Promise<void>;
  values(range?: Record<string, unknown>): AsyncIterable<V>;
  keys(range?: Record<string, unknown>): AsyncIterable<string>;
  iterator(range?: Record<string, unknown>): AsyncIterable<[string, V]>;
}

/** LevelDB's own checksum errors (a damaged .ldb or .log file), as a coded error saying what to do. */
function mapCorruption(location: string): (e: unknown) => never {
  return (e) => {
    const code = (e as { code?: string }).code;
    // LevelDB's own "Corruption: ..." status reaches us with LEVEL_CORRUPTION, or without a code from an iterator.
    if (code === 'LEVEL_CORRUPTION' || /^Corruption: /.test(String((e as Error)?.message))) throw ERR_CONFDB_CORRUPT(location, (e as Error).message);
    if (code === 'LEVEL_DECODE_ERROR') throw ERR_CONFDB_CORRUPT(location, 'a stored record is not valid JSON');
    throw e;
  };
}

async function* guardedIter<T>(it: AsyncIterable<T>, fail: (e: unknown) => never): AsyncGenerator<T> {
  try {
    for await (const x of it) yield x;
  } catch (e) {
    fail(e);
  }
}

/** A sublevel whose reads and writes turn corruption into SSDTUNE_CONFDB_CORRUPT. */
function guarded<V>(sub: Sub<V>, fail: (e: unknown) => never): Sub<V> {
  return {
    get: (k) => sub.get(k).catch(fail),
    put: (k, v) => sub.put(k, v).catch(fail),
    values: (r) => guardedIter(sub.values(r), fail),
    keys: (r) => guardedIter(sub.keys(r), fail),
    iterator: (r) => guardedIter(sub.iterator(r), fail),
  };
}

/**
 * The jobs-by-key index: a sublevel with an entry `<key>\0<job id>` for
 * every stored job, written in the batch that writes the job, so the newest
 * job with a key is a short reverse range read instead of a scan of every
 * job (job ids sort by creation time). An entry only points: the job itself
 * is read and its key and status checked, so an entry left stale (a job
 * whose key changed, a race of two writers of one job) hides nothing and
 * shows nothing wrong. A database written before the index existed, or by a
 * version without it since, is told by the mark in meta or by the index's
 * job ids differing from the jobs', and the index is rebuilt from the jobs
 * at open, in one batch.
 */
const JOBS_BY_KEY = 'jobs-by-key';
const JOBS_BY_KEY_MARK = `index:${JOBS_BY_KEY}`;
const jobKeyEntry = (key: string, id: string): string => `${key}\0${id}`;

/** The configurations of each workload, and each configuration's workload (LevelStore's configIndex). */
interface ConfigIndex {
  byWorkload: Map<string, Set<string>>;
  workloadOf: Map<string, string | undefined>;
}

function unindexConfig(index: ConfigIndex, id: string): void {
  if (!index.workloadOf.has(id)) return;
  const w = index.workloadOf.get(id);
  index.workloadOf.delete(id);
  if (w === undefined) return;
  const ids = index.byWorkload.get(w);
  ids?.delete(id);
  if (ids?.size === 0) index.byWorkload.delete(w);
}

function indexConfig(index: ConfigIndex, c: ConfigRecord): void {
  unindexConfig(index, c.id);
  index.workloadOf.set(c.id, c.workloadId);
  if (c.workloadId === undefined) return;
  let ids = index.byWorkload.get(c.workloadId);
  if (!ids) index.byWorkload.set(c.workloadId, (ids = new Set()));
  ids.add(c.id);
}

export class LevelStore extends StoreBase implements ConfDB {
  readonly shared = false;
  /** Bumped on every write to a kind, so readers can cache what they derived from it. */
  private readonly generations = new Map<Kind, number>();
  /** The named locks (in-process: this is the only process there is). */
  private readonly locks = new KeyedQueue();
  /**
   * Every stored workload's window size and the generation that last wrote
   * it, kept from the first whole read on (this process is the only writer),
   * so workloadsSince answers with the changes instead of reading 10k
   * records again for each new one.
   */
  private workloadIndex?: Map<string, { windowSize?: number; gen: number }>;
  /**
   * Each stored configuration's workload, kept from the first whole read on,
   * so bestConfig reads a workload's configurations instead of every one
   * (a fleet report asks it: 19 CPU-ms per report with 10k configurations).
   */
  private configIndex?: ConfigIndex;

  private readonly subs: { [K in Kind]: Sub<RecordOf[K]> };
  private readonly meta: Sub<unknown>;
  private readonly blobs: Sub<Buffer>;
  /** The blobs sublevel itself, for batches; reads go through `blobs`. */
  private readonly rawBlobs: Sub<Buffer>;
  private readonly jobKeys: Sub<number>;
  private readonly corrupt: (e: unknown) => never;

  private constructor(
    readonly location: string,
    private readonly db: ClassicLevel<string, unknown>,
    /** The sublevels themselves, for batches (which name them); reads go through `subs`. */
    private readonly raw: { [K in Kind]: Sub<RecordOf[K]> },
    /** The meta sublevel itself, for batches; reads go through `meta`. */
    private readonly rawMeta: Sub<unknown>,
    blobs: Sub<Buffer>,
    /** The jobs-by-key sublevel itself, for batches; reads go through `jobKeys`. */
    private readonly rawJobKeys: Sub<number>,
  ) {
    super();
    this.corrupt = mapCorruption(location);
    this.subs = Object.fromEntries(KINDS.map((k) => [k, guarded(raw[k] as Sub<unknown>, this.corrupt)])) as unknown as { [K in Kind]: Sub<RecordOf[K]> };
    this.meta = guarded(rawMeta, this.corrupt);
    this.rawBlobs = blobs;
    this.blobs = guarded(blobs as Sub<unknown>, this.corrupt) as unknown as Sub<Buffer>;
    this.jobKeys = guarded(rawJobKeys, this.corrupt);
  }

  static async open(dataDir: string): Promise<LevelStore> {
    const location = path.join(dataDir, 'confdb');
    try {
      mkdirSync(location, { recursive: true });
    } catch (e) {
      throw ERR_CONFDB_OPEN(location, (e as Error).message);
    }
    const db = new ClassicLevel<string, unknown>(location, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw ERR_CONFDB_LOCKED(location);
      if (cause?.code === 'LEVEL_CORRUPTION') throw ERR_CONFDB_CORRUPT(location, (cause as unknown as Error).message);
      throw ERR_CONFDB_OPEN(location, (cause as Error | undefined)?.message ?? (e as Error).message);
    }
    const sub = (name: string) => db.sublevel<string, unknown>(name, { valueEncoding: 'json' }) as never;
    const subs = Object.fromEntries(KINDS.map((k) => [k, sub(k)])) as unknown as { [K in Kind]: Sub<RecordOf[K]> };
    const blobs = db.sublevel<string, Buffer>('blobs', { valueEncoding: 'buffer' }) as never;
    const conf = new LevelStore(location, db, subs, sub('meta'), blobs, sub(JOBS_BY_KEY));
    await conf.migrate();
    await conf.checkJobIndex();
    return conf;
  }

  protected async readSchema(): Promise<number | undefined> {
    return (await this.meta.get('schema')) as number | undefined;
  }
  protected async writeSchema(v: number): Promise<void> {
    await this.meta.put('schema', v);
  }

  protected async putBlobChunk(digest: string, seq: number, data: Buffer): Promise<void> {
    await this.blobs.put(`${digest}/${seq.toString(16).padStart(8, '0')}`, data);
  }
  protected getBlobChunk(digest: string, seq: number): Promise<Buffer | undefined> {
    return this.blobs.get(`${digest}/${seq.toString(16).padStart(8, '0')}`);
  }
  protected async putBlobMark(digest: string, mark: BlobMark): Promise<void> {
    await this.meta.put(`blob:${digest}`, mark);
  }
  protected async getBlobMark(digest: string): Promise<BlobMark | undefined> {
    return (await this.meta.get(`blob:${digest}`)) as BlobMark | undefined;
  }
  /** The blob's chunk keys: `<digest>/<seq>`, and '0' sorts right after '/'. */
  private async blobChunkKeys(digest: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const k of this.blobs.keys({ gte: `${digest}/`, lt: `${digest}0` })) keys.push(k);
    return keys;
  }
  protected async countBlobChunks(digest: string): Promise<number> {
    return (await this.blobChunkKeys(digest)).length;
  }
  protected async deleteBlobParts(digest: string): Promise<void> {
    const chained = this.db.batch();
    chained.del(`blob:${digest}`, { sublevel: this.rawMeta as never });
    for (const k of await this.blobChunkKeys(digest)) chained.del(k, { sublevel: this.rawBlobs as never });
    await chained.write().catch(this.corrupt);
  }

  async get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined> {
    return (await this.subs[kind].get(key)) as RecordOf[K] | undefined;
  }

  async list<K extends Kind>(kind: K, opts: ListOptions = {}): Promise<RecordOf[K][]> {
    const out: RecordOf[K][] = [];
    const range: Record<string, unknown> = { limit: opts.limit ?? -1, reverse: opts.reverse ?? false };
    if (opts.after !== undefined) range[opts.reverse ? 'lt' : 'gt'] = opts.after;
    for await (const v of this.subs[kind].values(range)) out.push(v as RecordOf[K]);
    return out;
  }

  async count(kind: Kind): Promise<number> {
    let n = 0;
    for await (const _ of this.subs[kind].keys()) n++;
    return n;
  }

  /** One LevelDB batch (synced to disk when asked), with the jobs-by-key entries of its jobs. */
  async batch(ops: BatchOp[], o: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return;
    const chained = this.db.batch();
    const byKey = { sublevel: this.rawJobKeys as never };
    // A job written or deleted: its entry under the key it had goes (when the key changes, or it goes).
    const jobIds = ops.filter((op) => op.kind === 'jobs').map((op) => (op.type === 'put' ? op.value.id : op.key));
    const before = new Map((await Promise.all(jobIds.map((id) => this.subs.jobs.get(id)))).flatMap((j) => (j ? [[j.id, j.key] as const] : [])));
    for (const op of ops) {
      const sub = this.raw[op.kind] as unknown as ClassicLevel<string, unknown>;
      if (op.type === 'put') chained.put(keyOf[op.kind](op.value as never), op.value, { sublevel: sub as never });
      else chained.del(op.key, { sublevel: sub as never });
      if (op.kind !== 'jobs') continue;
      const id = op.type === 'put' ? op.value.id : op.key;
      const old = before.get(id);
      if (old !== undefined && (op.type === 'del' || old !== op.value.key)) chained.del(jobKeyEntry(old, id), byKey);
      if (op.type === 'put') chained.put(jobKeyEntry(op.value.key, id), 1, byKey);
    }
    await chained.write({ sync: o.sync ?? false }).catch(this.corrupt);
    for (const op of ops) {
      const gen = (this.generations.get(op.kind) ?? 0) + 1;
      this.generations.set(op.kind, gen);
      if (op.kind === 'configs' && this.configIndex) {
        if (op.type === 'put') indexConfig(this.configIndex, op.value);
        else unindexConfig(this.configIndex, op.key);
      }
      if (op.kind !== 'workloads' || !this.workloadIndex) continue;
      if (op.type === 'put') this.workloadIndex.set(op.value.id, { windowSize: op.value.windowSize, gen });
      else this.workloadIndex.delete(op.key);
    }
  }

  /**
   * This process is the only writer: the check and the batch run one at a
   * time per kind among conditional batches (a plain batch() does not wait for
   * them, as it never waited for exclusive()). No older version's writer can
   * run beside it: `o.lock` has nothing to wait for.
   */
  async batchIfUnchanged(kind: Kind, generation: number, ops: BatchOp[], _o?: { lock?: string }): Promise<number | undefined> {
    return this.locks.run(`generation:${kind}`, async () => {
      if ((await this.generation(kind)) !== generation) return undefined;
      await this.batch(ops);
      return this.generation(kind);
    });
  }

  async insertIfAbsent<K extends Kind>(kind: K, value: RecordOf[K]): Promise<boolean> {
    const key = keyOf[kind](value);
    return this.exclusive(`insert:${kind}:${key}`, async () => {
      if ((await this.get(kind, key)) !== undefined) return false;
      await this.put(kind, value);
      return true;
    });
  }

  async generation(kind: Kind): Promise<number> {
    return this.generations.get(kind) ?? 0;
  }

  async *entries(kind: Kind): AsyncGenerator<[string, unknown]> {
    for await (const e of this.subs[kind].iterator()) yield e as [string, unknown];
  }

  async compact(): Promise<void> {
    await this.db.compactRange('\x00', '\xff').catch(this.corrupt);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async scan<K extends Kind>(kind: K, keep: (r: RecordOf[K]) => boolean): Promise<RecordOf[K][]> {
    const out: RecordOf[K][] = [];
    for await (const v of this.subs[kind].values()) if (keep(v as RecordOf[K])) out.push(v as RecordOf[K]);
    return out;
  }

  async bestConfig(workloadId: string, space: string, scope: ConfigScope = {}): Promise<ConfigRecord | undefined> {
    const { deviceClass, evaluator, measuredOn, replay } = scope;
    const options = scope.evaluatorOptions && canonicalJson(scope.evaluatorOptions);
    const fits = (c: ConfigRecord) =>
      c.workloadId === workloadId &&
      c.space === space &&
      c.grade !== undefined &&
      (deviceClass === undefined || c.deviceClass === deviceClass) &&
      (evaluator === undefined || c.evaluator === evaluator) &&
      (measuredOn === undefined || c.measuredOn?.key === measuredOn) &&
      (replay === undefined || sameReplay(c.replay, replay)) &&
      (options === undefined || canonicalJson(c.evaluatorOptions ?? {}) === options);
    let graded: ConfigRecord[];
    if (this.configIndex) {
      // In key order, as a scan reads them.
      const ids = [...(this.configIndex.byWorkload.get(workloadId) ?? [])].sort();
      graded = (await Promise.all(ids.map((id) => this.get('configs', id)))).filter((c): c is ConfigRecord => c !== undefined && fits(c));
    } else {
      const generation = await this.generation('configs');
      const index: ConfigIndex = { byWorkload: new Map(), workloadOf: new Map() };
      graded = await this.scan('configs', (c) => {
        indexConfig(index, c);
        return fits(c);
      });
      // A write during the scan may be missing from it: the index waits for a quiet read.
      if ((await this.generation('configs')) === generation) this.configIndex ??= index;
    }
    // Stable: among equal grades the oldest (lowest id) wins, as in PostgreSQL's ORDER BY grade DESC, id.
    return graded.sort((a, b) => b.grade! - a.grade!)[0];
  }

  async pinFor(workloadId: string, space: string, deviceClass?: string): Promise<PinRecord | undefined> {
    return (
      (deviceClass !== undefined ? await this.get('pins', pinKey(workloadId, space, deviceClass)) : undefined) ?? this.get('pins', pinKey(workloadId, space))
    );
  }

  async pinnedAndBest(workloadId: string, space: string, scope: ConfigScope & { deviceClass: string }): Promise<PinnedAndBest> {
    const [pin, best] = await Promise.all([this.pinFor(workloadId, space, scope.deviceClass), this.bestConfig(workloadId, space, scope)]);
    const pinned = pin ? await this.get('configs', pin.configId) : undefined;
    return { ...(pin ? { pin } : {}), ...(pinned ? { pinned } : {}), ...(best ? { best } : {}) };
  }

  workloadsWithWindow(windowSize: number): Promise<WorkloadRecord[]> {
    return this.scan('workloads', (w) => w.windowSize === windowSize);
  }

  /**
   * One process holds a LevelDB: its generation counts every write, and its
   * index of the workloads (from the first whole read on) says which were
   * written since a generation and how many of a window size there are.
   */
  async workloadsSince(windowSize: number, since?: number): Promise<WorkloadsSince> {
    const generation = await this.generation('workloads');
    if (since === generation) return { generation, workloads: [], complete: false, total: -1 };
    const index = this.workloadIndex;
    if (since === undefined || !index) return this.readAllWorkloads(windowSize);
    const changed: string[] = [];
    let total = 0;
    for (const [id, e] of index) {
      if (e.windowSize !== windowSize) continue;
      total++;
      if (e.gen > since) changed.push(id);
    }
    // One deleted meanwhile is missing here: the reader sees the count disagree and reads them all again.
    const workloads = (await Promise.all(changed.map((id) => this.get('workloads', id)))).filter((w): w is WorkloadRecord => w !== undefined);
    return { generation, workloads, complete: false, total };
  }

  /** Every workload of the window size; the index is built from the same read when no write came during it. */
  private async readAllWorkloads(windowSize: number): Promise<WorkloadsSince> {
    const generation = await this.generation('workloads');
    const index = new Map<string, { windowSize?: number; gen: number }>();
    const workloads = await this.scan('workloads', (w) => {
      // Stamped with this read's generation: a reader that followed from an older one gets them all again.
      index.set(w.id, { windowSize: w.windowSize, gen: generation });
      return w.windowSize === windowSize;
    });
    // A write during the scan may be missing from it: the index waits for a quiet read.
    if (!this.workloadIndex && (await this.generation('workloads')) === generation) this.workloadIndex = index;
    return { generation, workloads, complete: true, total: workloads.length };
  }

  /** From the jobs-by-key index, newest first; each job read and checked (an entry only points). */
  async latestJobWithKey(key: string, statuses: readonly JobStatus[]): Promise<JobRecord | undefined> {
    for await (const entry of this.jobKeys.keys({ gt: jobKeyEntry(key, ''), lt: `${key}\u0001`, reverse: true })) {
      const j = await this.get('jobs', entry.slice(key.length + 1));
      if (j && j.key === key && statuses.includes(j.status)) return j;
    }
    return undefined;
  }

  /**
   * The jobs-by-key index is whole (see JOBS_BY_KEY), or is rebuilt from the
   * jobs now: absent (a database from before it), or its job ids differing
   * from the jobs' (jobs written or deleted by a version without it: a count
   * would miss one job deleted and another added). Keys only are read, no
   * job. One batch: the old entries go, one per job is written, and the mark
   * last.
   */
  private async checkJobIndex(): Promise<void> {
    // Every entry names a job of its own, and every job has one: each job id is struck off once, and none is left.
    const whole = async (): Promise<boolean> => {
      const unindexed = new Set<string>();
      for await (const id of this.subs.jobs.keys()) unindexed.add(id);
      for await (const entry of this.jobKeys.keys()) if (!unindexed.delete(entry.slice(entry.lastIndexOf('\0') + 1))) return false;
      return unindexed.size === 0;
    };
    if ((await this.meta.get(JOBS_BY_KEY_MARK)) === 1 && (await whole())) return;
    const chained = this.db.batch();
    const byKey = { sublevel: this.rawJobKeys as never };
    for await (const k of this.jobKeys.keys()) chained.del(k, byKey);
    for await (const j of this.subs.jobs.values()) chained.put(jobKeyEntry(j.key, j.id), 1, byKey);
    chained.put(JOBS_BY_KEY_MARK, 1, { sublevel: this.rawMeta as never });
    await chained.write({ sync: true }).catch(this.corrupt);
  }

  jobsWithStatus(statuses: readonly JobStatus[]): Promise<JobRecord[]> {
    return this.scan('jobs', (j) => statuses.includes(j.status));
  }

  async traceAt(file: string, bytes: number): Promise<TraceRecord | undefined> {
    return (await this.scan('traces', (t) => t.path === file && t.bytes === bytes))[0];
  }

  async traceWithDigest(digest: string): Promise<TraceRecord | undefined> {
    return (await this.scan('traces', (t) => t.sha256 === digest))[0];
  }

  evaluationsOf(workloadId: string): Promise<EvaluationRecord[]> {
    return this.scan('evaluations', (e) => e.workloadId === workloadId);
  }

  async exclusive<T>(lock: string, fn: (db: ConfDB) => Promise<T>): Promise<T> {
    return this.locks.run(lock, () => fn(this));
  }
}
