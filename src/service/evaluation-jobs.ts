/**
 * Evaluations as jobs (fleet mode, SSDTUNE_QUEUE=redis://...). A tune job's
 * coordinator hands each evaluation its search asks for to the
 * `ssdtune-eval` queue instead of running it; `ssdtune worker` processes on
 * any machine run them.
 *
 * - Keyed: an evaluation's queue id is the digest of everything that decides
 *   its outcome (evaluator, its options, the trace's SHA-256, the
 *   configuration), so the same evaluation asked twice is one job.
 * - Recorded exactly once: the worker inserts the outcome into the ConfDB's
 *   `results` if absent; a job run twice (its worker died after evaluating)
 *   cannot record twice.
 * - Resumable: a coordinator asks the ConfDB first, so a restarted search
 *   replays its (seeded) proposals against what is already recorded and
 *   carries on where it stopped.
 * - A worker that dies mid-evaluation loses its lock; after lockMs BullMQ's
 *   stalled check gives the job to another worker.
 * - Traces travel by digest: a worker fetches each once into its bounded
 *   TraceCache.
 * - Coded: a failure is recorded with its SSDTUNE_* code beside its message,
 *   and the coordinator rethrows it coded, so the evaluator's stopsSearch
 *   (which matches codes) decides as it does in one process. An error the
 *   evaluator calls its own is not an outcome: it fails the job unrecorded.
 *   Nor is a job that ran out of runs (SSDTUNE_EVAL_UNFINISHED): the fleet
 *   failed it, not the configuration. Such a failed entry answers only the
 *   coordinators waiting on it; the next ask clears it and evaluates anew.
 * Whatever parallelism the searcher asks for (several evaluations in flight)
 * is spread over the workers; each evaluation is a plain Evaluator call.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonical-json.js';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ConfDB } from '../confdb/db.js';
import type { ResultRecord } from '../confdb/records.js';
import type { Evaluator, EvaluatorOptions, Metrics, Replay } from '../evaluators/types.js';
import { openTrace } from '../readers/registry.js';
import type { Configuration } from '../space/types.js';
import { EVALUATORS, isEvaluator, planTune } from './catalog.js';
import type { Settings } from '../config.js';
import { redisConnection, workerName } from './queue-bullmq.js';
import type { TraceCache } from './trace-cache.js';
import { ConfDbStateStore } from '../host/confdb-state.js';
import { ERR_EVAL_REVISION, ERR_EVAL_UNFINISHED, errorFromCode, isSsdtuneError } from '../errors.js';

export const EVAL_QUEUE = 'ssdtune-eval';
/** Runs of one evaluation job before BullMQ fails it (each worker death costs one). */
export const EVAL_ATTEMPTS = 6;
/** How often a waiting coordinator looks at a job that sent no event (a lost event, a restarted Redis). */
const CHECK_MS = 2000;

/** What decides an evaluation's outcome, and what a worker needs to run it. */
export interface EvaluationSpec {
  space: string;
  evaluator: string;
  replay: Replay;
  lbaPolicy?: EvaluatorOptions['lbaPolicy'];
  device?: string;
  format?: string;
  /** The coordinator's simulator settings: they decide the outcome, so workers use these, not their own. */
  ssdsim?: Settings['ssdsim'];
  /**
   * The evaluator's revision on the coordinator (EvaluatorEntry.revision; absent: 1, so the keys of outcomes
   * recorded before revisions were kept still answer). Part of the key: another revision's outcome answers nothing.
   */
  revision?: number;
  trace: { sha256: string; name: string };
}

export interface EvaluationJob {
  key: string;
  spec: EvaluationSpec;
  config: Configuration;
  /** Requests in the trace (for the evaluator's progress; not part of the key). */
  totalRequests?: number;
  workload: string;
}

export function evaluationKey(spec: EvaluationSpec, config: Configuration): string {
  return createHash('sha256')
    .update(canonicalJson({ spec: { ...spec, trace: spec.trace.sha256 }, config }))
    .digest('hex');
}

/** A worker's error rebuilt on the coordinator, with its code when it had one (stopsSearch matches codes). */
function rebuilt(message: string, code: string | undefined): Error {
  return code ? errorFromCode(code, message) : new Error(message);
}

/** A recorded outcome: its metrics, or its failure rethrown with the code the worker recorded. */
function outcome(r: ResultRecord): Metrics {
  if (r.status === 'ok' && r.metrics) return r.metrics;
  throw rebuilt(r.error ?? 'evaluation failed', r.errorCode);
}

