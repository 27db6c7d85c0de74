/**
 * Closed-form validation of the native SSD simulator on small devices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder, type TraceSource } from '../src/trace/model.js';
import { simulate, summarize, type SimOptions } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace } from '../src/sim/synthetic.js';

/** A small device: 16 planes x 64 blocks x 64 pages of 4 KiB = 256 MiB physical. */
function small(over: Partial<SsdConfig> = {}): SsdConfig {
  return {
    ...AUTOBLOX_BASELINE,
    channels: 4,
    chipsPerChannel: 4,
    diesPerChip: 1,
    planesPerDie: 1,
    blocksPerPlane: 64,
    pagesPerBlock: 64,
    pageBytes: 4096,
    dataCacheBytes: 0,
    cmtBytes: 64 * 4096,
    readLatencyNs: 20_000,
    programLatencyNs: 200_000,
    eraseLatencyNs: 1_000_000,
    channelMTs: 200,
    channelWidthBytes: 1,
    pcieLanes: 4,
    pcieLaneGBps: 1,
    queueDepth: 1024,
    overProvisioning: 0.2,
    ...over,
  };
}

function rows(list: [number, number, number, number][]): TraceSource {
  const b = new TraceBuilder();
  for (const [t, sector, bytes, op] of list) b.push(t, sector, bytes, op);
  return sourceFromBatches(emptyMeta('test', 'test'), [b.take()]);
}

const NOAGE: SimOptions = { preconditionFill: 1, preconditionAge: 0 };

test('a lone read on a cache and CMT miss costs exactly the sum of the modelled steps', async () => {
  const cfg = small({ dataCacheBytes: 64 * 4096 });
  // Second read: same translation page (CMT hit), different data page.
  const r = await simulate(cfg, rows([[0, 0, 4096, Op.READ], [10_000_000, 8 * 5, 2048, Op.READ]]), NOAGE);
  const chan = (bytes: number) => Math.ceil(bytes / ((cfg.channelWidthBytes * cfg.channelMTs * 1e6) / 1e9));
  const pcie = (bytes: number) => Math.ceil(bytes / ((cfg.pcieLanes * cfg.pcieLaneGBps * 1e9) / 1e9));
  const first = cfg.readLatencyNs + chan(cfg.pageBytes) /* translation page */ + cfg.readLatencyNs + chan(4096) + pcie(4096);
  const second = cfg.readLatencyNs + chan(2048) + pcie(2048);
  assert.equal(r.read.count, 2);
  assert.equal(r.read.minNs, second);
  assert.equal(r.read.maxNs, first);
  assert.equal(r.read.sumNs, first + second);
  assert.equal(r.mappingReads, 1);
  assert.equal(r.cmtHits, 1);
  assert.equal(r.cacheReadHits, 0);
});

test('a read of data still in the write-back cache never touches flash', async () => {
  const cfg = small({ dataCacheBytes: 64 * 4096 });
  const r = await simulate(cfg, rows([[0, 800, 4096, Op.WRITE], [10_000_000, 800, 4096, Op.READ]]), NOAGE);
  const pcie = Math.ceil(4096 / 4);
  assert.equal(r.cacheReadHits, 1);
  assert.equal(r.flashReads, 0);
  assert.equal(r.read.maxNs, pcie);
  assert.equal(r.write.maxNs, pcie, 'a cached write completes when its data crossed the link');
});

async function seqReadBandwidth(cfg: SsdConfig): Promise<number> {
  const span = logicalSectors(cfg);
  const r = await simulate(cfg, syntheticTrace({ requests: 1500, readRatio: 1, bytes: 128 * 1024, pattern: 'sequential', spanSectors: span }), {
    ...NOAGE,
    mode: 'closed',
    closedLoopDepth: 64,
  });
  return summarize(r).bandwidthBps;
}

test('sequential read bandwidth saturates at min(host link, channels x channel rate)', async () => {
  // 4 channels x 200 MB/s = 800 MB/s of flash bandwidth under a 4 GB/s link.
  const flashBound = small({ cmtBytes: 1024 * 4096 });
  const bw1 = await seqReadBandwidth(flashBound);
  assert.ok(Math.abs(bw1 / 800e6 - 1) < 0.05, `flash-bound: ${bw1 / 1e6} MB/s, expected 800`);
  // One 0.4 GB/s lane is narrower than the channels.
  const linkBound = small({ cmtBytes: 1024 * 4096, pcieLanes: 1, pcieLaneGBps: 0.4 });
  const bw2 = await seqReadBandwidth(linkBound);
  assert.ok(Math.abs(bw2 / 400e6 - 1) < 0.05, `link-bound: ${bw2 / 1e6} MB/s, expected 400`);
});

test('random-read IOPS grows with parallel units until the queue depth limits it', async () => {
  const qd = 8;
  const iops: number[] = [];
  const units = [1, 2, 4, 8, 16, 32];
  for (const u of units) {
    // u channels with one die each: the channel never limits a lone die.
    const cfg = small({ channels: u, chipsPerChannel: 1, blocksPerPlane: 256, cmtBytes: 1024 * 4096 });
    const r = await simulate(cfg, syntheticTrace({ requests: 4000, readRatio: 1, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 7 }), {
      ...NOAGE,
      mode: 'closed',
      closedLoopDepth: qd,
    });
    iops.push(summarize(r).iops);
  }
  const service = 20_000 + Math.ceil(4096 / 0.2); // tR + channel transfer per read on one die
  // One die: a closed loop keeps it always busy.
  assert.ok(Math.abs(iops[0]! / (1e9 / service) - 1) < 0.05, `1 unit: ${iops[0]}, expected ${1e9 / service}`);
  for (let i = 1; i < 4; i++) assert.ok(iops[i]! > iops[i - 1]! * 1.3, `IOPS should grow from ${units[i - 1]} to ${units[i]} units: ${iops}`);
  // Never more than min(units, QD) dies busy.
  units.forEach((u, i) => assert.ok(iops[i]! <= (Math.min(u, qd) * 1e9) / service * 1.001, `${u} units: ${iops[i]} exceeds the bound`));
  // Beyond QD units, more dies add little: collisions only shrink.
  assert.ok(iops[5]! < iops[3]! * 1.35 && iops[5]! <= (qd * 1e9) / service, `saturation at QD ${qd}: ${iops}`);
});

