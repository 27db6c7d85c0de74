/** The ConfDB interface (see db.ts): what LevelStore and PgStore implement and every reader or writer uses. */
import type { ConfigRecord, EvaluationRecord, JobRecord, JobStatus, PinRecord, TraceRecord, WorkloadRecord } from './records.js';
import type { BatchOp, Kind, ListOptions, RecordOf } from './kinds.js';
import type { Replay } from '../evaluators/types.js';

export interface WorkloadsSince {
  generation: number;
  workloads: WorkloadRecord[];
  /** `workloads` is the whole set, not the changes since. */
  complete: boolean;
  total: number;
}

export interface PinnedAndBest {
  pin?: PinRecord;
  /** The configuration the pin names (absent when it names one no longer stored). */
  pinned?: ConfigRecord;
  best?: ConfigRecord;
}

/**
 * Which learned configurations may answer a request. A grade is only comparable with grades taken
 * the same way: by one evaluator and, for a device-backed one, on one device.
 */
export interface ConfigScope {
  /** Learned on this device class (ConfigRecord.deviceClass: fleet searches). */
  deviceClass?: string;
  /** Graded by this evaluator (ConfigRecord.evaluator). */
  evaluator?: string;
  /** Measured on this site (ConfigRecord.measuredOn.key). */
  measuredOn?: string;
  /** Graded at this replay intensity (ConfigRecord.replay; an absent one is recorded). */
  replay?: Replay;
  /** Graded with exactly these evaluator options (ConfigRecord.evaluatorOptions; absent ones are none). */
  evaluatorOptions?: Record<string, unknown>;
}

export interface ConfDB {
  /** Where it is: a directory, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** True when other processes may read and write the same store at the same time. */
  readonly shared: boolean;
  schemaVersion(): Promise<number>;

  get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined>;
  /** Like get, but a missing record is a coded not-found error. */
  require<K extends Kind>(kind: K, key: string): Promise<RecordOf[K]>;
  /** Records of a kind in key order (ids sort by creation time). */
  list<K extends Kind>(kind: K, opts?: ListOptions): Promise<RecordOf[K][]>;
  count(kind: Kind): Promise<number>;
  /**
   * Apply writes atomically. `sync`: resolve only once the batch is on disk
   * (LevelDB fdatasync; a PostgreSQL commit is durable already), for records
   * that must survive a power loss too: the way back to a device's settings.
   */
  batch(ops: BatchOp[], o?: { sync?: boolean }): Promise<void>;
  put<K extends Kind>(kind: K, value: RecordOf[K]): Promise<void>;
  /**
   * Apply writes atomically, but only if no record of `kind` has been written since the store
   * was at `generation` (see generation()): `kind`'s generation after the writes when applied,
   * undefined (nothing written) when another writer came first. A check-then-write without a
   * lock: the caller decided on what it read at that generation, and when refused reads what
   * changed and decides again (how fleet agents register a new workload: one statement on
   * PostgreSQL, where a lock shared by every serve instance cost a transaction of eight round
   * trips that all their registrations queued for).
   * `o.lock`: an exclusive() lock under which writers of an older version read `kind` and then
   * write it unconditionally. The write takes it too, for its one statement, before the
   * generation's row lock it takes anyway: it waits for such a writer between its read and its
   * write (and is then refused), and none reads while it writes. Unheld, it costs nothing more.
   * (LevelDB: one process, so no older writer beside it.)
   */
  batchIfUnchanged(kind: Kind, generation: number, ops: BatchOp[], o?: { lock?: string }): Promise<number | undefined>;
  /** Write the record unless its key is taken; true when this call wrote it (results recorded exactly once). */
  insertIfAbsent<K extends Kind>(kind: K, value: RecordOf[K]): Promise<boolean>;
  /** Changes whenever a record of `kind` is written, by any process sharing the store: key for caches. */
  generation(kind: Kind): Promise<number>;
  /** Raw access to a kind's entries, in key order (export, migrations). */
  entries(kind: Kind): AsyncGenerator<[string, unknown]>;
  /** Reclaim space (LevelDB compaction, PostgreSQL VACUUM ANALYZE). */
  compact(): Promise<void>;
  close(): Promise<void>;

