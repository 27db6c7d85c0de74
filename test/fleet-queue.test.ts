/**
 * The job queue, in-process and on BullMQ, against real servers: one shared
 * suite over (LevelDB, in-process), (PostgreSQL, in-process) and
 * (PostgreSQL, BullMQ on Redis with a real worker), then the faults only a
 * fleet has: a worker killed with -9 mid-evaluation, a coordinator killed
 * mid-search (its final search equals an uninterrupted run with the same
 * seed), Redis and PostgreSQL crashing and restarting during a drain.
 * Workers in the fault tests are real `ssdtune worker` processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ConfDB } from '../src/confdb/db.js';
import { isSsdtuneError } from '../src/errors.js';
import { TraceCache } from '../src/service/trace-cache.js';
import { decodedStats } from '../src/evaluators/decoded.js';
import { sha256File } from '../src/util/digest.js';
import path from 'node:path';
import { Queue } from 'bullmq';
import { loadSettings, type Settings } from '../src/config.js';
import type { JobRecord } from '../src/confdb/records.js';
import { openService, type Service } from '../src/service/context.js';
import { EVAL_ATTEMPTS, EVAL_QUEUE, evaluationKey, type EvaluationSpec } from '../src/service/evaluation-jobs.js';
import { jobHandlers } from '../src/service/handlers.js';
import { redisConnection } from '../src/service/queue-bullmq.js';
import { keepTraceBytes, registerLocalTrace } from '../src/service/traces.js';
import { submitTune } from '../src/service/tune-jobs.js';
import { startWorker, type RunningWorker } from '../src/service/worker.js';
import { PostgresServer, postgresMissing, RedisServer, redisMissing } from './helpers/servers.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at } from '../src/util/at.js';
import { killAtExit } from '../src/util/cleanup.js';

const TRACE = path.resolve('traces/msr_hm_0_sample1000.csv');
const CLI = path.resolve('dist/src/cli/main.js');
const FAST_SIM = { preconditionFill: 0, preconditionAge: 0 };
const tmp = (p: string) => tempDir(`ssdtune-fleet-${p}-`);
const missing = postgresMissing() ?? redisMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pgs: PostgresServer | undefined;
let redis: RedisServer | undefined;
before(async () => {
  if (postgresMissing() === undefined) pgs = await PostgresServer.start();
  if (!missing) redis = await RedisServer.start();
});
after(async () => {
  await pgs?.stop();
  await redis?.stop();
});

async function waitJob(svc: Service, id: string, until: (j: JobRecord) => boolean, ms = 180_000): Promise<JobRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await svc.db.require('jobs', id);
    if (until(j)) return j;
    if (Date.now() > end) throw new Error(`job ${id} still ${j.status} (${JSON.stringify(j.progress)})`);
    await sleep(100);
  }
}
const finished = (j: JobRecord) => !['queued', 'running'].includes(j.status);

/** A Redis of its own per setup: BullMQ's queues are global to a Redis. */
async function flushRedis(): Promise<void> {
  for (const name of ['ssdtune-tune', EVAL_QUEUE]) {
    const q = new Queue(name, { connection: redisConnection(redis!.url) });
    await q.obliterate({ force: true });
    await q.close();
  }
}

interface Setup {
  name: string;
  skip: string | false;
  open(): Promise<{ svc: Service; worker?: RunningWorker; close(): Promise<void> }>;
}
const SETUPS: Setup[] = [
  {
    name: 'LevelDB, in-process jobs',
    skip: false,
    open: async () => {
      const svc = await openService(loadSettings({ dataDir: tmp('level'), ssdsim: FAST_SIM }), jobHandlers);
      return { svc, close: () => svc.close() };
    },
  },
  {
    name: 'PostgreSQL, in-process jobs',
    skip: postgresMissing() ?? false,
    open: async () => {
      const svc = await openService(loadSettings({ dataDir: tmp('pg'), store: await pgs!.newDatabase(), ssdsim: FAST_SIM }), jobHandlers);
      return { svc, close: () => svc.close() };
    },
  },
  {
    name: 'PostgreSQL, BullMQ on Redis',
    skip: missing ?? false,
    open: async () => {
      await flushRedis();
      const settings = loadSettings({ dataDir: tmp('serve'), store: await pgs!.newDatabase(), queue: redis!.url, ssdsim: FAST_SIM });
      const svc = await openService(settings, jobHandlers);
      const worker = await startWorker({ ...settings, dataDir: tmp('worker') }, { concurrency: 2, tuneConcurrency: 1, lockMs: 5000 });
      return {
        svc,
        worker,
        close: async () => {
          await worker.close();
          await svc.close();
        },
      };
    },
  },
];

