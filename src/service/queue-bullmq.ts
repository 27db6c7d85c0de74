/**
 * The JobQueue on BullMQ (Redis or Valkey; run it with appendonly yes and
 * maxmemory-policy noeviction, or jobs can be lost). Tune jobs wait on the
 * `ssdtune-tune` queue, one queue entry per run of a job record (entry id
 * `<record id>.<attempt>`), and `ssdtune worker` processes run them as
 * coordinators: each evaluation of their search is a job of its own on
 * `ssdtune-eval` (evaluation-jobs.ts).
 *
 * The ConfDB (shared: PostgreSQL) holds the truth about each job, exactly as
 * with the in-process runner, and the semantics are the same: one job per
 * key (decided under a store lock, so two `serve` instances cannot both
 * queue one), cancellation of queued and running jobs, a job whose runner
 * dies resumes from its checkpoint, and one interrupted too often fails.
 * A worker that dies mid-job loses its lock; after lockMs another worker's
 * stalled check puts the entry back and someone runs it from its checkpoint.
 */
import os from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { JobRecord, JobStatus } from '../confdb/records.js';
import { ERR_CONFLICT, ERR_USAGE, isSsdtuneError } from '../errors.js';
import type { JobControl, JobHandler } from './jobs.js';
import { ACTIVE_JOB_STATES as ACTIVE, decideSubmission, pollJob, type JobQueue } from './queue.js';

export const TUNE_QUEUE = 'ssdtune-tune';
/** Runs of one job before it is failed instead of resumed again (a job that kills its worker must not loop). */
export const MAX_ATTEMPTS = 5;
const PROGRESS_PERSIST_MS = 1000;
/** How often a running job looks for a cancellation asked from another process. */
const CANCEL_POLL_MS = 500;

/** BullMQ's connection options for a redis:// URL; commands wait through a Redis restart instead of failing. */
export function redisConnection(url: string) {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (n: number) => Math.min(100 * n, 2000) };
}

export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

export interface BullQueueOptions {
  /** Run tune jobs in this process (ssdtune worker), and how many at once. 0: submit only (serve). */
  concurrency: number;
  /** A worker's lock on a job lasts this long without renewal (its death is noticed after about this). */
  lockMs: number;
}

export class BullJobQueue implements JobQueue {
  private readonly queue: Queue;
  private worker?: Worker;
  private readonly aborts = new Map<string, AbortController>();
  private closed = false;

  constructor(
    private readonly db: ConfDB,
    private readonly handlers: Record<string, JobHandler>,
    url: string,
    opts: BullQueueOptions,
  ) {
    if (!db.shared) throw ERR_USAGE('a Redis job queue (SSDTUNE_QUEUE) needs a ConfDB that workers on other hosts can reach: set SSDTUNE_STORE=postgres://...');
    const connection = redisConnection(url);
    this.queue = new Queue(TUNE_QUEUE, { connection });
    this.queue.on('error', () => {});
    if (opts.concurrency > 0) {
      this.worker = new Worker(TUNE_QUEUE, (job: Job) => this.run((job.data as { id: string }).id), {
        connection,
        concurrency: opts.concurrency,
        lockDuration: opts.lockMs,
        stalledInterval: Math.max(1000, opts.lockMs / 2),
        // The record counts runs (MAX_ATTEMPTS); BullMQ only has to hand a stalled entry on.
        maxStalledCount: MAX_ATTEMPTS,
      });
      this.worker.on('error', () => {});
    }
  }

