/**
 * MQSim itself, on a tiny configuration, beside ssdsim: the `mqsim`
 * evaluator end to end (export, run, exact end time on a trace shorter than
 * a simulated second, replay intensity) and the agreement of the two
 * simulators. Needs the MQSim that scripts/build-mqsim.sh builds (CI builds
 * it in .ci/run); skipped, with the reason, when it has not been built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtMqsim, createMqsimEvaluator, mqsimBuildDir } from '../src/sim/mqsim.js';
import { createSsdsimEvaluator } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace } from '../src/sim/synthetic.js';
import type { Configuration } from '../src/space/types.js';
import type { Replay, WorkloadRef } from '../src/evaluators/types.js';

const binary = builtMqsim();
const skip = binary ? false : `MQSim has not been built in ${mqsimBuildDir()} (run scripts/build-mqsim.sh)`;

/** 4 channels x 2 chips x 2 dies x 2 planes x 64 blocks x 64 pages of 4 KiB: 128 MiB, quick for MQSim to set up. */
const TINY: SsdConfig = {
  ...AUTOBLOX_BASELINE,
  channels: 4,
  chipsPerChannel: 2,
  diesPerChip: 2,
  planesPerDie: 2,
  blocksPerPlane: 64,
  pagesPerBlock: 64,
  dataCacheBytes: 256 * 4096,
  cmtBytes: 64 * 1024,
  overProvisioning: 0.25,
};

function workload(cfg: SsdConfig): WorkloadRef {
  // 3000 mixed 4-16 KiB requests, 50 us apart: 0.15 s of simulated time (MQSim reports inf IOPS for it).
  return {
    name: 'mixed',
    open: async () =>
      syntheticTrace({
        requests: 3000,
        readRatio: 0.6,
        bytes: 8192,
        pattern: 'random',
        spanSectors: logicalSectors(cfg) / 4,
        interArrivalNs: 50_000,
        seed: 12,
      }),
  };
}

async function both(config: Configuration, replay: Replay = { mode: 'recorded' }) {
  const cfg = { ...TINY, ...config };
  const mq = await createMqsimEvaluator({ binary: binary!, replay }).evaluate(cfg, workload(cfg));
  const ss = await createSsdsimEvaluator({ replay }).evaluate(cfg, workload(cfg));
  return { mq, ss };
}

const close = (a: number, b: number, tol: number): boolean => Math.abs(a / b - 1) <= tol;

test('MQSim and ssdsim agree on a tiny configuration: latency, end time, flash work', { skip }, async () => {
  const { mq, ss } = await both({});
  assert.equal(mq.extra!.requests, 3000);
  assert.ok(mq.iops > 0 && Number.isFinite(mq.iops), 'IOPS from the exact end time, though MQSim itself writes inf here');
  assert.ok(close(ss.latencyMeanUs, mq.latencyMeanUs, 0.01), `mean latency ssdsim ${ss.latencyMeanUs} vs MQSim ${mq.latencyMeanUs} us`);
  assert.ok(close(ss.iops, mq.iops, 0.001), `IOPS ssdsim ${ss.iops} vs MQSim ${mq.iops}`);
  assert.ok(close(ss.extra!.mappingReads!, mq.extra!.mappingReads!, 0.01), `mapping reads ${ss.extra!.mappingReads} vs ${mq.extra!.mappingReads}`);
  assert.ok(close(ss.extra!.flashCommands!, mq.extra!.flashCommands!, 0.01), `flash commands ${ss.extra!.flashCommands} vs ${mq.extra!.flashCommands}`);
  assert.ok(
    close(ss.extra!.multiPlaneCommands!, mq.extra!.multiPlaneCommands!, 0.02),
    `multi-plane ${ss.extra!.multiPlaneCommands} vs ${mq.extra!.multiPlaneCommands}`,
  );
});

test('both rank configurations alike at a busy intensity (time-scaled replay), and record it', { skip }, async () => {
  const replay: Replay = { mode: 'scaled', speedup: 20 };
  const configs: Configuration[] = [{}, { chipsPerChannel: 1, blocksPerPlane: 128 }, { channels: 8, blocksPerPlane: 48, overProvisioning: 0.3 }];
  const mq: number[] = [];
  const ss: number[] = [];
  for (const c of configs) {
    const r = await both(c, replay);
    mq.push(r.mq.latencyMeanUs);
    ss.push(r.ss.latencyMeanUs);
    assert.equal(r.mq.extra!.replaySpeedup, 20);
    assert.equal(r.ss.extra!.replaySpeedup, 20);
  }
  const order = (v: number[]) => v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
  assert.deepEqual(order(ss), order(mq), `ssdsim ${ss} vs MQSim ${mq}`);
  assert.ok(mq[1]! > mq[0]! * 1.2, `one chip per channel is slower at x20: ${mq}`);
});

test("the README demo's ssd tune (fio oltp, x10 busy hour, budget 10) finds a gain that MQSim confirms", { skip }, async () => {
  const { tempDir } = await import('../src/util/temp-dir.js');
  const path = await import('node:path');
  const { loadSettings } = await import('../src/config.js');
  const { openService } = await import('../src/service/context.js');
  const { jobHandlers } = await import('../src/service/handlers.js');
  const { tune } = await import('../src/service/tune.js');
  const { resolveTuneArgs } = await import('../src/service/tune-spec.js');
  const { openTrace } = await import('../src/readers/registry.js');
  const { grade } = await import('../src/search/grade.js');
  const trace = path.resolve('traces/fio_oltp.trace.xz');
  const replay: Replay = { mode: 'scaled', speedup: 10 };
  const svc = await openService(loadSettings({ dataDir: tempDir('ssdtune-demo-') }), jobHandlers);
  try {
    // What `npm run demo` runs: tune --budget 10 --replay scaled:10 traces/fio_oltp.trace.xz
    const { spec } = resolveTuneArgs({ budget: 10, replay }, svc.settings);
    const r = await tune(svc, { tracePath: trace, spec });
    assert.deepEqual(r.config.replay, replay, 'the configuration records the intensity it was tuned at');
    assert.ok(r.gain && r.gain.grade > 0.01, `ssdsim finds a gain: ${JSON.stringify(r.gain)}`);
    const mq = createMqsimEvaluator({ binary: binary!, replay });
    const wl = { name: 'oltp', open: () => openTrace(trace) };
    const base = await mq.evaluate({}, wl);
    const tuned = await mq.evaluate(r.config.values, wl);
    const g = grade(tuned, base);
    assert.ok(g > 0.01, `MQSim confirms the gain: grade ${g} (ssdsim ${r.gain!.grade})`);
    assert.ok(Math.abs(g - r.gain!.grade) < 0.005, `MQSim's grade ${g} vs ssdsim's ${r.gain!.grade}`);
  } finally {
    await svc.close();
  }
});
