/**
 * What the ConfDB stores (docs/confdb.md). Every record is plain JSON so
 * that export/import as JSON lines moves a ConfDB between hosts unchanged.
 */
import type { Configuration } from '../space/types.js';
import type { Metrics, Replay } from '../evaluators/types.js';
import type { RecordingHost } from '../util/host-identity.js';

export interface WorkloadRecord {
  id: string;
  name: string;
  createdAt: string;
  /** Where it was learned from: trace path(s), format, request count. */
  source: { paths: string[]; format: string; requests: number };
  /** Names of the descriptor features, in the order of `descriptors`. */
  descriptorNames: string[];
  /** Mean window descriptor of the workload. */
  descriptors: number[];
  /** Centre of its windows in the PCA plane, and the basis used (mean, components). */
  pcaCentre?: number[];
  pcaBasis?: { mean: number[]; scale: number[]; components: number[][] };
  /** Cluster labels (top one or two) from k-means. */
  clusters?: number[];
  /** Centroid of its windows' embeddings from the similarity network. */
  embedding?: number[];
  /** Centroids of its phases (consecutive time segments of its windows), in the same space. */
  modes?: number[][];
  /** Spread of its own windows' embeddings (KnownWorkload.spread in ml/identify.ts; informational). */
  embeddingSpread?: number;
  /**
   * The intensity it was seen at: 5th and 95th percentile of the mean inter-arrival gap, µs, of its runs of a
   * query's windows (KnownWorkload.arrivalGapUs in ml/known-workloads.ts). Absent in profiles stored before it
   * existed: those are read as they are and identified without the intensity test.
   */
  arrivalGapUs?: [number, number];
  /** Requests per window the descriptors were computed with. */
  windowSize?: number;
  /** Fingerprint of the similarity model that made `embedding` and `modes` (SimilarityModel.id). */
  modelId?: string;
}

export interface ConfigRecord {
  id: string;
  space: string;
  values: Configuration;
  createdAt: string;
  /** The workload it was learned for, when it came from a search. */
  workloadId?: string;
  /** Best grade measured for that workload, and by which evaluator. */
  grade?: number;
  evaluator?: string;
  metrics?: Metrics;
  baselineMetrics?: Metrics;
  /** The device class it was learned on (host space from fleet agents; see service/fleet.ts). */
  deviceClass?: string;
  /** The replay intensity its grade was measured at (absent: recorded). */
  replay?: Replay;
  /**
   * Where a device-backed evaluator (live) measured it: a grade measured on one
   * disk says nothing of another, so only a tune on the same site is offered it
   * (ConfigScope.measuredOn). `key` is what is compared (MeasurementSite in
   * service/measurement-site.ts); `host` and `disk` are for people.
   */
  measuredOn?: { key: string; host: string; disk: string };
  /**
   * The evaluator's options that decided its grade besides the intensity (lbaPolicy, the
   * simulator's preconditioning: catalogue gradedWith); absent: none, or stored before they were.
   */
  evaluatorOptions?: Record<string, unknown>;
  /**
   * A measured evaluator's search result measured again against the baseline
   * (src/search/confirm.ts). When it held, `grade`, `metrics` and
   * `baselineMetrics` are the confirmation's; when it did not, `values` are the
   * baseline's (grade 0) and `candidate` is what the search had found.
   */
  confirmation?: {
    rounds: number;
    grades: number[];
    low: number;
    holds: boolean;
    /** The grade the search measured for its best (biased upwards: the best of many noisy measurements). */
    searchGrade: number;
    candidate?: Configuration;
  };
}

export interface EvaluationRecord {
  id: string;
  workloadId: string;
  configId?: string;
  values: Configuration;
  evaluator: string;
  status: 'ok' | 'failed';
  metrics?: Metrics;
  grade?: number;
  error?: string;
  /** The failure's SSDTUNE_* code, when it had one (absent in records written before codes were kept). */
  errorCode?: string;
  at: string;
  durationMs: number;
  jobId?: string;
}

/**
 * A change to a device that is in flight, or that stopped part-way. Written
 * (durably) before the first sysfs write of an apply, a revert or a live
 * evaluation's trial configuration; cleared once the change is complete. A
 * record still carrying one after its process is gone means the device may
 * hold values that are neither `previous` nor `applied`: `revert` restores
 * `previous` all the same.
 */