  private async enqueue(job: JobRecord): Promise<void> {
    await this.queue.add(job.kind, { id: job.id }, { jobId: `${job.id}.${job.attempts ?? 0}`, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 } });
  }

  async submit(
    kind: string,
    key: string,
    params: Record<string, unknown>,
    actor: string,
    opts: { force?: boolean } = {},
  ): Promise<{ job: JobRecord; deduplicated: boolean }> {
    if (!this.handlers[kind]) throw ERR_USAGE(`unknown job kind "${kind}"; known: ${Object.keys(this.handlers).join(', ')}`);
    const decided = await this.db.exclusive(`jobs:key:${key}`, (tx) =>
      decideSubmission(tx, { kind, key, params, actor, ...opts }, { fields: { attempts: 0 } }),
    );
    // After the record commits: a crash in between leaves a queued record that resumeInterrupted queues.
    if (!decided.deduplicated) await this.enqueue(decided.job);
    return decided;
  }

  async resume(id: string, actor: string): Promise<JobRecord> {
    const next = await this.db.exclusive(`job:${id}`, async (tx) => {
      const job = await tx.require('jobs', id);
      if (ACTIVE.includes(job.status)) throw ERR_CONFLICT(`job ${id} is already ${job.status}`);
      if (job.status === 'done') throw ERR_CONFLICT(`job ${id} is done; submit a new job to run it again`);
      const n: JobRecord = {
        ...job,
        status: 'queued',
        error: undefined,
        errorCode: undefined,
        cancelRequested: undefined,
        attempts: (job.attempts ?? 0) + 1,
        updatedAt: new Date().toISOString(),
      };
      await tx.batch([{ kind: 'jobs', type: 'put', value: n }, ConfDB.audit(actor, 'jobs.resume', { id })]);
      return n;
    });
    await this.enqueue(next);
    return next;
  }

  async cancel(id: string, actor: string): Promise<JobRecord> {
    const job = await this.db.require('jobs', id);
    if (job.status === 'queued') {
      const entry = await this.queue.getJob(`${id}.${job.attempts ?? 0}`);
      // Removal fails only when a worker has just taken it: then it is running, and cancelled as below.
      const removed = entry
        ? await entry.remove().then(
            () => true,
            () => false,
          )
        : true;
      if (removed) {
        await this.setStatus(id, ['queued'], 'cancelled', {});
        await this.db.put('audit', { id: newId(), at: new Date().toISOString(), actor, action: 'jobs.cancel', details: { id } });
        return this.db.require('jobs', id);
      }
    } else if (job.status !== 'running') {
      throw ERR_CONFLICT(`job ${id} is ${job.status}, not queued or running`);
    }
    await this.db.exclusive(`job:${id}`, async (tx) => {
      const j = await tx.require('jobs', id);
      if (ACTIVE.includes(j.status)) await tx.put('jobs', { ...j, cancelRequested: true, updatedAt: new Date().toISOString() });
    });
    this.aborts.get(id)?.abort();
    // Wait for its runner (here or in another worker) to stop.
    for (let i = 0; i < 600; i++) {
      const j = await this.db.require('jobs', id);
      if (!ACTIVE.includes(j.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.db.put('audit', { id: newId(), at: new Date().toISOString(), actor, action: 'jobs.cancel', details: { id } });
    return this.db.require('jobs', id);
  }

  /** BullMQ notices dead workers itself (their locks expire); nothing is marked at open. */
  async recoverInterrupted(): Promise<JobRecord[]> {
    return [];
  }

  /**
   * Queue again interrupted jobs, and queued ones whose queue entry is gone
   * (a serve that died between writing the record and queueing it).
   */
  async resumeInterrupted(actor: string): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (const j of await this.db.jobsWithStatus(['interrupted'])) if (this.handlers[j.kind]) out.push(await this.resume(j.id, actor));
    for (const j of await this.db.jobsWithStatus(['queued'])) {
      if (!(await this.queue.getJob(`${j.id}.${j.attempts ?? 0}`))) {
        await this.enqueue(j);
        out.push(j);
      }
    }
    return out;
  }

  /** Workers in other processes run it: its record tells. */
  wait(id: string, onUpdate?: (job: JobRecord) => void): Promise<JobRecord> {
    return pollJob(this.db, id, onUpdate);
  }

  async idle(): Promise<void> {
    for (;;) {
      const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      if (Object.values(c).every((n) => n === 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const a of this.aborts.values()) a.abort();
    await this.worker?.close();
    await this.queue.close();
  }

  /** Change a job's status only from the expected ones (another process may have moved it). */
  private async setStatus(id: string, from: readonly JobStatus[], status: JobStatus, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    return this.db.exclusive(`job:${id}`, async (tx) => {
      const j = await tx.get('jobs', id);
      if (!j || !from.includes(j.status)) return undefined;
      const next: JobRecord = { ...j, ...patch, status, updatedAt: new Date().toISOString() };
      if (!ACTIVE.includes(status)) {
        delete next.owner;
        delete next.cancelRequested;
      }
      await tx.put('jobs', next);
      return next;
    });
  }

  /** One run of a job record, in a worker. */
  private async run(id: string): Promise<void> {
    const rec = await this.db.get('jobs', id);
    // A duplicate entry, or one cancelled or finished meanwhile: nothing to do.
    if (!rec || !ACTIVE.includes(rec.status) || !this.handlers[rec.kind]) return;
    const runs = (rec.attempts ?? 0) + 1;
    if (rec.status === 'running' && runs > MAX_ATTEMPTS) {
      await this.setStatus(id, ACTIVE, 'failed', { error: `interrupted ${MAX_ATTEMPTS} times (did its worker die each time?); resume it to try again` });
      return;
    }
    // A record still `running` here belonged to a worker that died (its lock expired): this run takes over.
    const job = await this.setStatus(id, ACTIVE, 'running', { owner: workerName(), attempts: rec.status === 'running' ? runs : (rec.attempts ?? 0) });
    if (!job) return;
    const abort = new AbortController();
    this.aborts.set(id, abort);
    let current = job;
    let lastPersist = 0;
    const persist = async (patch: Partial<JobRecord>) => {
      current = { ...current, ...patch };
      const latest = await this.setStatus(id, ['running'], 'running', {
        progress: current.progress,
        ...(patch.checkpoint !== undefined ? { checkpoint: patch.checkpoint } : {}),
      });
      if (latest?.cancelRequested) abort.abort();
    };
    const poll = setInterval(() => {
      void this.db.get('jobs', id).then(
        (j) => {
          if (j?.cancelRequested || (j && !ACTIVE.includes(j.status))) abort.abort();
        },
        () => {},
      );
    }, CANCEL_POLL_MS);
    const ctl: JobControl = {
      signal: abort.signal,
      resumeFrom: job.checkpoint,
      progress: (done, total, message) => {
        current = { ...current, progress: { done, total, ...(message ? { message } : {}) } };
        const now = Date.now();
        if (now - lastPersist >= PROGRESS_PERSIST_MS) {
          lastPersist = now;
          void persist({}).catch(() => {});
        }
      },
      checkpoint: (state) => persist({ checkpoint: state }),
    };
    // The final record carries what the run last reported: a checkpoint whose write had not landed would be lost,
    // and the job resumed elsewhere would repeat its evaluations.
    const lastReported = (): Partial<JobRecord> => ({
      progress: current.progress,
      ...(current.checkpoint !== undefined ? { checkpoint: current.checkpoint } : {}),
    });
    try {
      const handler = this.handlers[job.kind];
      if (!handler) throw ERR_USAGE(`unknown job kind "${job.kind}"; known: ${Object.keys(this.handlers).join(', ')}`);
      const result = await handler(current, ctl);
      if (abort.signal.aborted) throw new Error('stopped');
      await this.setStatus(id, ['running'], 'done', { result, ...lastReported() });
    } catch (e) {
      if (abort.signal.aborted && this.closed) {
        // This worker is shutting down: the job goes back on the queue and resumes elsewhere.
        const back = await this.setStatus(id, ['running'], 'queued', { attempts: (current.attempts ?? 0) + 1, ...lastReported() });
        if (back) await this.enqueue(back);
      } else {
        await this.setStatus(
          id,
          ['running'],
          abort.signal.aborted ? 'cancelled' : 'failed',
          abort.signal.aborted ? lastReported() : { error: (e as Error).message, ...(isSsdtuneError(e) ? { errorCode: e.code } : {}), ...lastReported() },
        );
      }
    } finally {
      clearInterval(poll);
      this.aborts.delete(id);
    }
  }
}
