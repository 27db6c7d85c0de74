/**
 * The service API: everything a front end can ask of ssdtune, as one
 * interface with two implementations. `InProcessApi` (below) works on the
 * ConfDB and job runner of this process; `HttpApi` (src/cli/http-client.ts)
 * is a client of the REST API of the `ssdtune serve` that holds the ConfDB,
 * with job polling hidden inside. A command behaves the same through either;
 * the REST routes are thin adapters over InProcessApi.
 *
 * Host-local operations (capture, doctor, analysis, model training, offline
 * identification among given traces) need no ConfDB: both implementations
 * run them in the calling process (src/service/local.ts).
 *
 * Adding an operation: a method here, its implementation in InProcessApi
 * (over a service module), a route in src/api/routes/ calling it, and the
 * same call over HTTP in HttpApi; the e2e suite (test/cli-e2e.test.ts) runs
 * each CLI command through both.
 */
import type { Readable, Writable } from 'node:stream';
import type { BackendName } from '../collector/index.js';
import { KINDS, type Kind, type RecordOf } from '../confdb/db.js';
import type { JobRecord, JobStatus, PinRecord, TraceRecord } from '../confdb/records.js';
import { exportConfDBTo, importConfDBFrom } from '../confdb/transfer.js';
import { ERR_CONFDB_IMPORT, ERR_USAGE, errorFromCode } from '../errors.js';
import type { Settings } from '../config.js';
import type { Service } from './context.js';
import { captureForSearch, pinConfig, report, unpin, type AgentReport, type FleetServer, type PinRequest, type Recommendation } from './fleet.js';
import { HostLocal, type HostLocalApi } from './local.js';
import {
  applyConfig,
  revertDevice,
  verifyDevice,
  type ApplyOutcome,
  type ApplyRequest,
  type RevertOutcome,
  type RevertRequest,
  type VerifyOutcome,
} from './devices.js';
import { identifyStored, type IdentifyMethod, type IdentifyOutcome } from './identify.js';
import type { RetuneDecision } from './retune-decision.js';
import { confinedPath, deleteTrace, registerLocalTrace, storeUpload, type TraceOptions } from './traces.js';
import { requireTraceReadable, submitTune } from './tune-jobs.js';
import { resolveTuneArgs, type TuneArgs, type TuneSpec } from './tune-spec.js';
import type { TuneResult } from './tune.js';
import type { WorkerOptions } from './worker.js';

export { KINDS, type Kind, type RecordOf } from '../confdb/db.js';
export type {
  AgentRecord,
  AuditRecord,
  ConfigRecord,
  DeviceRecord,
  EvaluationRecord,
  JobRecord,
  JobStatus,
  PinRecord,
  ResultRecord,
  TraceRecord,
  WorkloadRecord,
} from '../confdb/records.js';
export type { AgentReport, FleetServer, PinRequest, Recommendation } from './fleet.js';
export type { DeviceClass } from '../blockdev/device-class.js';
export type { WorkerOptions } from './worker.js';
export type { ApplyOutcome, ApplyRequest, Change, ExportKind, RevertOutcome, RevertRequest, VerifyOutcome } from './devices.js';
export type { IdentifyMethod, IdentifyOutcome } from './identify.js';
export type { TraceOptions } from './traces.js';
export { decisionLine, type RetuneDecision } from './retune-decision.js';
export { ssdConfigXml } from './ssd-export.js';
export type { TuneArgs, TuneSpec } from './tune-spec.js';
export type { TuneResult } from './tune.js';
export { parseProgressText, type ProgressParts } from './progress-text.js';
export {
  BACKENDS,
  CAPTURE_FORMATS,
  DEFAULT_TRAIN,
  hostLocal,
  type AnalysisReport,
  type AnalyzeOptions,
  type BackendCheck,
  type BackendName,
  type CaptureFormat,
  type CaptureRequest,
  type CaptureSummary,
  type DoctorReport,
  type HostLocalApi,
  type TrainConfig,
} from './local.js';

export type Counts = Record<Kind, number>;
export type OnProgress = (done: number, total: number, message?: string) => void;

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; absent on the last one. */
  next?: string;
}