/** Principal branch of Lambert W on [-1/e, 0) by Newton iteration. */
function lambertW(x: number): number {
  let w = -0.5;
  for (let i = 0; i < 100; i++) {
    const e = Math.exp(w);
    const step = (w * e - x) / (e * (w + 1));
    w -= step;
    if (Math.abs(step) < 1e-14) break;
  }
  return w;
}

test('uniform random-write WA under GREEDY agrees with the analytical model within 10%', async () => {
  // Model (Desnoyers, "Analytic modeling of SSD write performance", SYSTOR 2012;
  // closed form with Lambert W by Xiang & Kurkoski, arXiv 1110.4245): with
  // alpha = physical / logical pages, the valid fraction u of a victim block
  // solves u = exp(-alpha (1 - u)), so WA = 1/(1-u) = alpha / (alpha + W(-alpha e^-alpha)).
  const op = 0.25;
  const cfg = small({ channels: 1, chipsPerChannel: 1, planesPerDie: 4, blocksPerPlane: 256, pagesPerBlock: 64, overProvisioning: op, gcThreshold: 0.01 });
  const alpha = 1 / (1 - op);
  const model = alpha / (alpha + lambertW(-alpha * Math.exp(-alpha)));
  const r = await simulate(cfg, syntheticTrace({ requests: 120_000, readRatio: 0, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 3 }), {
    preconditionFill: 1,
    preconditionAge: 3,
    mode: 'closed',
    closedLoopDepth: 32,
  });
  const wa = summarize(r).writeAmplification;
  assert.ok(Math.abs(wa / model - 1) < 0.1, `WA ${wa.toFixed(3)} vs model ${model.toFixed(3)}`);
  assert.ok(r.ftl.gcInvocations > 0 && r.ftl.erases === r.ftl.gcInvocations);
});

test('valid + invalid + free pages = total, and every logical page stays mapped once, through a long mixed run', async () => {
  for (const gcPolicy of ['GREEDY', 'RGA', 'RANDOM', 'RANDOM_P', 'RANDOM_PP', 'FIFO'] as const) {
    const cfg = small({ gcPolicy, dataCacheBytes: 128 * 4096, overProvisioning: 0.15, copybackGc: gcPolicy === 'FIFO', preemptibleGc: gcPolicy === 'RGA' });
    const r = await simulate(cfg, syntheticTrace({ requests: 40_000, readRatio: 0.3, bytes: 8192, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 11 }), {
      preconditionFill: 1,
      preconditionAge: 1,
      mode: 'closed',
      closedLoopDepth: 64,
    });
    const p = r.pages;
    assert.equal(p.valid + p.invalid + p.free, p.physical, `${gcPolicy}: page accounting`);
    assert.equal(p.valid, p.logical, `${gcPolicy}: each logical page has exactly one valid copy`);
    assert.equal(r.completed, 40_000);
    assert.ok(r.ftl.gcInvocations > 0, `${gcPolicy}: GC ran`);
  }
});

test('preconditioning by template planes leaves every logical page mapped once and the pages accounted', async () => {
  // 60 planes, 4 aged templates; 60 does not divide the logical pages, so some planes own one page fewer.
  const cfg = small({ channels: 5, chipsPerChannel: 3, diesPerChip: 2, planesPerDie: 2, blocksPerPlane: 16, pagesPerBlock: 32, overProvisioning: 0.3 });
  const r = await simulate(cfg, syntheticTrace({ requests: 30_000, readRatio: 0.5, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 2 }), {
    preconditionFill: 1,
    preconditionAge: 3,
    preconditionTemplates: 4,
    mode: 'closed',
    closedLoopDepth: 32,
  });
  const p = r.pages;
  assert.ok(p.logical % 60 !== 0);
  assert.equal(p.valid + p.invalid + p.free, p.physical);
  assert.equal(p.valid, p.logical);
  assert.equal(r.unmappedReads, 0);
  assert.ok(r.ftl.gcInvocations > 0);
});

test('same input and seed give identical output, however the trace is batched', async () => {
  const cfg = small({ gcPolicy: 'RGA', dataCacheBytes: 256 * 4096 });
  const spec = { requests: 20_000, readRatio: 0.7, bytes: 4096, pattern: 'random' as const, spanSectors: logicalSectors(cfg), interArrivalNs: 20_000, seed: 5 };
  const opts: SimOptions = { preconditionFill: 1, preconditionAge: 1, seed: 9 };
  // Everything but the CPU time the simulation took.
  const sim = async (batchSize: number, o: SimOptions) => {
    const { preconditionCpuNs: _p, replayCpuNs: _r, preconditionWallNs: _w, ...rest } = await simulate(cfg, syntheticTrace({ ...spec, batchSize }), o);
    return rest;
  };
  const a = await sim(20_000, opts);
  const b = await sim(777, opts);
  assert.deepEqual(a, b);
  const c = await sim(20_000, { ...opts, seed: 10 });
  assert.notDeepEqual(a.precondition, c.precondition, 'the seed drives preconditioning and RGA sampling');
});
