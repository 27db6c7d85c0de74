/**
 * Background jobs (tune searches) run inside the process that holds the
 * ConfDB. A job's record is the truth: its progress and resumable checkpoint
 * are written to the ConfDB as it goes, so after a crash the next process
 * marks it `interrupted` and can resume it from the checkpoint.
 *
 * Two submissions with the same key (same workload, space, evaluator,
 * budget) share one job instead of doing the work twice: the check and the
 * insert run under one ConfDB lock, so concurrent identical submissions make
 * one job. The queue is bounded (SSDTUNE_QUEUE_FULL, HTTP 429, beyond
 * `maxQueued` waiting jobs), and a job whose runs were interrupted
 * `maxAttempts` times (a crash it causes itself, say) is failed instead of
 * resumed again at every start.
 */
import { EventEmitter } from 'node:events';
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { JobRecord, JobStatus } from '../confdb/records.js';
import { ERR_CONFLICT, ERR_QUEUE_FULL, ERR_USAGE, isSsdtuneError } from '../errors.js';
import { ACTIVE_JOB_STATES, decideSubmission, pollJob, type JobQueue } from './queue.js';

export interface JobControl {
  signal: AbortSignal;
  /** Report progress; persisted at most once a second. */
  progress(done: number, total: number, message?: string): void;
  /** Persist resumable state (JSON). */
  checkpoint(state: unknown): Promise<void>;
  /** The checkpoint of an interrupted run being resumed, if any. */
  resumeFrom?: unknown;
}

export type JobHandler = (job: JobRecord, ctl: JobControl) => Promise<Record<string, unknown>>;

const ACTIVE = ACTIVE_JOB_STATES;
const PROGRESS_PERSIST_MS = 1000;
/**
 * In a store shared with other processes (PostgreSQL), a job is another live
 * process's while its record was touched within LEASE_MS: the runner touches
 * its queued and running jobs every HEARTBEAT_MS.
 */
const HEARTBEAT_MS = 15_000;
const LEASE_MS = 60_000;

export interface JobLimits {
  /** Jobs run at once. */
  concurrency?: number;
  /** Queued jobs beyond which a submission is refused (429). */
  maxQueued?: number;
  /** Runs of one job that may start (the first and the automatic resumes after interruptions). */
  maxAttempts?: number;
  /** How long cancel() waits for a running job to stop before it answers. */
  cancelWaitMs?: number;
}

export const JOB_LIMITS: Required<JobLimits> = { concurrency: 1, maxQueued: 100, maxAttempts: 3, cancelWaitMs: 5000 };

/** The in-process JobQueue (the default): jobs run in the process that holds the ConfDB. */
export class JobRunner extends EventEmitter implements JobQueue {
  private queue: string[] = [];
  private running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private closed = false;
  private readonly heartbeat?: NodeJS.Timeout;
  private readonly limits: Required<JobLimits>;

