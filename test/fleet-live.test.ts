/**
 * Fleet mode (PostgreSQL ConfDB, BullMQ on Redis, a real worker):
 * - what an evaluation's failure carries back: a queued evaluation's coded
 *   error reaches the coordinator with its code, so an evaluator's own errors
 *   (a live device busy) stop the search there as they do in one process;
 * - a live tune, which measures a device of the host that names it, never
 *   goes to the fleet's workers (any host): refused, and a worker refuses one
 *   an older serve queued.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Queue } from 'bullmq';
import { lockBlockDevice, type DeviceLock } from '../src/blockdev/device-lock.js';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { loadSettings } from '../src/config.js';
import { isSsdtuneError, SsdtuneError } from '../src/errors.js';
import { LiveEvaluator } from '../src/evaluators/live/live-evaluator.js';
import { ConfDbStateStore } from '../src/host/confdb-state.js';
import { MemoryStateStore } from '../src/host/state.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readSnapshot } from '../src/blockdev/sysfs.js';
import { openTrace } from '../src/readers/registry.js';
import { buildHostSpace } from '../src/host/host-space.js';
import { makeSearcher, runSearch } from '../src/search/search.js';
import { openService } from '../src/service/context.js';
import { EVAL_QUEUE, evaluationKey, type EvaluationSpec, type EvaluatorMakers } from '../src/service/evaluation-jobs.js';
import { jobHandlers } from '../src/service/handlers.js';
import { EVALUATORS } from '../src/service/catalog.js';
import { redisConnection } from '../src/service/queue-bullmq.js';
import { keepTraceBytes, registerLocalTrace } from '../src/service/traces.js';
import { startWorker } from '../src/service/worker.js';
import { submitTune } from '../src/service/tune-jobs.js';
import { killAtExit } from '../src/util/cleanup.js';
import { tempDir } from '../src/util/temp-dir.js';
import { assertBusyDeviceStopsSearch } from './helpers/busy-device.js';
import { loopWithoutScheduler } from './helpers/loop.js';
import { PostgresServer, postgresMissing, RedisServer, redisMissing } from './helpers/servers.js';

const MSR = path.resolve('traces/msr_hm_0_sample1000.csv');
/** A Tencent volume: its addresses reach beyond the simulated drive's capacity. */
const TENCENT = path.resolve('traces/tencent_cbs_sample50k.csv.bz2');
const CLI = path.resolve('dist/src/cli/main.js');
const FAST_SIM = { preconditionFill: 0, preconditionAge: 0 };
const tmp = (p: string) => tempDir(`ssdtune-fleetlive-${p}-`);
const missing = postgresMissing() ?? redisMissing();
const DIST_SRC = path.resolve('dist/src');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The catalogue's live evaluator is refused in fleet mode (below); a worker may offer a device evaluator of its own. */
const LIVE_HERE: EvaluatorMakers = {
  'live-here': (spec) => new LiveEvaluator({ device: spec.device!, store: new MemoryStateStore(), mode: 'closed', queueDepth: 1 }),
};

let pgs: PostgresServer | undefined;
let redis: RedisServer | undefined;
before(async () => {
  if (missing) return;
  pgs = await PostgresServer.start();
  redis = await RedisServer.start();
});
after(async () => {
  await pgs?.stop();
  await redis?.stop();
});

/**
 * A serve-side service and one worker on a fresh database and an emptied Redis, with `trace` stored by digest.
 * `workerLater`: the worker starts when the test calls startWorker().
 */
async function fleet(trace: string, extraEvaluators?: EvaluatorMakers, o: { workerLater?: boolean } = {}) {
  for (const name of ['ssdtune-tune', EVAL_QUEUE]) {
    const q = new Queue(name, { connection: redisConnection(redis!.url) });
    await q.obliterate({ force: true });
    await q.close();
  }
  const settings = loadSettings({ dataDir: tmp('serve'), store: await pgs!.newDatabase(), queue: redis!.url, ssdsim: FAST_SIM });
  const svc = await openService(settings, jobHandlers);
  const start = () =>
    startWorker(
      { ...settings, dataDir: tmp('worker') },
      {
        concurrency: 1,
        tuneConcurrency: 1,
        lockMs: 5000,
        ...(extraEvaluators ? { extraEvaluators } : {}),
      },
    );
  let worker = o.workerLater ? undefined : await start();
  const rec = await keepTraceBytes(svc, await registerLocalTrace(svc, trace, 'test'));
  return {
    svc,
    settings,
    trace: rec,
    sha256: rec.sha256!,
    startWorker: async () => {
      worker = await start();
    },
    close: async () => {
      await worker?.close();
      await svc.close();
    },
  };
}