export interface RetuneRequest {
  device: string;
  windowMs: number;
  budget: number;
  backend?: BackendName | 'auto';
  dryRun?: boolean;
  /**
   * A fleet agent (`retune --server URL`): the fleet's server decides what to
   * apply from the window's descriptors; this host applies it and keeps the way back.
   */
  fleet?: FleetServer;
}

export interface Health {
  status: 'ok';
  version: string;
  schema: number;
  uptimeSeconds: number;
}

export interface SsdtuneApi extends HostLocalApi {
  /** "in-process", or the server's URL. */
  readonly endpoint: string;

  // ---- traces
  /** Register a trace file by path, without copying it (the path is read where the service runs). */
  addTrace(path: string, o?: TraceOptions): Promise<TraceRecord>;
  /** Store an uploaded trace (streamed, size-limited). */
  uploadTrace(body: Readable, name: string, o?: TraceOptions): Promise<TraceRecord>;
  /** Forget a trace, and remove its file when the server stored it (traces.ts: deleteTrace). */
  deleteTrace(id: string): Promise<TraceRecord>;

  // ---- tuning
  /** Tune a trace file as a job and wait for it: the CLI's `tune`. Checked before anything is written. */
  tune(trace: string, args: TuneArgs, o?: { onProgress?: OnProgress }): Promise<TuneResult>;
  /** Queue a tune job; an identical request shares a job unless `force`. */
  submitTune(spec: TuneSpec, o?: { force?: boolean }): Promise<{ job: JobRecord; deduplicated: boolean }>;
  /** Wait until a job is no longer queued or running. */
  waitJob(id: string, o?: { onProgress?: OnProgress }): Promise<JobRecord>;
  cancelJob(id: string): Promise<JobRecord>;
  resumeJob(id: string): Promise<JobRecord>;

  // ---- records
  list<K extends Kind>(kind: K, o?: { limit?: number; after?: string }): Promise<Page<RecordOf[K]>>;
  get<K extends Kind>(kind: K, id: string): Promise<RecordOf[K]>;
  /** The whole ConfDB as JSON lines (see src/confdb/transfer.ts); ends `out`. */
  exportRecords(out: Writable): Promise<Counts>;
  /** Add the records of an export, all or nothing; `name` names the input in errors. */
  importRecords(input: Readable, name: string): Promise<Counts>;
  compact(): Promise<void>;
  health(): Promise<Health>;

  // ---- devices (on the host the service runs on)
  apply(r: ApplyRequest): Promise<ApplyOutcome>;
  /** `anyway`: restore the recorded values even when ssdtune cannot tell the record is this device's. */
  revert(device: string, o?: RevertRequest): Promise<RevertOutcome>;
  /** Does the device still have what ssdtune applied? */
  verify(device: string): Promise<VerifyOutcome>;
  /** Capture a window, identify the workload, apply its configuration when it differs. */
  retune(r: RetuneRequest): Promise<RetuneDecision>;

  // ---- identification against the ConfDB's workloads
  identify(traceId: string, o?: { method?: IdentifyMethod }): Promise<IdentifyOutcome>;

  // ---- fleet: what agents (`retune --server URL`, src/service/agent.ts) ask, and the operator's pins
  /** An agent's capture window (descriptors only), device class and applied attributes: its workload and what to apply. */
  fleetReport(r: AgentReport): Promise<Recommendation>;
  /** The capture of a workload with nothing learned on this device class (the report said needs-trace): starts its one search. */
  fleetCapture(workloadId: string, deviceClass: string, body: Readable, o?: { host?: string }): Promise<{ job: JobRecord; deduplicated: boolean }>;
  /** Pin a host configuration for a workload, on one device class or on all: it outranks every learned one. */
  pin(p: PinRequest): Promise<PinRecord>;
  unpin(workloadId: string, o?: { deviceClass?: string }): Promise<void>;

  close(): Promise<void>;
}

const PENDING: JobStatus[] = ['queued', 'running'];