for (const s of SETUPS) {
  describe(`job queue: ${s.name}`, { skip: s.skip }, () => {
    test('a tune job runs to done; the same request again shares it; its evaluations are stored once', async () => {
      const { svc, worker, close } = await s.open();
      try {
        const streams = decodedStats.streams;
        const trace = await registerLocalTrace(svc, TRACE, 'test');
        const spec = { traceId: trace.id, evaluator: 'ssdsim' as const, budget: 4, seed: 3 };
        const a = await submitTune(svc, spec, 'test');
        const b = await submitTune(svc, spec, 'test');
        assert.equal(b.deduplicated, true);
        assert.equal(b.job.id, a.job.id);
        const done = await waitJob(svc, a.job.id, finished);
        assert.equal(done.status, 'done', done.error);
        const result = done.result as { config: { id: string; workloadId: string }; search: { evaluations: number } };
        assert.equal(result.search.evaluations, 4);
        assert.equal((await svc.db.evaluationsOf(result.config.workloadId)).length, 4);
        assert.equal((await submitTune(svc, spec, 'test')).job.id, a.job.id, 'a done job still answers the same request');
        if (worker) {
          // Every evaluation ran as a job and was recorded once; the worker fetched the trace once, by digest.
          assert.equal(await svc.db.count('results'), 4);
          assert.equal(worker.svc.traceCache!.fetches, 1);
          // Each evaluation job makes its own evaluator; the four shared one decoding of the trace (decoded.ts).
          assert.equal(decodedStats.streams - streams, 1, 'the worker decoded the trace once for its 4 evaluations');
        }
      } finally {
        await close();
      }
    });

    test('cancel: a queued job never runs, a running one stops', async () => {
      const { svc, close } = await s.open();
      try {
        const trace = await registerLocalTrace(svc, TRACE, 'test');
        const first = await submitTune(svc, { traceId: trace.id, evaluator: 'ssdsim', budget: 200, seed: 5 }, 'test');
        const second = await submitTune(svc, { traceId: trace.id, evaluator: 'ssdsim', budget: 200, seed: 6 }, 'test');
        await waitJob(svc, first.job.id, (j) => j.status === 'running' && j.progress.done >= 1, 60_000);
        assert.equal((await svc.jobs.cancel(second.job.id, 'test')).status, 'cancelled');
        assert.equal((await svc.jobs.cancel(first.job.id, 'test')).status, 'cancelled');
        await sleep(500);
        assert.equal((await svc.db.require('jobs', second.job.id)).progress.done, 0, 'the cancelled queued job never started');
        await assert.rejects(svc.jobs.cancel(first.job.id, 'test'), /not queued or running/);
      } finally {
        await close();
      }
    });
  });
}

test('trace cache: fetched once by digest, kept within its byte budget, in-use copies never evicted', async () => {
  const db = await ConfDB.open(tmp('cache-db'));
  const dir = tmp('cache-src');
  const digests: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(dir, `t${i}`);
    writeFileSync(f, randomBytes(300_000));
    digests.push(await sha256File(f));
    await db.putBlob(at(digests, i), f);
  }
  const cache = new TraceCache(db, tmp('cache'), 700_000);
  await cache.with(at(digests, 0), async (f) => assert.equal(statSync(f).size, 300_000));
  await cache.with(at(digests, 0), async () => {});
  assert.equal(cache.fetches, 1);
  await cache.with(at(digests, 1), async () => {
    // While t1 is read, fetching t2 must evict t0 (the oldest), not t1.
    await cache.with(at(digests, 2), async () => {});
    assert.ok((await cache.bytes()) <= 700_000);
  });
  await cache.with(at(digests, 1), async () => {});
  assert.equal(cache.fetches, 3, 't1 stayed cached');
  await assert.rejects(
    cache.with('f'.repeat(64), async () => {}),
    (e) => isSsdtuneError(e, 'SSDTUNE_NOT_FOUND'),
  );
  await db.close();
});