describe('fleet: coded errors across the evaluation queue', { skip: missing ?? false }, () => {
  test("a worker's coded error reaches the coordinator with its code; a result recorded without one still reads", async () => {
    const f = await fleet(TENCENT);
    try {
      const spec: EvaluationSpec = {
        space: 'ssd',
        evaluator: 'ssdsim',
        replay: { mode: 'recorded' },
        lbaPolicy: 'reject',
        ssdsim: f.settings.ssdsim,
        trace: { sha256: f.sha256, name: 'tencent' },
      };
      const config = { channels: 2 };
      const key = evaluationKey(spec, config);
      const coded = (e: unknown) =>
        isSsdtuneError(e, 'SSDTUNE_SSDSIM_LBA_RANGE') &&
        /^tencent: request \d+ ends at sector \d+ but the simulated device has/.test(e.message) &&
        !e.message.includes('trace-cache');
      await assert.rejects(f.svc.evaluations!.evaluate({ key, spec, config, workload: 'tencent' }), coded);
      const rec = await f.svc.db.require('results', key);
      assert.equal(rec.status, 'failed');
      assert.equal(rec.errorCode, 'SSDTUNE_SSDSIM_LBA_RANGE');
      // Asked again, the recorded outcome answers, code and all.
      await assert.rejects(f.svc.evaluations!.evaluate({ key, spec, config, workload: 'tencent' }), coded);
      // A record from before codes were kept: its message, uncoded, as it always read.
      const old = evaluationKey(spec, { channels: 3 });
      await f.svc.db.insertIfAbsent('results', { id: old, status: 'failed', error: 'an old failure', worker: 'old:1', at: new Date().toISOString(), ms: 1 });
      await assert.rejects(f.svc.evaluations!.evaluate({ key: old, spec, config: { channels: 3 }, workload: 'tencent' }), (e: unknown) => {
        assert.ok(!(e instanceof SsdtuneError), 'no code was recorded, none is made up');
        assert.equal((e as Error).message, 'an old failure');
        return true;
      });
    } finally {
      await f.close();
    }
  });

  test('a worker runs only evaluations of its own revision of the evaluator; another revision is left unrecorded', { timeout: 60_000 }, async () => {
    const f = await fleet(MSR);
    try {
      const current = EVALUATORS['readahead-model'].revision;
      assert.ok(current > 1, 'the readahead model is at revision 2 or later (3d56dbe changed its grades)');
      const asked = (revision?: number): EvaluationSpec => ({
        space: 'host',
        evaluator: 'readahead-model',
        replay: { mode: 'recorded' },
        ...(revision ? { revision } : {}),
        trace: { sha256: f.sha256, name: 'msr' },
      });
      const config = { read_ahead_kb: 512 };
      // An older coordinator's spec names no revision: revision 1, whose outcome this worker cannot give.
      const old = asked();
      await assert.rejects(f.svc.evaluations!.evaluate({ key: evaluationKey(old, config), spec: old, config, workload: 'msr' }), (e: unknown) => {
        assert.ok(isSsdtuneError(e, 'SSDTUNE_EVAL_UNFINISHED'), String(e));
        assert.match(e.message, new RegExp(`readahead-model evaluator at revision ${current}, and the search asked for revision 1`));
        return true;
      });
      assert.equal(await f.svc.db.count('results'), 0, "another revision's evaluation is not recorded");
      const now = asked(current);
      assert.notEqual(evaluationKey(now, config), evaluationKey(old, config), 'the revision is part of the key');
      const metrics = await f.svc.evaluations!.evaluate({ key: evaluationKey(now, config), spec: now, config, workload: 'msr' });
      assert.ok(metrics.latencyMeanUs > 0);
      assert.equal((await f.svc.db.require('results', evaluationKey(now, config))).status, 'ok');
    } finally {
      await f.close();
    }
  });

  test(
    "a queued live evaluation whose device is busy stops the search with the device's error",
    { skip: canUseLoopDevices() ?? false, timeout: 120_000 },
    async () => {
      const f = await fleet(MSR, LIVE_HERE);
      const loop = loopWithoutScheduler(32 << 20);
      try {
        const replay = { mode: 'closed' as const, queueDepth: 1 };
        const spec: EvaluationSpec = { space: 'host', evaluator: 'live-here', replay, device: loop.path, trace: { sha256: f.sha256, name: 'msr' } };
        // The coordinator's own evaluator says which errors are the device's; the worker runs the evaluations.
        const local = new LiveEvaluator({ device: loop.path, store: new ConfDbStateStore(f.svc.db, 'live-evaluator'), mode: 'closed', queueDepth: 1 });
        const evaluator = f.svc.evaluations!.evaluator(local, spec);
        const workload = { name: 'msr', open: () => openTrace(MSR) };
        await assertBusyDeviceStopsSearch(loop.path, evaluator, workload);
        // The device's state is not the configuration's outcome: only the baseline is recorded, and the same
        // search once the device is free measures every configuration instead of replaying the device's error.
        assert.equal(await f.svc.db.count('results'), 1, 'the error that stopped the search is not recorded as an outcome');
        const again = await runSearch(makeSearcher('adaptive'), { space: buildHostSpace(loop.path), evaluator, workload, budget: { evaluations: 4 }, seed: 1 });
        assert.deepEqual(
          again.evaluations.map((e) => e.status),
          ['ok', 'ok', 'ok', 'ok'],
        );
      } finally {
        loop.destroy();
        await f.close();
      }
    },
  );
});