export interface PendingDeviceChange {
  op: 'apply' | 'revert' | 'trial';
  /** Process making the change (a ConfDB admits one process: any other pid is a dead one). */
  pid: number;
  startedAt: string;
  /** The device's values just before this change: what a failed apply rolls back to, what a trial restores. */
  before: Record<string, string>;
  /** Set when the change failed and the device could not be brought back to `before`. */
  failed?: { at: string; reason: string; left: string[] };
}

export interface DeviceRecord {
  /** Kernel name of the whole disk (sda, nvme0n1, loop3). */
  device: string;
  /** major:minor when applied, so a revert notices the name now belongs to another device. */
  devNumber?: string;
  /** The medium when applied (its wwid or serial, a loop device's backing file): HostStateRecord.medium. */
  medium?: string;
  /**
   * The host whose device this is: apply, revert and the live evaluator refuse another host's record, and
   * an import refuses to bring one in. Absent in records written before it existed: those are trusted only
   * while the device shows their applied or their previous values (docs/devices.md).
   */
  recordedOn?: RecordingHost;
  appliedConfigId?: string;
  applied: Record<string, string>;
  /** Values before ssdtune first wrote, used by revert. */
  previous: Record<string, string>;
  appliedAt: string;
  by: string;
  pending?: PendingDeviceChange;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

export interface JobRecord {
  id: string;
  kind: 'tune';
  status: JobStatus;
  /** Identifies the work so two jobs for the same workload/space/evaluator are not run twice. */
  key: string;
  params: Record<string, unknown>;
  progress: { done: number; total: number; message?: string };
  /** Process that runs it; a running job whose pid is gone was interrupted. */
  pid?: number;
  result?: Record<string, unknown>;
  error?: string;
  /** The coded error's code (SSDTUNE_...), so a client rethrows it with its exit code and HTTP status. */
  errorCode?: string;
  /** Resumable search state (JSON). */
  checkpoint?: unknown;
  /** Times a run of it started (BullMQ queue: each run is one queue entry); a job interrupted this often is not resumed automatically again. */
  attempts?: number;
  /** Which process runs it (host:pid), on a queue shared by several. */
  owner?: string;
  /** Cancellation asked of a job running in another process (BullMQ queue); its runner stops at its next check. */
  cancelRequested?: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

export interface TraceRecord {
  id: string;
  name: string;
  /** Where the file is kept (under the data directory for uploads). */
  path: string;
  bytes: number;
  /** Sniffed format, when it could be told. */
  format?: string;
  /** Content digest (hex SHA-256): how workers on other hosts fetch it (ConfDB blobs, then their bounded cache). */
  sha256?: string;
  uploadedAt: string;
  by: string;
}

/**
 * An operator's choice of configuration for a workload in a space, on one
 * device class or on all ('*'). A pin outranks every learned configuration.
 */
export interface PinRecord {
  /** pinKey(workloadId, space) + ':' + deviceClass */
  id: string;
  workloadId: string;
  space: string;
  deviceClass: string;
  configId: string;
  by: string;
  at: string;
  reason?: string;
}

/**
 * The outcome of one evaluation job (fleet mode): the evaluator's metrics
 * for one configuration on one trace, keyed by a digest of everything that
 * determines it, so a job run twice (a worker died after evaluating) is
 * recorded once, and a restarted coordinator finds what was already done.
 */
export interface ResultRecord {
  /** evaluationKey(): hex SHA-256 of evaluator, its options, trace digest and configuration. */
  id: string;
  status: 'ok' | 'failed';
  metrics?: Metrics;
  error?: string;
  /** The failure's SSDTUNE_* code: the coordinator rethrows it coded (absent in records written before codes were kept). */
  errorCode?: string;
  /** Which worker (host:pid) recorded it, when, and how long the evaluation took. */
  worker: string;
  at: string;
  ms: number;
}

/**
 * What a fleet agent last reported for one device: written only when it
 * changed (a thousand agents reporting every few minutes write nothing new
 * while nothing changes).
 */
export interface AgentRecord {
  /** `<host>/<device>` */
  id: string;
  host: string;
  device: string;
  deviceClass: string;
  workloadId: string;
  /** The configuration recommended, when there is one. */
  configId?: string;
  /** The attributes as the agent found them (after its last apply). */
  applied: Record<string, string>;
  at: string;
}
