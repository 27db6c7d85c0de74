/**
 * The job queue: where a tune job waits and which process runs it. Two
 * implementations behind one interface, chosen by one setting:
 * - in-process (jobs.ts, the default): the process holding the ConfDB runs
 *   its jobs; nothing to set up;
 * - BullMQ on Redis (queue-bullmq.ts, SSDTUNE_QUEUE=redis://...): any number
 *   of `serve` instances submit, `ssdtune worker` processes on any machine
 *   run the tune jobs (coordinators) and their evaluations.
 * Either way the ConfDB's job record is the truth about a job (status,
 * progress, checkpoint, result); the queue only decides who runs it when.
 */
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { JobRecord, JobStatus } from '../confdb/records.js';

export interface JobQueue {
  /**
   * Queue a job unless one with the same key is queued, running or done
   * (atomic per key, across processes sharing the store); `force` queues anew.
   */
  submit(
    kind: string,
    key: string,
    params: Record<string, unknown>,
    actor: string,
    opts?: { force?: boolean },
  ): Promise<{ job: JobRecord; deduplicated: boolean }>;
  /** Queue an interrupted, failed or cancelled job again; it starts from its checkpoint. */
  resume(id: string, actor: string): Promise<JobRecord>;
  cancel(id: string, actor: string): Promise<JobRecord>;
  /** Mark the jobs whose runner died as interrupted (at open). */
  recoverInterrupted(): Promise<JobRecord[]>;
  /** Queue again every interrupted job (the server does this at start). */
  resumeInterrupted(actor: string): Promise<JobRecord[]>;
  /**
   * Resolve with the job once it is no longer queued or running, whichever
   * process runs it; `onUpdate` sees its progress on the way.
   */
  wait(id: string, onUpdate?: (job: JobRecord) => void): Promise<JobRecord>;
  /** Resolves when no job is queued or running (tests, CLI one-shot tune). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** A job in one of these states is someone's work in progress. */
export const ACTIVE_JOB_STATES: readonly JobStatus[] = ['queued', 'running'];

/** How often a waiter reads a job's record that another process runs. */
export const WAIT_POLL_MS = 250;

/**
 * Wait by reading the record (a job another process runs: BullMQ workers, or
 * another serve's runner on a shared store). `onUpdate` sees each new version.
 */
export async function pollJob(
  db: { require(kind: 'jobs', id: string): Promise<JobRecord> },
  id: string,
  onUpdate?: (job: JobRecord) => void,
): Promise<JobRecord> {
  let seen = '';
  for (;;) {
    const j = await db.require('jobs', id);
    if (j.updatedAt !== seen) {
      seen = j.updatedAt;
      onUpdate?.(j);
    }
    if (!ACTIVE_JOB_STATES.includes(j.status)) return j;
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/**
 * What a submission comes to, decided inside the caller's store lock (both
 * queues): the queued, running or done job with the same key, unless
 * `force`; else a new queued record with its audit entry, written through
 * `tx`. `admit` runs before the insert (the in-process queue's bound);
 * `fields` are the queue's own (BullMQ counts attempts).
 */
export async function decideSubmission(
  tx: ConfDB,
  s: { kind: string; key: string; params: Record<string, unknown>; actor: string; force?: boolean },
  o: { admit?: () => Promise<void>; fields?: Partial<JobRecord> } = {},
): Promise<{ job: JobRecord; deduplicated: boolean }> {
  if (!s.force) {
    const same = await tx.latestJobWithKey(s.key, [...ACTIVE_JOB_STATES, 'done']);
    if (same) return { job: same, deduplicated: true };
  }
  await o.admit?.();
  const now = new Date().toISOString();
  const job: JobRecord = {
    id: newId(),
    kind: s.kind as JobRecord['kind'],
    status: 'queued',
    key: s.key,
    params: s.params,
    progress: { done: 0, total: 0 },
    ...o.fields,
    createdAt: now,
    updatedAt: now,
  };
  await tx.batch([{ kind: 'jobs', type: 'put', value: job }, ConfDB.audit(s.actor, 'jobs.submit', { id: job.id, kind: s.kind, key: s.key })]);
  return { job, deduplicated: false };
}
