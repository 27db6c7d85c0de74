/**
 * The simulator's input side: impossible configurations, out-of-range LBAs,
 * cancellation, the `ssd` space and the evaluator on a real trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isSsdtuneError } from '../src/errors.js';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder } from '../src/trace/model.js';
import { openTrace } from '../src/readers/registry.js';
import { PROJECT_ROOT } from '../src/native.js';
import { createSsdsimEvaluator, simulate, toMetrics } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, physicalBytes, ssdSpace, toSsdConfig, validateSsdConfig, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace } from '../src/sim/synthetic.js';
import { SMALL_SSD } from './helpers/ssd.js';
import { validateSpace, violations } from '../src/space/space.js';

const WSRCH = path.join(PROJECT_ROOT, 'traces', 'mqsim_wsrch-small.trace');

const small = SMALL_SSD;

function configError(param: string) {
  return (e: unknown) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_CONFIG') && e.message.includes(`parameter ${param}:`);
}

test('impossible configurations are rejected before simulating, naming the parameter', async () => {
  const one = sourceFromBatches(emptyMeta('t', 't'), []);
  await assert.rejects(simulate({ ...small, channels: 0 }, one), configError('channels'));
  await assert.rejects(simulate({ ...small, pagesPerBlock: 0 }, one), configError('pagesPerBlock'));
  await assert.rejects(simulate({ ...small, overProvisioning: 1 }, one), configError('overProvisioning'));
  await assert.rejects(simulate({ ...small, overProvisioning: 0.01 }, one), configError('overProvisioning'));
  await assert.rejects(simulate({ ...small, pageBytes: 1000 }, one), configError('pageBytes'));
  await assert.rejects(simulate({ ...small, planeAllocation: 'CWDD' }, one), configError('planeAllocation'));
  await assert.rejects(simulate({ ...small, cmtBytes: 100 }, one), configError('cmtBytes'));
  await assert.rejects(simulate({ ...small, overProvisioning: 0.1, gcThreshold: 0.2 }, one), configError('gcThreshold'));
  assert.equal(ssdSpace.constraints.find((c) => c.name === 'gc-below-op')!.check({ ...ssdSpace.baseline, overProvisioning: 0.05, gcThreshold: 0.1 }), false);
  assert.throws(() => validateSsdConfig(small, { lbaSpanSectors: logicalSectors(small) + 1 }), configError('capacity'));
  validateSsdConfig(small, { lbaSpanSectors: logicalSectors(small) });
  assert.throws(() => toSsdConfig({ chanels: 4 }), configError('chanels'));
  assert.throws(() => toSsdConfig({ channels: '4' }), configError('channels'));
});

test('LBAs beyond the device are folded and counted by default, rejected with their request index when asked', async () => {
  const cap = logicalSectors(small);
  const b = new TraceBuilder();
  b.push(0, 0, 4096, Op.WRITE);
  b.push(1000, cap - 4, 4096, Op.READ); // last sector cap+3: out of range
  const src = () => sourceFromBatches(emptyMeta('beyond.trace', 'test'), [b.take()]);
  const batch = src();
  await assert.rejects(
    simulate(small, batch, { lbaPolicy: 'reject' }),
    (e) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_LBA_RANGE') && /beyond\.trace: request 1 ends at sector \d+/.test(e.message),
  );
  const b2 = new TraceBuilder();
  b2.push(0, 0, 4096, Op.WRITE);
  b2.push(1000, cap - 4, 4096, Op.READ);
  const r = await simulate(small, sourceFromBatches(emptyMeta('beyond.trace', 'test'), [b2.take()]));
  assert.equal(r.completed, 2);
  assert.equal(r.foldedRequests, 1, 'the read crossing the end was folded (the default policy)');
  const m = toMetrics(r);
  assert.equal(m.extra!.foldedRequests, 1);
  assert.equal(m.extra!.foldedShare, 0.5, 'one of the two replayed requests');
  const b3 = new TraceBuilder();
  b3.push(0, -8, 4096, Op.READ);
  await assert.rejects(
    simulate(small, sourceFromBatches(emptyMeta('neg.trace', 'test'), [b3.take()]), { lbaPolicy: 'modulo' }),
    (e) => isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT') && /neg\.trace: request 0: a sector number/.test(e.message),
  );
});

test('a replay can be cancelled through its AbortSignal', async () => {
  const ac = new AbortController();
  const big: SsdConfig = { ...small, blocksPerPlane: 512, pagesPerBlock: 256 };
  const p = simulate(
    big,
    syntheticTrace({ requests: 2_000_000, readRatio: 0.5, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(big), batchSize: 10_000 }),
    {
      signal: ac.signal,
      mode: 'closed',
      onBatch: (fed) => {
        if (fed >= 50_000) ac.abort();
      },
    },
  );
  await assert.rejects(p, (e) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_CANCELLED'));
});

test('the ssd space: AutoBlox baseline as default, satisfying its own constraints', () => {
  assert.equal(ssdSpace.name, 'ssd');
  validateSpace(ssdSpace);
  assert.deepEqual(violations(ssdSpace, ssdSpace.baseline), []);
  assert.deepEqual(toSsdConfig(ssdSpace.baseline), AUTOBLOX_BASELINE);
  for (const p of ssdSpace.params) assert.equal(ssdSpace.baseline[p.name], p.default, p.name);
  for (const c of ssdSpace.constraints) assert.ok(c.check(ssdSpace.baseline), `baseline violates ${c.name}`);
  assert.equal(physicalBytes(AUTOBLOX_BASELINE), 480 * 2 ** 30);
  const cons = (name: string) => ssdSpace.constraints.find((c) => c.name === name)!;
  assert.equal(cons('channel-chips').check({ ...ssdSpace.baseline, channels: 16, chipsPerChannel: 6 }), false);
  assert.equal(cons('die-planes').check({ ...ssdSpace.baseline, diesPerChip: 8, planesPerDie: 4 }), false);
  assert.equal(cons('dram-budget').check({ ...ssdSpace.baseline, dataCacheBytes: 512 * 2 ** 20 }), false);
  assert.equal(cons('capacity').check({ ...ssdSpace.baseline, blocksPerPlane: 1024 }), false);
  validateSsdConfig(toSsdConfig(ssdSpace.baseline));
});

test('the ssdsim evaluator replays a real trace (MQSim wsrch) and reports metrics', async () => {
  // 16.7 GiB span: 4 ch x 2 chips x 2 dies x 2 planes x 1024 blocks x 256 pages x 4 KiB = 32 GiB physical.
  const cfg = {
    ...small,
    channels: 4,
    chipsPerChannel: 2,
    diesPerChip: 2,
    planesPerDie: 2,
    blocksPerPlane: 1024,
    pagesPerBlock: 256,
    dataCacheBytes: 64 << 20,
    cmtBytes: 4 << 20,
  };
  const ev = createSsdsimEvaluator({ preconditionFill: 1, preconditionAge: 0, totalRequests: 24783 });
  const seen: number[] = [];
  const m = await ev.evaluate(cfg, { name: 'wsrch', open: () => openTrace(WSRCH) }, { onProgress: (f) => seen.push(f) });
  assert.equal(m.extra!.requests, 24783);
  assert.ok(m.iops > 300 && m.iops < 500, `open-loop replay follows the trace's arrival rate (~413/s): ${m.iops}`);
  assert.ok(m.latencyMeanUs > 75 && m.latencyMeanUs < 10_000, `latency ${m.latencyMeanUs} us`);
  assert.ok(m.latencyP99Us! >= m.latencyMeanUs);
  assert.equal(seen[seen.length - 1], 1);
});