describe('fleet: an evaluation stopped by its evaluator, its coordinator dead', { skip: missing ?? canUseLoopDevices() ?? false }, () => {
  test('the stop is not handed to the next search that asks: it measures', { timeout: 120_000 }, async () => {
    const f = await fleet(MSR, LIVE_HERE, { workerLater: true });
    const loop = loopWithoutScheduler(32 << 20);
    const q = new Queue(EVAL_QUEUE, { connection: redisConnection(redis!.url) });
    const dev = resolveDevice(loop.path);
    let lock: DeviceLock | undefined;
    try {
      const spec: EvaluationSpec = {
        space: 'host',
        evaluator: 'live-here',
        replay: { mode: 'closed', queueDepth: 1 },
        device: loop.path,
        trace: { sha256: f.sha256, name: 'msr' },
      };
      const config = buildHostSpace(loop.path).baseline;
      const job = { key: evaluationKey(spec, config), spec, config, workload: 'msr' };
      const stateOf = async () => (await q.getJob(job.key))?.getState();
      // A coordinator of its own, killed (-9) once it has queued the evaluation. No worker runs yet, so whatever
      // its code, it is dead when the evaluation fails: nobody clears the failed entry, as when a coordinator dies
      // between a worker's failure and its clearing it.
      const script = `const { ConfDB } = await import('${DIST_SRC}/confdb/db.js');
        const { RemoteEvaluations } = await import('${DIST_SRC}/service/evaluation-jobs.js');
        const o = JSON.parse(process.env.SSDTUNE_TEST_ASK);
        await new RemoteEvaluations(await ConfDB.open(o.dataDir, o.store), o.queue).evaluate(o.job);`;
      const ask = { dataDir: tmp('coordinator'), store: f.settings.store, queue: f.settings.queue, job };
      const coordinator = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, SSDTUNE_TEST_ASK: JSON.stringify(ask) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      killAtExit(coordinator);
      let log = '';
      coordinator.stderr.on('data', (d) => (log += d));
      for (let i = 0; i < 600 && (await stateOf()) !== 'waiting'; i++) await sleep(50);
      assert.equal(await stateOf(), 'waiting', `the coordinator queued the evaluation (log: ${log})`);
      const gone = new Promise((r) => coordinator.once('exit', r));
      coordinator.kill('SIGKILL');
      await gone;
      // The device busy with another change (as an `ssdtune apply` elsewhere would hold it): the worker's evaluator
      // calls that its own, and the job fails at once, unrecorded.
      lock = lockBlockDevice('queue', dev, () => new Error('the test could not take the lock'));
      await f.startWorker();
      for (let i = 0; i < 600 && (await stateOf()) !== 'failed'; i++) await sleep(50);
      assert.equal(await stateOf(), 'failed');
      assert.match((await q.getJob(job.key))!.failedReason, /^stopped by the evaluator: .*SSDTUNE_HOST_STATE/);
      lock.release();
      lock = undefined;
      assert.equal(await f.svc.db.count('results'), 0, 'the stop is not an outcome');
      // The next search that asks, the device free: measured, not stopped with the old error.
      const metrics = await f.svc.evaluations!.evaluate(job);
      assert.ok(metrics.iops > 0);
      assert.equal((await f.svc.db.require('results', job.key)).status, 'ok');
    } finally {
      lock?.release();
      await q.close();
      loop.destroy();
      await f.close();
    }
  });
});