function spawnWorker(settings: Settings, extra: string[] = [], env: Record<string, string> = {}): ChildProcess & { log: () => string } {
  const proc = spawn(process.execPath, [CLI, 'worker', '--data-dir', tmp('w'), '--lock', '2s', ...extra], {
    // A coordinator's evaluations use its worker's simulator settings: the same as the in-process reference.
    env: { ...process.env, SSDTUNE_STORE: settings.store!, SSDTUNE_QUEUE: settings.queue!, SSDTUNE_SIM_PRECONDITION: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  killAtExit(proc); // a finally does not run on a signal or a throw from a timer (util/cleanup.ts)
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  return Object.assign(proc, { log: () => log });
}
const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;
async function kill9(p: ChildProcess): Promise<void> {
  if (exited(p)) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}
async function stop(p: ChildProcess): Promise<void> {
  if (exited(p)) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

describe('fleet faults', { skip: missing ?? false }, () => {
  async function fleet(o: { precondition?: boolean; trace?: string } = {}) {
    await flushRedis();
    const settings = loadSettings({
      dataDir: tmp('serve'),
      store: await pgs!.newDatabase(),
      queue: redis!.url,
      ...(o.precondition ? {} : { ssdsim: FAST_SIM }),
    });
    const svc = await openService(settings, jobHandlers);
    const trace = await keepTraceBytes(svc, await registerLocalTrace(svc, o.trace ?? TRACE, 'test'));
    const spec = (config: Record<string, unknown>): { spec: EvaluationSpec; config: Record<string, unknown> } => ({
      spec: { space: 'ssd', evaluator: 'ssdsim', replay: { mode: 'recorded' }, ssdsim: settings.ssdsim, trace: { sha256: trace.sha256!, name: 'msr' } },
      config,
    });
    return { settings, svc, trace, spec };
  }

  test('kill -9 a worker mid-evaluation: another worker runs it after the lock expires; recorded once', async () => {
    // 50,000 requests on a preconditioned drive: one evaluation takes long enough to kill it in the middle.
    const { settings, svc, spec } = await fleet({ precondition: true, trace: path.resolve('traces/tencent_cbs_sample50k.csv.bz2') });
    const w1 = spawnWorker(settings);
    let w2: ReturnType<typeof spawnWorker> | undefined;
    try {
      const { spec: s0, config } = spec({ channels: 8 });
      // The Tencent volume is larger than the simulated drive: wrap its addresses.
      const s = { ...s0, lbaPolicy: 'modulo' as const };
      const key = evaluationKey(s, config as never);
      const outcome = svc.evaluations!.evaluate({ key, spec: s, config: config as never, workload: 'msr' });
      const q = new Queue(EVAL_QUEUE, { connection: redisConnection(settings.queue!) });
      for (let i = 0; i < 600 && (await (await q.getJob(key))?.getState()) !== 'active'; i++) await sleep(50);
      assert.equal(await (await q.getJob(key))!.getState(), 'active', `worker 1 took the job (log: ${w1.log()})`);
      await kill9(w1);
      assert.equal(await svc.db.get('results', key), undefined, 'killed before it recorded');
      w2 = spawnWorker(settings);
      const metrics = await outcome;
      assert.ok(metrics.iops > 0);
      const rec = await svc.db.require('results', key);
      assert.equal(rec.worker.split(':').at(-1), String(w2.pid), 'recorded by the second worker');
      assert.equal(await svc.db.count('results'), 1);
      await q.close();
    } finally {
      await kill9(w1);
      if (w2) await stop(w2);
      await svc.close();
    }
  });

  test('every worker that takes an evaluation dies: a coded failure of the fleet, not recorded, and the next search measures it', async () => {
    const { settings, svc, spec } = await fleet({ precondition: true, trace: path.resolve('traces/tencent_cbs_sample50k.csv.bz2') });
    const { spec: s0, config } = spec({ channels: 8 });
    const s = { ...s0, lbaPolicy: 'modulo' as const };
    const job = { key: evaluationKey(s, config as never), spec: s, config: config as never, workload: 'tencent' };
    const q = new Queue(EVAL_QUEUE, { connection: redisConnection(settings.queue!) });
    const workers: ReturnType<typeof spawnWorker>[] = [];
    // A short lock: a dead worker's job stalls about a second after its death.
    const start = () => {
      const w = spawnWorker(settings, ['--lock', '1s']);
      workers.push(w);
      return w;
    };
    try {
      const first = svc.evaluations!.evaluate(job);
      const settled = first.then(
        () => undefined,
        (e: unknown) => e,
      );
      // BullMQ fails a job once it has stalled more than EVAL_ATTEMPTS times: that many and one workers die in it.
      for (let run = 1; run <= EVAL_ATTEMPTS + 1; run++) {
        const w = start();
        let entry = await q.getJob(job.key);
        for (let i = 0; i < 1200 && !(entry && entry.attemptsStarted >= run && (await entry.getState()) === 'active'); i++) {
          await sleep(50);
          entry = await q.getJob(job.key);
        }
        assert.equal(entry?.attemptsStarted, run, `worker ${run} took the job (log: ${w.log()})`);
        await kill9(w);
      }
      // This one's stalled check fails the job.
      start();
      const failure = await settled;
      assert.ok(isSsdtuneError(failure, 'SSDTUNE_EVAL_UNFINISHED'), `coded as the fleet's failure: ${String(failure)}`);
      assert.match(failure.message, /^evaluation of \{"channels":8\} on tencent: no worker finished it \(job stalled more than allowable limit\)/);
      assert.equal(await svc.db.count('results'), 0, "the fleet's failure is not recorded as the configuration's outcome");
      // The next search that asks for it measures it.
      const metrics = await svc.evaluations!.evaluate(job);
      assert.ok(metrics.iops > 0);
      assert.equal((await svc.db.require('results', job.key)).status, 'ok');
    } finally {
      for (const w of workers) await kill9(w);
      await q.close();
      await svc.close();
    }
  });

  test('kill -9 the coordinator mid-search: the job resumes elsewhere and its search equals an uninterrupted run with the same seed', async () => {
    const budget = 8;
    // The uninterrupted reference: the embedded service, same trace, same seed.
    const ref = await openService(loadSettings({ dataDir: tmp('ref'), ssdsim: FAST_SIM }), jobHandlers);
    const refTrace = await registerLocalTrace(ref, TRACE, 'test');
    const refJob = await submitTune(ref, { traceId: refTrace.id, evaluator: 'ssdsim', budget, seed: 7 }, 'test');
    const refDone = await waitJob(ref, refJob.job.id, finished);
    const refEvals = await ref.db.evaluationsOf((refDone.result as { config: { workloadId: string } }).config.workloadId);
    await ref.close();

    const { settings, svc, trace } = await fleet();
    const w1 = spawnWorker(settings);
    let w2: ReturnType<typeof spawnWorker> | undefined;
    try {
      const { job } = await submitTune(svc, { traceId: trace.id, evaluator: 'ssdsim', budget, seed: 7 }, 'test');
      await waitJob(svc, job.id, (j) => j.progress.done >= 3, 120_000);
      await kill9(w1);
      const midway = await svc.db.require('jobs', job.id);
      assert.equal(midway.status, 'running', "the dead worker's job is still marked running");
      w2 = spawnWorker(settings);
      const done = await waitJob(svc, job.id, finished);
      assert.equal(done.status, 'done', done.error);
      assert.equal(done.attempts, 1, 'one takeover');
      const evals = await svc.db.evaluationsOf((done.result as { config: { workloadId: string } }).config.workloadId);
      const shape = (es: typeof evals) => es.map((e) => ({ values: e.values, status: e.status, grade: e.grade, metrics: e.metrics }));
      assert.deepEqual(shape(evals), shape(refEvals));
      // Each evaluation recorded once, whatever ran twice.
      assert.equal(await svc.db.count('results'), budget);
    } finally {
      await kill9(w1);
      if (w2) await stop(w2);
      await svc.close();
    }
  });

  test('Redis and PostgreSQL crash and restart during a drain: every evaluation recorded, none twice', async () => {
    const { settings, svc, spec } = await fleet();
    const workers = [spawnWorker(settings, ['--concurrency', '2']), spawnWorker(settings, ['--concurrency', '2'])];
    try {
      const jobs = Array.from({ length: 16 }, (_, i) => spec({ channels: 4 + (i % 8), diesPerChip: i < 8 ? 4 : 8 }));
      const keys = jobs.map((j) => evaluationKey(j.spec, j.config as never));
      assert.equal(new Set(keys).size, jobs.length);
      const all = Promise.all(jobs.map((j, i) => svc.evaluations!.evaluate({ key: at(keys, i), spec: j.spec, config: j.config as never, workload: 'msr' })));
      const progress = async (n: number) => {
        for (let i = 0; i < 1200 && (await svc.db.count('results')) < n; i++) await sleep(50);
      };
      await progress(3);
      await redis!.crashAndRestart();
      await progress(7);
      await pgs!.crashAndRestart();
      const metrics = await all;
      assert.equal(metrics.length, jobs.length);
      assert.ok(metrics.every((m) => m.iops > 0));
      assert.equal(await svc.db.count('results'), jobs.length);
      for (const k of keys) assert.equal((await svc.db.require('results', k)).status, 'ok');
    } finally {
      for (const w of workers) await stop(w);
      await svc.close();
    }
  });
});
