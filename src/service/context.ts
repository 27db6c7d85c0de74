/**
 * The service: the one object every front end (CLI, REST API, cron retune)
 * works through. It owns the ConfDB and the job queue of this process:
 * embedded (LevelDB, in-process jobs) unless SSDTUNE_STORE / SSDTUNE_QUEUE
 * name a PostgreSQL and a Redis (fleet mode, queue-bullmq.ts).
 */
import { mkdirSync } from 'node:fs';
import { ConfDB } from '../confdb/db.js';
import type { Settings } from '../config.js';
import { ERR_USAGE } from '../errors.js';
import type { RemoteEvaluations } from './evaluation-jobs.js';
import { JobRunner, type JobHandler } from './jobs.js';
import type { JobQueue } from './queue.js';
import type { TraceCache } from './trace-cache.js';

export interface Service {
  settings: Settings;
  db: ConfDB;
  jobs: JobQueue;
  /** Fleet mode: a search's evaluations run as jobs on the queue (undefined: in this process). */
  evaluations?: RemoteEvaluations;
  /** A fleet worker's local copies of traces, by digest. */
  traceCache?: TraceCache;
  /**
   * Errors may quote a trace's bytes (a line that does not parse, an unknown format's first bytes): in a CLI process,
   * which reads its user's own files. A server (startServer) and a fleet worker set it false: their errors reach
   * remote callers (a REST reply, a job record), and a trace registered under traceDirs may be a file they should not
   * read in full. Errors then give the code, the trace and the line or offset, no bytes.
   */
  quoteInput: boolean;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Fleet mode: tune jobs this process runs at once (ssdtune worker); 0 (serve, CLI) only submits. */
  tuneConcurrency?: number;
  /** Fleet mode: a worker's job lock lasts this long without renewal. */
  lockMs?: number;
  /** Service.quoteInput (default true). */
  quoteInput?: boolean;
}

export const DEFAULT_LOCK_MS = 30_000;

export async function openService(settings: Settings, handlers: Record<string, (svc: Service) => JobHandler> = {}, o: ServiceOptions = {}): Promise<Service> {
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  if (settings.queue && !settings.store)
    throw ERR_USAGE('a Redis job queue (SSDTUNE_QUEUE) needs a ConfDB that workers on other hosts can reach: set SSDTUNE_STORE=postgres://... too');
  const db = await ConfDB.open(settings.dataDir, settings.store);
  const svc = { settings, db, quoteInput: o.quoteInput ?? true } as Service;
  const made = Object.fromEntries(Object.entries(handlers).map(([k, make]) => [k, make(svc)]));
  try {
    if (settings.queue) {
      // Loaded only in fleet mode: the embedded default never loads BullMQ.
      const [{ BullJobQueue }, { RemoteEvaluations }] = await Promise.all([import('./queue-bullmq.js'), import('./evaluation-jobs.js')]);
      svc.jobs = new BullJobQueue(db, made, settings.queue, { concurrency: o.tuneConcurrency ?? 0, lockMs: o.lockMs ?? DEFAULT_LOCK_MS });
      svc.evaluations = new RemoteEvaluations(db, settings.queue);
    } else {
      svc.jobs = new JobRunner(db, made, { maxQueued: settings.maxQueuedJobs, maxAttempts: settings.maxJobAttempts });
    }
    await svc.jobs.recoverInterrupted();
  } catch (e) {
    await db.close();
    throw e;
  }
  svc.close = async () => {
    await svc.jobs.close();
    await svc.evaluations?.close();
    await db.close();
  };
  return svc;
}