describe('fleet: a live tune stays on the host that names its device', { skip: missing ?? canUseLoopDevices() ?? false }, () => {
  test('refused before anything is queued (the CLI: exit 2, no trace recorded); a worker refuses one an older serve queued', { timeout: 120_000 }, async () => {
    const f = await fleet(MSR);
    const loop = loopWithoutScheduler(32 << 20);
    try {
      const before = readSnapshot(resolveDevice(loop.path));
      const live = { traceId: f.trace.id, space: 'host', evaluator: 'live', device: loop.path, budget: 3, confirmRounds: 0 } as const;
      const refusal =
        /the live evaluator measures \/dev\/loop\d+ on the host that runs it, and with a fleet queue \(SSDTUNE_QUEUE\) tune jobs and evaluations run on any worker's host/;
      await assert.rejects(submitTune(f.svc, live, 'test'), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_USAGE') && refusal.test(e.message));
      assert.equal(await f.svc.db.count('jobs'), 0, 'no job was recorded');
      // The CLI in fleet mode refuses it before it records the trace.
      const traces = await f.svc.db.count('traces');
      // `ssdtune tune` of a live evaluation on the loop device, with the fleet's ConfDB and the given queue.
      const liveTune = (queue: string, flags: string, trace: string) =>
        spawnSync(process.execPath, [CLI, 'tune', '--space', 'host', '--evaluator', 'live', '--device', loop.path, ...flags.split(' '), trace], {
          env: { ...process.env, SSDTUNE_DATA_DIR: tmp('cli'), SSDTUNE_STORE: f.settings.store!, SSDTUNE_QUEUE: queue },
          encoding: 'utf8',
          timeout: 90_000,
        });
      const cli = liveTune(f.settings.queue!, '--budget 3', TENCENT);
      assert.equal(cli.status, 2, cli.stderr);
      assert.match(cli.stderr, refusal);
      assert.equal(await f.svc.db.count('traces'), traces, 'the refused request recorded no trace');
      // A job queued by a serve from before the rule: the worker that takes it refuses it, measuring nothing.
      const { job } = await f.svc.jobs.submit('tune', 'tune:queued-before', { ...live }, 'test');
      const done = await f.svc.jobs.wait(job.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.errorCode, 'SSDTUNE_USAGE');
      assert.match(done.error ?? '', refusal);
      assert.equal(await f.svc.db.count('results'), 0, 'no evaluation was queued');
      assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
      // The way out the refusal names: on the device's host without the queue, stored in the fleet's ConfDB.
      const here = liveTune('', '--budget 2 --confirm-rounds 0 --replay closed:4 --json', MSR);
      assert.equal(here.status, 0, here.stderr);
      const result = JSON.parse(here.stdout) as { config: { id: string; evaluator: string } };
      assert.equal(result.config.evaluator, 'live');
      assert.ok(await f.svc.db.get('configs', result.config.id), 'stored in the shared ConfDB');
      assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
    } finally {
      loop.destroy();
      await f.close();
    }
  });
});