  // ---- named queries ----
  /** The best-graded configuration learned for a workload in a space, among those in `scope`. */
  bestConfig(workloadId: string, space: string, scope?: ConfigScope): Promise<ConfigRecord | undefined>;
  /** The operator's pin for a workload in a space: the device class's own, else the one for every class. */
  pinFor(workloadId: string, space: string, deviceClass?: string): Promise<PinRecord | undefined>;
  /**
   * What may be recommended for a workload in a space on a device class, read at once: the pin
   * (as pinFor), the configuration it names, and the best-graded configuration learned on the class
   * in the scope (as bestConfig; a pin answers whatever graded its configuration). One statement on PostgreSQL,
   * where a fleet report asked each in turn.
   */
  pinnedAndBest(workloadId: string, space: string, scope: ConfigScope & { deviceClass: string }): Promise<PinnedAndBest>;
  /** Workloads profiled with windows of this many requests (the only ones identification can compare). */
  workloadsWithWindow(windowSize: number): Promise<WorkloadRecord[]>;
  /**
   * What a cache of these workloads needs to follow the store without reading it whole: the
   * workloads of this window size written after generation `since` (every one when `since` is
   * undefined, or when the store cannot tell: `complete`), the generation the answer is current
   * to, and how many such workloads there are now (a reader notices deletions by the count).
   */
  workloadsSince(windowSize: number, since?: number): Promise<WorkloadsSince>;
  /** The newest job with this key in one of these states. */
  latestJobWithKey(key: string, statuses: readonly JobStatus[]): Promise<JobRecord | undefined>;
  jobsWithStatus(statuses: readonly JobStatus[]): Promise<JobRecord[]>;
  /** A trace registered at this path with this size. */
  traceAt(path: string, bytes: number): Promise<TraceRecord | undefined>;
  /** A trace record whose bytes are kept as this blob (TraceRecord.sha256), if any. */
  traceWithDigest(digest: string): Promise<TraceRecord | undefined>;
  evaluationsOf(workloadId: string): Promise<EvaluationRecord[]>;

  // ---- content-addressed files ----
  /**
   * Keep a file under its SHA-256 (streamed in 1 MiB chunks, committed whole),
   * so workers on other hosts can fetch a trace by digest. Already kept: nothing to do.
   */
  putBlob(digest: string, file: string): Promise<void>;
  hasBlob(digest: string): Promise<boolean>;
  /** Write the blob to `dest` chunk by chunk; false when there is no such blob. */
  readBlob(digest: string, dest: string): Promise<boolean>;
  /**
   * Keep `file` as blob `digest` and run `write` (which writes the trace record naming it) with the blob whole: the
   * bytes are stored first, outside any lock (a large trace takes seconds), then under the blob's lock the blob is
   * checked whole, stored again if a releaseBlob took it meanwhile, and `write` runs on the lock's view of the store.
   */
  keepBlob(digest: string, file: string, write: (db: ConfDB) => Promise<void>): Promise<void>;
  /**
   * Under the blob's lock: run `forget` (which deletes a trace record naming it), then delete blob `digest` when no
   * trace record names it any more. A keepBlob of the same bytes runs wholly before (its record then keeps the blob)
   * or wholly after (it finds the blob gone and stores it again): nothing a record names is lost. True when the
   * blob was deleted.
   */
  releaseBlob(digest: string, forget: (db: ConfDB) => Promise<void>): Promise<boolean>;

  /**
   * Run `fn` holding the named lock, with a view of the store whose writes
   * commit with the lock's release (PostgreSQL: one transaction holding an
   * advisory lock, seen by every process; LevelDB: an in-process lock, the
   * only process there is). Job submission runs under one, so many
   * callers submitting one key at once start one job.
   */
  exclusive<T>(lock: string, fn: (db: ConfDB) => Promise<T>): Promise<T>;
}