/** A finished job's outcome: its result, or its error rethrown with its code (and so its exit code). */
export function jobOutcome<T>(job: JobRecord): T {
  if (job.status === 'done') return job.result as T;
  throw errorFromCode(job.errorCode ?? 'SSDTUNE_JOB', `tune job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
}

/** The service API over this process's ConfDB and job runner. */
export class InProcessApi extends HostLocal implements SsdtuneApi {
  readonly endpoint = 'in-process';
  private readonly started = Date.now();

  constructor(
    readonly svc: Service,
    /** Who is recorded in audit and device records: cli, api, retune... */
    readonly actor: string,
    private readonly version = '',
    /**
     * Paths come from remote callers (the REST API): a trace is registered by
     * path only under the upload directory and the configured `traceDirs`, and
     * no error quotes a byte of the file. The CLI's own paths are not confined.
     */
    private readonly confinePaths = false,
  ) {
    super();
  }

  /** The same API recording another actor (a REST request's). */
  as(actor: string): InProcessApi {
    return actor === this.actor ? this : new InProcessApi(this.svc, actor, this.version, this.confinePaths);
  }

  /** Bumped on every write to a kind, by any process sharing the store (REST list pages are cached by it). */
  generation(kind: Kind): Promise<number> {
    return this.svc.db.generation(kind);
  }

  addTrace(path: string, o: TraceOptions = {}): Promise<TraceRecord> {
    return registerLocalTrace(this.svc, path, this.actor, { ...o, confine: this.confinePaths });
  }

  uploadTrace(body: Readable, name: string, o: TraceOptions = {}): Promise<TraceRecord> {
    // A remote caller's upload is bounded by maxUploadBytes; this process's own caller uploads only its standard
    // input (`tune -`), bounded by stdinMaxBytes as it sends it (cli/standard-input.ts).
    return storeUpload(this.svc, body, name, this.actor, { ...o, ...(this.confinePaths ? {} : { maxBytes: this.svc.settings.stdinMaxBytes }) });
  }

  deleteTrace(id: string): Promise<TraceRecord> {
    return deleteTrace(this.svc, id, this.actor);
  }

  async tune(trace: string, args: TuneArgs, o: { onProgress?: OnProgress } = {}): Promise<TuneResult> {
    const job = await this.startTune(trace, args);
    return jobOutcome<TuneResult>(await this.waitJob(job.id, o));
  }

  /** tune() without the wait (POST /v1/tune). */
  async startTune(trace: string, args: TuneArgs): Promise<JobRecord> {
    // A refused request writes nothing, not even the trace's record.
    resolveTuneArgs(args, this.svc.settings).plan.checkHost();
    const rec = await this.addTrace(trace, args.format ? { format: args.format } : {});
    // Every `tune` runs: identifying the workload again is the point (POST /v1/jobs shares identical jobs).
    return (await this.submitTune({ ...args, traceId: rec.id }, { force: true })).job;
  }

  submitTune(spec: TuneSpec, o: { force?: boolean } = {}) {
    return submitTune(this.svc, spec, this.actor, o);
  }

  async waitJob(id: string, o: { onProgress?: OnProgress } = {}): Promise<JobRecord> {
    const job = await this.svc.db.require('jobs', id);
    if (!PENDING.includes(job.status)) return job;
    return this.svc.jobs.wait(id, (j) => o.onProgress?.(j.progress.done, j.progress.total, j.progress.message));
  }

  cancelJob(id: string): Promise<JobRecord> {
    return this.svc.jobs.cancel(id, this.actor);
  }

  async resumeJob(id: string): Promise<JobRecord> {
    const job = await this.svc.db.require('jobs', id);
    // A tune job whose trace is gone would be queued only to fail: refused, coded, saying why.
    if (job.kind === 'tune') await requireTraceReadable(this.svc, job);
    return this.svc.jobs.resume(id, this.actor);
  }

  async list<K extends Kind>(kind: K, o: { limit?: number; after?: string } = {}): Promise<Page<RecordOf[K]>> {
    const limit = o.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw ERR_USAGE(`limit must be an integer 1..10000, got ${limit}`);
    const items = await this.svc.db.list(kind, { limit, ...(o.after ? { after: o.after } : {}) });
    const last = items.at(-1) as Record<string, unknown> | undefined;
    return items.length === limit && last ? { items, next: String(last.id ?? last.device) } : { items };
  }

  get<K extends Kind>(kind: K, id: string): Promise<RecordOf[K]> {
    return this.svc.db.require(kind, id);
  }

  exportRecords(out: Writable): Promise<Counts> {
    return exportConfDBTo(this.svc.db, out);
  }

  importRecords(input: Readable, name: string): Promise<Counts> {
    // A trace record names a file the server would read: over the API, only where registering may (confinePaths).
    const tracePath = (file: string, importName: string, lineNo: number) => {
      try {
        confinedPath(this.svc.settings, file);
      } catch {
        throw ERR_CONFDB_IMPORT(
          importName,
          lineNo,
          `the traces record names ${file}, outside the directories this server reads traces from (its upload directory and "traceDirs" in config.json): add its directory to traceDirs, or leave the record out`,
        );
      }
    };
    return importConfDBFrom(this.svc.db, input, name, this.actor, this.confinePaths ? { tracePath } : {});
  }

  compact(): Promise<void> {
    return this.svc.db.compact();
  }

  /** Records per kind and jobs per status (Prometheus /metrics). */
  async stats(): Promise<{ records: Counts; jobs: Partial<Record<JobStatus, number>> }> {
    const records = Object.fromEntries(await Promise.all(KINDS.map(async (k) => [k, await this.svc.db.count(k)] as const))) as Counts;
    const jobs: Partial<Record<JobStatus, number>> = {};
    for (const j of await this.svc.db.list('jobs')) jobs[j.status] = (jobs[j.status] ?? 0) + 1;
    return { records, jobs };
  }

  async health(): Promise<Health> {
    return { status: 'ok', version: this.version, schema: await this.svc.db.schemaVersion(), uptimeSeconds: (Date.now() - this.started) / 1000 };
  }

  apply(r: ApplyRequest): Promise<ApplyOutcome> {
    return applyConfig(this.svc, r, this.actor);
  }

  revert(device: string, o: RevertRequest = {}): Promise<RevertOutcome> {
    return revertDevice(this.svc, device, o, this.actor);
  }

  verify(device: string): Promise<VerifyOutcome> {
    return verifyDevice(this.svc, device);
  }

  async retune(r: RetuneRequest): Promise<RetuneDecision> {
    // Loaded on first use: they bring the collector and TensorFlow.js.
    if (r.fleet) {
      const { agentRetune } = await import('./agent.js');
      const { fleet, ...o } = r;
      return agentRetune(this.svc, { ...o, actor: this.actor, server: fleet });
    }
    const { retune } = await import('./retune.js');
    return retune(this.svc, { ...r, actor: this.actor });
  }

  identify(traceId: string, o: { method?: IdentifyMethod } = {}): Promise<IdentifyOutcome> {
    return identifyStored(this.svc, traceId, o.method);
  }

  fleetReport(r: AgentReport): Promise<Recommendation> {
    return report(this.svc, r);
  }

  fleetCapture(workloadId: string, deviceClass: string, body: Readable, o: { host?: string } = {}): Promise<{ job: JobRecord; deduplicated: boolean }> {
    return captureForSearch(this.svc, workloadId, deviceClass, body, o.host ?? 'unknown');
  }

  pin(p: PinRequest): Promise<PinRecord> {
    return pinConfig(this.svc, p, this.actor);
  }

  unpin(workloadId: string, o: { deviceClass?: string } = {}): Promise<void> {
    return unpin(this.svc, workloadId, o.deviceClass, this.actor);
  }

  close(): Promise<void> {
    return this.svc.close();
  }
}

/** A running `ssdtune worker`: tune jobs and evaluations from the fleet queue, in this process, until closed. */
export interface FleetWorker {
  /** Where it takes work from and records it ("redis://... (ConfDB postgres://...)"). */
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Start running the fleet queue's jobs in this process (`ssdtune worker`):
 * needs SSDTUNE_QUEUE and SSDTUNE_STORE, the same as the serve instances.
 * Loaded on first use: it brings BullMQ.
 */
export async function startFleetWorker(settings: Settings, o: WorkerOptions): Promise<FleetWorker> {
  const { startWorker } = await import('./worker.js');
  const w = await startWorker(settings, o);
  return { description: `${settings.queue} (ConfDB ${w.svc.db.location})`, close: () => w.close() };
}