/**
 * A job's failed reason when the worker's evaluator said the error was its own
 * (stopsSearch: its device busy, gone): the error, coded, and no outcome recorded.
 */
const STOPPED = 'stopped by the evaluator: ';
function stopReason(e: unknown): string {
  return STOPPED + JSON.stringify({ message: (e as Error).message, ...(isSsdtuneError(e) ? { code: e.code } : {}) });
}
function stoppedError(reason: string | undefined): Error | undefined {
  if (!reason?.startsWith(STOPPED)) return undefined;
  const { message, code } = JSON.parse(reason.slice(STOPPED.length)) as { message: string; code?: string };
  return rebuilt(message, code);
}

/** The coordinator's side: evaluators whose evaluations run on the queue. */
export class RemoteEvaluations {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly db: ConfDB,
    url: string,
  ) {
    const connection = redisConnection(url);
    this.queue = new Queue(EVAL_QUEUE, { connection });
    this.queue.on('error', () => {});
    this.events = new QueueEvents(EVAL_QUEUE, { connection });
    this.events.on('error', () => {});
    const wake = ({ jobId }: { jobId: string }) => this.waiters.get(jobId)?.forEach((f) => f());
    this.events.on('completed', wake);
    this.events.on('failed', wake);
  }

  /** An Evaluator with `local`'s name, space and say on which errors stop the search, whose evaluations are jobs. */
  evaluator(local: Pick<Evaluator, 'name' | 'space' | 'stopsSearch'>, spec: EvaluationSpec, totalRequests?: number): Evaluator {
    return {
      name: local.name,
      space: local.space,
      ...(local.stopsSearch ? { stopsSearch: (e: unknown) => local.stopsSearch!(e) } : {}),
      evaluate: (config, workload, opts) =>
        this.evaluate(
          { key: evaluationKey(spec, config), spec, config, workload: workload.name, ...(totalRequests !== undefined ? { totalRequests } : {}) },
          opts?.signal,
        ),
    };
  }

  /** Queue the evaluation unless it is recorded, and wait for its outcome. */
  async evaluate(job: EvaluationJob, signal?: AbortSignal): Promise<Metrics> {
    const done = await this.db.get('results', job.key);
    if (done) return outcome(done);
    // A failed entry an ask finds before it queues is an earlier ask's failure, which is recorded nowhere (a stop,
    // or no worker finished it): the coordinators that waited on it have seen it, or died before they could. This
    // ask evaluates anew; queued on top, it would be handed that failure again.
    const earlier = await this.queue.getJob(job.key);
    if (earlier && (await earlier.getState()) === 'failed') await earlier.remove().catch(() => {});
    await this.add(job);
    for (;;) {
      await this.nap(job.key, signal);
      if (signal?.aborted) throw new Error('evaluation cancelled');
      const r = await this.db.get('results', job.key);
      if (r) return outcome(r);
      const entry = await this.queue.getJob(job.key);
      if (!entry) await this.add(job);
      else if ((await entry.getState()) === 'failed') {
        // Failed unrecorded: stopped by the evaluator, or out of runs. A worker records every verdict of the
        // evaluator at its first run, so a job runs out of runs only when its workers died (stalled) or could not
        // reach the ConfDB or Redis each time: the fleet's failure. Recorded, it would answer every later search
        // that asks as the configuration's outcome; thrown coded, this search records it as a failed evaluation
        // and goes on (stopsSearch does not match it). The entry stays for every coordinator waiting on it to
        // see; the next ask removes it (above).
        throw stoppedError(entry.failedReason) ?? ERR_EVAL_UNFINISHED(`${canonicalJson(job.config)} on ${job.workload}`, entry.failedReason);
      }
    }
  }

  private async add(job: EvaluationJob): Promise<void> {
    await this.queue.add('evaluate', job, {
      jobId: job.key,
      attempts: EVAL_ATTEMPTS,
      backoff: { type: 'fixed', delay: 500 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 86400 },
    });
  }

  /** Until an event about this job, CHECK_MS, or cancellation. */
  private nap(key: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const wake = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', wake);
        set!.delete(wake);
        if (set!.size === 0) this.waiters.delete(key);
        resolve();
      };
      const t = setTimeout(wake, CHECK_MS);
      set.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}

/** Extra evaluators a worker offers beyond the catalogue's (benchmarks' calibrated ones). */
export type EvaluatorMakers = Record<string, (spec: EvaluationSpec, totalRequests?: number) => Evaluator>;

export interface EvaluationWorkerOptions {
  concurrency: number;
  lockMs: number;
  cache: TraceCache;
  extraEvaluators?: EvaluatorMakers;
}