  constructor(
    private readonly db: ConfDB,
    private readonly handlers: Record<string, JobHandler>,
    limits: JobLimits = {},
  ) {
    super();
    this.limits = { ...JOB_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
    if (db.shared) {
      this.heartbeat = setInterval(() => void this.touchOwnJobs().catch(() => {}), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
  }

  /**
   * Call once after opening the ConfDB. LevelDB admits one process, so any job
   * still `running` or `queued` belonged to a process that died; in a shared
   * store, only those whose owner stopped touching them (LEASE_MS).
   */
  async recoverInterrupted(): Promise<JobRecord[]> {
    const now0 = Date.now();
    const active = await this.db.jobsWithStatus(ACTIVE);
    const stale = this.db.shared ? active.filter((j) => now0 - Date.parse(j.updatedAt) > LEASE_MS) : active;
    const now = new Date().toISOString();
    const marked = stale.map((j) => ({ ...j, status: 'interrupted' as const, updatedAt: now, pid: undefined }));
    await this.db.batch([
      ...marked.map((value) => ({ kind: 'jobs' as const, type: 'put' as const, value })),
      ...(marked.length ? [ConfDB.audit('system', 'jobs.interrupted', { ids: marked.map((j) => j.id) })] : []),
    ]);
    return marked;
  }

  /**
   * Queue again every job that `recoverInterrupted` marked (the server does
   * this at start), except those already started maxAttempts times: they are
   * failed, so a job that takes the process down cannot do so at every start.
   */
  async resumeInterrupted(actor: string): Promise<JobRecord[]> {
    const jobs = (await this.db.jobsWithStatus(['interrupted'])).filter((j) => this.handlers[j.kind]);
    const out: JobRecord[] = [];
    for (const j of jobs) {
      const attempts = j.attempts ?? 0;
      if (attempts >= this.limits.maxAttempts) {
        const error = `interrupted ${attempts} times (limit ${this.limits.maxAttempts}); not resumed again automatically: resume it explicitly (POST /v1/jobs/${j.id}/resume) once the cause is fixed`;
        const failed: JobRecord = { ...j, status: 'failed', error, updatedAt: new Date().toISOString() };
        await this.db.batch([{ kind: 'jobs', type: 'put', value: failed }, ConfDB.audit(actor, 'jobs.retry-limit', { id: j.id, attempts })]);
        this.emit('update', failed);
        continue;
      }
      out.push(await this.resume(j.id, actor));
    }
    return out;
  }

  async submit(
    kind: string,
    key: string,
    params: Record<string, unknown>,
    actor: string,
    opts: { force?: boolean } = {},
  ): Promise<{ job: JobRecord; deduplicated: boolean }> {
    if (!this.handlers[kind]) throw ERR_USAGE(`unknown job kind "${kind}"; known: ${Object.keys(this.handlers).join(', ')}`);
    // One lock for the check and the insert: identical concurrent submissions share one job, and the bound holds.
    const r = await this.db.exclusive('jobs:submit', (tx) =>
      decideSubmission(
        tx,
        { kind, key, params, actor, ...opts },
        {
          admit: async () => {
            const waiting = (await tx.jobsWithStatus(['queued'])).length;
            if (waiting >= this.limits.maxQueued) throw ERR_QUEUE_FULL(waiting, this.limits.maxQueued);
          },
        },
      ),
    );
    if (!r.deduplicated) {
      this.queue.push(r.job.id);
      this.pump();
    }
    return r;
  }

  /** Queue an interrupted (or failed/cancelled) job again; it starts from its checkpoint. */
  async resume(id: string, actor: string): Promise<JobRecord> {
    const job = await this.db.require('jobs', id);
    if (ACTIVE.includes(job.status)) throw ERR_CONFLICT(`job ${id} is already ${job.status}`);
    if (job.status === 'done') throw ERR_CONFLICT(`job ${id} is done; submit a new job to run it again`);
    const next: JobRecord = { ...job, status: 'queued', error: undefined, errorCode: undefined, updatedAt: new Date().toISOString() };
    await this.db.batch([{ kind: 'jobs', type: 'put', value: next }, ConfDB.audit(actor, 'jobs.resume', { id })]);
    this.queue.push(id);
    this.pump();
    return next;
  }

  async cancel(id: string, actor: string): Promise<JobRecord> {
    const job = await this.db.require('jobs', id);
    const live = this.running.get(id);
    if (live) {
      // The signal reaches the reader and the evaluator; answer within cancelWaitMs even if one is slow to notice.
      live.abort.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([live.done, new Promise((r) => (timer = setTimeout(r, this.limits.cancelWaitMs)))]);
      clearTimeout(timer);
    } else if (job.status === 'queued') {
      this.queue = this.queue.filter((q) => q !== id);
      await this.finish(job, 'cancelled', {});
    } else {
      throw ERR_CONFLICT(`job ${id} is ${job.status}, not queued or running`);
    }
    await this.db.put('audit', { id: newId(), at: new Date().toISOString(), actor, action: 'jobs.cancel', details: { id } });
    return this.db.require('jobs', id);
  }

  /** Resolves when no job is queued or running (tests, CLI one-shot tune). */
  /** This runner's events for the jobs it runs; the record, read, for a job another process sharing the store runs. */
  wait(id: string, onUpdate?: (job: JobRecord) => void): Promise<JobRecord> {
    return new Promise<JobRecord>((resolve, reject) => {
      let settled = false;
      const done = (j: JobRecord) => {
        if (settled) return;
        settled = true;
        this.off('update', onEvent);
        resolve(j);
      };
      const onEvent = (j: JobRecord) => {
        if (j.id !== id || settled) return;
        onUpdate?.(j);
        if (!ACTIVE.includes(j.status)) done(j);
      };
      this.on('update', onEvent);
      if (this.running.has(id) || this.queue.includes(id)) return;
      // Not this runner's (or it ended before the listener was added): read the record.
      pollJob(this.db, id, (j) => !settled && onUpdate?.(j)).then(done, (e) => {
        this.off('update', onEvent);
        reject(e);
      });
    });
  }

  async idle(): Promise<void> {
    while (this.queue.length || this.running.size) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /**
   * The heartbeat of this runner's queued jobs in a shared store (running ones
   * beat in run()), under the job's lock so that run() marking it running is
   * never overwritten.
   */
  private async touchOwnJobs(): Promise<void> {
    for (const id of [...this.queue]) {
      await this.db.exclusive(`job:${id}`, async (tx) => {
        const j = await tx.get('jobs', id);
        if (j?.status === 'queued') await tx.put('jobs', { ...j, updatedAt: new Date().toISOString() });
      });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.closed = true;
    this.queue = [];
    for (const r of this.running.values()) r.abort.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.limits.concurrency && this.queue.length) {
      const id = this.queue.shift()!;
      const abort = new AbortController();
      const entry = { abort, done: Promise.resolve() };
      this.running.set(id, entry);
      entry.done = this.run(id, abort.signal).finally(() => {
        this.running.delete(id);
        this.pump();
      });
    }
  }

  private async run(id: string, signal: AbortSignal): Promise<void> {
    let job = await this.db.require('jobs', id);
    const resumeFrom = job.checkpoint;
    job = { ...job, status: 'running', pid: process.pid, attempts: (job.attempts ?? 0) + 1, updatedAt: new Date().toISOString() };
    await this.db.exclusive(`job:${id}`, (tx) => tx.put('jobs', job));
    this.emit('update', job);
    let lastPersist = 0;
    let current = job;
    // The record's writes go one after another, and none after the job ended: progress and
    // heartbeat writes are not awaited by the search, and a store with a connection pool
    // (PostgreSQL) may commit two concurrent writes in either order, so a late "running" could
    // otherwise overwrite the final status and leave the job running forever.
    let writes: Promise<void> = Promise.resolve();
    let ended = false;
    const persist = (patch: Partial<JobRecord>): Promise<void> => {
      if (ended) return writes;
      current = { ...current, ...patch, updatedAt: new Date().toISOString() };
      const rec = current;
      const write = writes.then(async () => {
        if (ended) return;
        await this.db.put('jobs', rec);
        this.emit('update', rec);
      });
      writes = write.catch(() => {});
      return write;
    };
    const ctl: JobControl = {
      signal,
      resumeFrom,
      progress: (done, total, message) => {
        current = { ...current, progress: { done, total, ...(message ? { message } : {}) } };
        this.emit('update', current);
        const now = Date.now();
        if (now - lastPersist >= PROGRESS_PERSIST_MS) {
          lastPersist = now;
          void persist({}).catch(() => {});
        }
      },
      checkpoint: (state) => persist({ checkpoint: state }),
    };
    const beat = this.db.shared ? setInterval(() => void persist({}).catch(() => {}), HEARTBEAT_MS) : undefined;
    const stopped = () => (this.closed ? 'interrupted' : 'cancelled');
    let status: JobStatus;
    let patch: Partial<JobRecord>;
    try {
      // submit() refuses unknown kinds and recovery skips them: a job here has a handler
      const handler = this.handlers[job.kind];
      if (!handler) throw ERR_USAGE(`unknown job kind "${job.kind}"; known: ${Object.keys(this.handlers).join(', ')}`);
      const result = await handler(current, ctl);
      status = signal.aborted ? stopped() : 'done';
      patch = { result, ...this.gracefulAttempt(current, status) };
    } catch (e) {
      status = signal.aborted ? stopped() : 'failed';
      patch = { error: (e as Error).message, ...(isSsdtuneError(e) ? { errorCode: e.code } : {}), ...this.gracefulAttempt(current, status) };
    }
    clearInterval(beat);
    ended = true;
    await writes; // the last progress write lands before the final record, never after it
    await this.finish(current, status, patch);
  }

  /** A run this runner stopped itself (shutdown) does not count against the job's attempts: only crashes do. */
  private gracefulAttempt(job: JobRecord, status: JobStatus): Partial<JobRecord> {
    return status === 'interrupted' ? { attempts: Math.max(0, (job.attempts ?? 1) - 1) } : {};
  }

  private async finish(job: JobRecord, status: JobStatus, patch: Partial<JobRecord>): Promise<void> {
    const latest = (await this.db.get('jobs', job.id)) ?? job;
    // Progress and checkpoint as the run last reported them: their writes still queued when it ended are dropped
    // (none may land after the final record), and a resumed job would repeat the evaluations the lost one held.
    const done: JobRecord = {
      ...latest,
      ...patch,
      progress: job.progress ?? latest.progress,
      ...(job.checkpoint !== undefined ? { checkpoint: job.checkpoint } : {}),
      status,
      pid: undefined,
      updatedAt: new Date().toISOString(),
    };
    await this.db.put('jobs', done);
    this.emit('update', done);
  }
}
