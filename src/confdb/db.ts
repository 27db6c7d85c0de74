/**
 * The ConfDB (DESIGN.md part 10): one interface over two engines.
 * - LevelDB (classic-level), the default: embedded under the data directory,
 *   one process at a time (a second opener gets SSDTUNE_CONFDB_LOCKED).
 * - PostgreSQL (`pg`), chosen by SSDTUNE_STORE=postgres://...: shared by any
 *   number of `serve` and `worker` processes on any machine.
 * Everything that reads or writes the ConfDB goes through this interface.
 * Writes that belong together go in one batch (one LevelDB batch, one SQL
 * transaction), so a crash never leaves half of them visible. The named
 * queries are the questions the service asks often; PostgreSQL answers them
 * from indexes, LevelDB by a scan as it always has.
 */
import type { ConfigRecord, EvaluationRecord, JobRecord, JobStatus, PinRecord, TraceRecord, WorkloadRecord } from './records.js';
import { auditOp, type BatchOp, type Kind, type ListOptions, type RecordOf } from './kinds.js';
import { LevelStore } from './level.js';

export { KINDS, keyOf, pinKey, type BatchOp, type Kind, type ListOptions, type RecordOf } from './kinds.js';

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
  /** The best-graded configuration learned for a workload in a space (on one device class, when given). */
  bestConfig(workloadId: string, space: string, deviceClass?: string): Promise<ConfigRecord | undefined>;
  /** The operator's pin for a workload in a space: the device class's own, else the one for every class. */
  pinFor(workloadId: string, space: string, deviceClass?: string): Promise<PinRecord | undefined>;
  /** Workloads profiled with windows of this many requests (the only ones identification can compare). */
  workloadsWithWindow(windowSize: number): Promise<WorkloadRecord[]>;
  /** The newest job with this key in one of these states. */
  latestJobWithKey(key: string, statuses: readonly JobStatus[]): Promise<JobRecord | undefined>;
  jobsWithStatus(statuses: readonly JobStatus[]): Promise<JobRecord[]>;
  /** A trace registered at this path with this size. */
  traceAt(path: string, bytes: number): Promise<TraceRecord | undefined>;
  evaluationsOf(workloadId: string): Promise<EvaluationRecord[]>;

  /**
   * Run `fn` holding the named lock, with a view of the store whose writes
   * commit with the lock's release (PostgreSQL: one transaction holding an
   * advisory lock, seen by every process; LevelDB: an in-process lock, the
   * only process there is). Identify-and-register runs under one, so many
   * agents reporting one new workload at once create it once.
   */
  exclusive<T>(lock: string, fn: (db: ConfDB) => Promise<T>): Promise<T>;
}

export const ConfDB = {
  /**
   * Open the ConfDB: PostgreSQL when `url` is a postgres:// URL (SSDTUNE_STORE),
   * otherwise LevelDB under `<dataDir>/confdb`.
   */
  async open(dataDir: string, url?: string): Promise<ConfDB> {
    if (url) {
      // Loaded only when asked for: the embedded default never loads pg.
      const { PgStore } = await import('./postgres.js');
      return PgStore.open(url);
    }
    return LevelStore.open(dataDir);
  },
  /** An audit record to add to the batch of the change it describes. */
  audit: auditOp,
};