/** The worker's side: run evaluation jobs, record each outcome once. */
export function startEvaluationWorker(db: ConfDB, settings: Settings, url: string, o: EvaluationWorkerOptions): Worker {
  const make = (spec: EvaluationSpec, totalRequests?: number): Evaluator => {
    const extra = o.extraEvaluators?.[spec.evaluator];
    if (extra) return extra(spec, totalRequests);
    const plan = planTune(
      {
        space: spec.space,
        evaluator: spec.evaluator,
        replay: spec.replay,
        ...(spec.lbaPolicy ? { lbaPolicy: spec.lbaPolicy } : {}),
        ...(spec.device ? { device: spec.device } : {}),
      },
      { ...settings, ssdsim: spec.ssdsim ?? {} },
    );
    // A device-backed evaluator records the device's way back in the shared ConfDB before it writes.
    return plan.makeEvaluator({ ...(totalRequests !== undefined ? { totalRequests } : {}), deviceState: new ConfDbStateStore(db, 'live-evaluator') });
  };
  const worker = new Worker(
    EVAL_QUEUE,
    async (bjob: Job, _token?: string, signal?: AbortSignal) => {
      const job = bjob.data as EvaluationJob;
      if (await db.get('results', job.key)) return 'recorded before';
      // Not an outcome: thrown before the evaluation, so BullMQ hands the job to another run (another worker, in a
      // fleet being upgraded), and, run out of runs, the coordinator's search gets the reason (SSDTUNE_EVAL_UNFINISHED).
      const asked = job.spec.revision ?? 1;
      if (!o.extraEvaluators?.[job.spec.evaluator] && isEvaluator(job.spec.evaluator) && EVALUATORS[job.spec.evaluator].revision !== asked)
        throw ERR_EVAL_REVISION(job.spec.evaluator, EVALUATORS[job.spec.evaluator].revision, asked);
      const t0 = performance.now();
      let rec: ResultRecord;
      let evaluator: Evaluator | undefined;
      let cached: string | undefined;
      try {
        evaluator = make(job.spec, job.totalRequests);
        const metrics = await o.cache.with(job.spec.trace.sha256, (file) => {
          cached = file;
          return evaluator!.evaluate(
            job.config,
            {
              name: job.workload,
              open: () => openTrace(file, job.spec.format ? { format: job.spec.format } : {}),
              // The worker's evaluations of one trace share its decoding (decoded.ts): an evaluator lives for one job.
              key: `${job.spec.trace.sha256} ${job.spec.format ?? 'auto'}`,
            },
            signal ? { signal } : {},
          );
        });
        rec = { id: job.key, status: 'ok', metrics, worker: workerName(), at: new Date().toISOString(), ms: performance.now() - t0 };
      } catch (e) {
        // The store or Redis failing is not the evaluation's outcome: let BullMQ run it again.
        if (signal?.aborted || isInfrastructure(e)) throw e;
        // Nor is the evaluator's own state (its device busy): recorded, it would answer every later search that
        // asks. The job fails at once, unrecorded; the coordinator rethrows the coded error and its search stops.
        if (evaluator?.stopsSearch?.(e)) throw new UnrecoverableError(stopReason(e));
        rec = {
          id: job.key,
          status: 'failed',
          // The reader names the file it read, here this worker's cache copy: the user knows the trace by its name.
          error: cached ? (e as Error).message.split(cached).join(job.spec.trace.name) : (e as Error).message,
          // The code travels beside the message: the coordinator rebuilds the coded error from it.
          ...(isSsdtuneError(e) ? { errorCode: e.code } : {}),
          worker: workerName(),
          at: new Date().toISOString(),
          ms: performance.now() - t0,
        };
      }
      return (await db.insertIfAbsent('results', rec)) ? 'recorded' : 'recorded by another run';
    },
    {
      connection: redisConnection(url),
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      stalledInterval: Math.max(1000, o.lockMs / 2),
      maxStalledCount: EVAL_ATTEMPTS,
    },
  );
  worker.on('error', () => {});
  return worker;
}

/** Failures of the machinery (database, network), as opposed to the evaluator's verdict. */
function isInfrastructure(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return (
    // The ConfDB's own: it retried a lost connection, or waited for a stalled lock holder, and gave up.
    code === 'SSDTUNE_CONFDB_UNAVAILABLE' ||
    code === 'SSDTUNE_CONFDB_BUSY' ||
    /^(08|57P|53)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code) ||
    /Connection terminated|terminating connection/i.test((e as Error).message ?? '')
  );
}
