/**
 * `ssdtune worker`: a fleet process that runs tune jobs (coordinators) and
 * evaluation jobs from the Redis queue, recording into the shared ConfDB.
 * Start as many as the evaluations need, on any machine that reaches the
 * PostgreSQL and the Redis; stop one with SIGTERM (its running tune jobs go
 * back on the queue and resume elsewhere) or lose it (kill -9, a crash: its
 * jobs are taken over once their locks expire).
 */
import path from 'node:path';
import type { Worker } from 'bullmq';
import type { Settings } from '../config.js';
import { ERR_USAGE } from '../errors.js';
import { openService, type Service } from './context.js';
import { startEvaluationWorker, type EvaluatorMakers } from './evaluation-jobs.js';
import { jobHandlers } from './handlers.js';
import { DEFAULT_TRACE_CACHE_BYTES, TraceCache } from './trace-cache.js';

export interface WorkerOptions {
  /** Evaluations run at once. */
  concurrency: number;
  /** Tune jobs (coordinators, mostly waiting on evaluations) run at once. */
  tuneConcurrency: number;
  lockMs: number;
  cacheBytes?: number;
  extraEvaluators?: EvaluatorMakers;
}

export interface RunningWorker {
  svc: Service;
  evaluations: Worker;
  close(): Promise<void>;
}

export async function startWorker(settings: Settings, o: WorkerOptions): Promise<RunningWorker> {
  if (!settings.queue || !settings.store)
    throw ERR_USAGE('ssdtune worker serves a fleet: set SSDTUNE_QUEUE=redis://... and SSDTUNE_STORE=postgres://... (the same as the serve instances)');
  // Its jobs' errors are read over the REST API: they quote no trace bytes.
  const svc = await openService(settings, jobHandlers, { tuneConcurrency: o.tuneConcurrency, lockMs: o.lockMs, quoteInput: false });
  svc.traceCache = new TraceCache(svc.db, path.join(settings.dataDir, 'trace-cache'), o.cacheBytes ?? DEFAULT_TRACE_CACHE_BYTES);
  const evaluations = startEvaluationWorker(svc.db, settings, settings.queue, {
    concurrency: o.concurrency,
    lockMs: o.lockMs,
    cache: svc.traceCache,
    ...(o.extraEvaluators ? { extraEvaluators: o.extraEvaluators } : {}),
  });
  return {
    svc,
    evaluations,
    close: async () => {
      await evaluations.close();
      await svc.close();
    },
  };
}
