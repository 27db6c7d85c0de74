/**
 * Closed-form validation of the native SSD simulator on small devices, and
 * the behaviours that make it rank configurations as MQSim does (an unwritten
 * page is read from flash, first-touched writes reach flash, a chip runs one
 * die at a time, the CMT caches single entries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder, type TraceSource } from '../src/trace/model.js';
import { simulate, summarize, type SimOptions } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace } from '../src/sim/synthetic.js';
import type { SsdtuneError } from '../src/errors.js';

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
    overProvisioning: 0.25,
    ...over,
  };
}

function rows(list: [number, number, number, number][]): TraceSource {
  const b = new TraceBuilder();
  for (const [t, sector, bytes, op] of list) b.push(t, sector, bytes, op);
  return sourceFromBatches(emptyMeta('test', 'test'), [b.take()]);
}

// The modelled steps (MQSim's): PCIe messages carry 28 bytes of framing per
// 128-byte payload; a read request to the host costs 32 bytes.
const pcie = (c: SsdConfig, payload: number): number => {
  const bytes = Math.floor(payload / 128) * 156 + (payload % 128 ? (payload % 128) + 28 : 0);
  return Math.floor(Math.ceil(bytes / c.pcieLanes) / c.pcieLaneGBps);
};
const readReq = (c: SsdConfig): number => Math.floor(Math.ceil(32 / c.pcieLanes) / c.pcieLaneGBps);
/** Host to device: doorbell, command fetch (read request + 72-byte entry). */
const submitNs = (c: SsdConfig): number => pcie(c, 2) + readReq(c) + pcie(c, 72);
/** ONFI NV-DDR2: two bytes per channel width per cycle, the cycle truncated to whole ns. */
const chan = (c: SsdConfig, bytes: number): number => Math.floor(bytes / c.channelWidthBytes / 2) * Math.floor(1000 / c.channelMTs) * 2;
const READ_CMD = 290; // tCS + 6 tWC + tWB + tRR
const READY_DELAY = 20; // ready/busy signal after tR
const flashRead = (c: SsdConfig, bytes: number): number => READ_CMD + c.readLatencyNs + READY_DELAY + chan(c, bytes);

test('a lone read of a never-written page goes to flash: translation page, then data, each on the bus', async () => {
  const cfg = small();
  const r = await simulate(cfg, rows([[0, 0, 4096, Op.READ]]));
  const expected = submitNs(cfg) + flashRead(cfg, 512) /* one sector of the translation page */ + flashRead(cfg, 4096) + pcie(cfg, 4096) + pcie(cfg, 16);
  assert.equal(r.read.count, 1);
  assert.equal(r.read.maxNs, expected);
  assert.equal(r.unmappedReads, 1, 'MQSim creates a mapping for it');
  assert.equal(r.flashReads, 1);
  assert.equal(r.mappingReads, 1);
  // As a departure, a never-written page can read as zeroes without flash.
  const z = await simulate(cfg, rows([[0, 0, 4096, Op.READ]]), { unwrittenReads: 'zero' });
  assert.equal(z.flashReads, 0);
  assert.equal(z.read.maxNs, submitNs(cfg) + flashRead(cfg, 512) + pcie(cfg, 4096) + pcie(cfg, 16));
});

test('the CMT caches single mapping entries: a neighbour in the same translation page misses again', async () => {
  const cfg = small();
  // Two pages of the same translation page, 10 ms apart.
  const trace = () =>
    rows([
      [0, 0, 4096, Op.READ],
      [10_000_000, 8 * 5, 4096, Op.READ],
    ]);
  const r = await simulate(cfg, trace());
  assert.equal(r.mappingReads, 2);
  assert.equal(r.cmtHits, 0);
  assert.equal(r.read.minNs, r.read.maxNs, 'both pay a translation read');
  // Caching whole translation pages (a departure) turns the second into a hit.
  const p = await simulate(cfg, trace(), { cmtGranularity: 'translation-page' });
  assert.equal(p.mappingReads, 1);
  assert.equal(p.cmtHits, 1);
  assert.equal(p.read.minNs, submitNs(cfg) + flashRead(cfg, 4096) + pcie(cfg, 4096) + pcie(cfg, 16));
});

test('first-touched writes reach flash at once; a read meanwhile is served from the write cache', async () => {
  const cfg = small({ dataCacheBytes: 64 * 4096 });
  const r = await simulate(
    cfg,
    rows([
      [0, 800, 4096, Op.WRITE],
      [100_000, 800, 4096, Op.READ],
    ]),
  );
  // MQSim's DRAM: 100 MT/s, 1-byte bursts, tRCD + tCL = 26 ns; 4 KiB = 2048 two-byte cycles of 10 ns.
  const dram = 26 + 2048 * 10;
  assert.equal(r.ftl.hostPrograms, 1, 'the page was written back to flash');
  assert.equal(r.flashReads, 0);
  assert.equal(r.cacheReadHits, 1);
  assert.equal(r.write.maxNs, submitNs(cfg) + readReq(cfg) + pcie(cfg, 4096) + dram + pcie(cfg, 16), 'a cached write completes in DRAM');
  assert.equal(r.read.maxNs, submitNs(cfg) + dram + pcie(cfg, 4096) + pcie(cfg, 16));
  // Once its program is done the page leaves the cache: a later read goes to flash.
  const later = await simulate(
    cfg,
    rows([
      [0, 800, 4096, Op.WRITE],
      [10_000_000, 800, 4096, Op.READ],
    ]),
  );
  assert.equal(later.cacheReadHits, 0);
  assert.equal(later.flashReads, 1);
});

test('MQSim write-back: a page written for the first time in the current second goes to flash, rewrites in it stay cached', async () => {
  // MQSim's first-touch filter starts its first period at the first write; a
  // period ends at the first write after it. Writes at 0, 1 us, 0.5 s, 1.5 s
  // and 1.6 s: the first two, and the last, are written back (MQSim: 3).
  const cfg = small({ dataCacheBytes: 64 * 4096 });
  const t = [0, 1_000, 500_000_000, 1_500_000_000, 1_600_000_000];
  const r = await simulate(cfg, rows(t.map((at) => [at, 800, 4096, Op.WRITE] as [number, number, number, number])));
  assert.equal(r.ftl.hostPrograms, 3);
  assert.equal(r.cacheWriteHits, 3, 'rewrites meet the page in the cache until its write-back completes');
});

async function seqReadBandwidth(cfg: SsdConfig): Promise<number> {
  const span = logicalSectors(cfg);
  const r = await simulate(cfg, syntheticTrace({ requests: 1500, readRatio: 1, bytes: 128 * 1024, pattern: 'sequential', spanSectors: span }), {
    mode: 'closed',
    closedLoopDepth: 64,
    cmtGranularity: 'translation-page',
  });
  return summarize(r).bandwidthBps;
}

test('sequential read bandwidth follows the bus schedule of each channel, or the host link when it is narrower', async () => {
  // MQSim's bus: a freed channel first returns waiting read data, and only
  // then sends new commands, so a channel's c chips cycle together: c read
  // commands, tR, then c data transfers. (MQSim itself: 635.86 MB/s here.)
  const flashBound = small({ cmtBytes: 1024 * 4096 });
  const c = flashBound.chipsPerChannel;
  const cycle = c * READ_CMD + flashBound.readLatencyNs + READY_DELAY + c * chan(flashBound, 4096);
  const flash = (flashBound.channels * c * 4096) / (cycle / 1e9);
  const bw1 = await seqReadBandwidth(flashBound);
  assert.ok(Math.abs(bw1 / flash - 1) < 0.03, `flash-bound: ${bw1 / 1e6} MB/s, expected ${flash / 1e6}`);
  // Link-bound: one 0.4 GB/s lane, 128 of every 156 bytes are payload.
  const linkBound = small({ cmtBytes: 1024 * 4096, pcieLanes: 1, pcieLaneGBps: 0.4 });
  const bw2 = await seqReadBandwidth(linkBound);
  const link = 0.4e9 * (128 / 156);
  assert.ok(Math.abs(bw2 / link - 1) < 0.05, `link-bound: ${bw2 / 1e6} MB/s, expected ${link / 1e6}`);
});

test('random-read IOPS grows with chips until the queue depth limits it; a busy chip accounts for every command', async () => {
  const qd = 8;
  const iops: number[] = [];
  const units = [1, 2, 4, 8, 16, 32];
  for (const u of units) {
    // u channels with one chip each: the channel never limits a lone chip.
    const cfg = small({ channels: u, chipsPerChannel: 1, blocksPerPlane: 256 });
    const r = await simulate(cfg, syntheticTrace({ requests: 4000, readRatio: 1, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 7 }), {
      mode: 'closed',
      closedLoopDepth: qd,
    });
    iops.push(summarize(r).iops);
    if (u === 1) {
      // One chip, always busy: the run lasts the sum of its commands (translation and data reads).
      const busy = r.mappingReads * flashRead(cfg, 512) + r.flashReads * flashRead(cfg, 4096);
      const expected = (r.completed * 1e9) / busy;
      assert.ok(Math.abs(iops[0]! / expected - 1) < 0.02, `1 chip: ${iops[0]}, expected ${expected}`);
    }
  }
  const service = flashRead(small(), 4096); // a data read alone, the least a request costs
  for (let i = 1; i < 4; i++) assert.ok(iops[i]! > iops[i - 1]! * 1.3, `IOPS should grow from ${units[i - 1]} to ${units[i]} chips: ${iops}`);
  units.forEach((u, i) => assert.ok(iops[i]! <= ((Math.min(u, qd) * 1e9) / service) * 1.001, `${u} chips: ${iops[i]} exceeds the bound`));
  assert.ok(iops[5]! < iops[3]! * 1.5, `saturation at QD ${qd}: ${iops}`);
});

test('fewer chips serialise dies: a chip works on one die at a time (die interleaving is a departure)', async () => {
  // One channel; 4 dies either on 4 chips or on one chip.
  const run = async (chips: number, dies: number, o: SimOptions = {}) => {
    // A fast channel (1000 MT/s), so that the chips, not the bus, set the pace.
    const cfg = small({ channels: 1, chipsPerChannel: chips, diesPerChip: dies, blocksPerPlane: 256, channelMTs: 1000 });
    const r = await simulate(cfg, syntheticTrace({ requests: 3000, readRatio: 1, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 5 }), {
      mode: 'closed',
      closedLoopDepth: 32,
      ...o,
    });
    return summarize(r).iops;
  };
  const fourChips = await run(4, 1);
  const oneChip = await run(1, 4);
  assert.ok(oneChip < fourChips / 2.5, `one chip of 4 dies (${oneChip.toFixed(0)} IOPS) must be far slower than 4 chips (${fourChips.toFixed(0)})`);
  const interleaved = await run(1, 4, { dieInterleaving: true });
  assert.ok(interleaved > oneChip * 2.5, `with die interleaving a chip's dies overlap: ${interleaved.toFixed(0)} vs ${oneChip.toFixed(0)}`);
});

test('forming a flash command visits only transactions that can join it, however long the chip queues grow', async () => {
  // Huge reads of a preconditioned drive: each chip queue holds thousands of transactions on scattered page
  // indexes. MQSim walks a queue whole for every command; the index visits those of the head's die and page index.
  const cfg = small({ channels: 2, chipsPerChannel: 1, diesPerChip: 2, planesPerDie: 4 });
  const perCommand = async (mib: number) => {
    const b = new TraceBuilder();
    for (let i = 0; i < 4; i++) b.push(i * 1000, (i * mib * 2048) % (128 * 2048), mib * 2 ** 20, Op.READ); // within the first 128 MiB
    const r = await simulate(cfg, sourceFromBatches(emptyMeta('huge', 'test'), [b.take()]), { preconditionFill: 0.9 });
    assert.equal(r.completed, 4);
    assert.ok(r.multiPlaneCommands > r.flashCommands / 2, `most commands are multi-plane: ${r.multiPlaneCommands} of ${r.flashCommands}`);
    return r.schedulerVisits / r.flashCommands;
  };
  const small16 = await perCommand(16);
  const large64 = await perCommand(64);
  // Each plane of the die is a candidate list; a visit more per plane at most for a transaction not ready yet.
  for (const v of [small16, large64])
    assert.ok(v <= 2 * cfg.planesPerDie, `visits per command ${v.toFixed(1)} (16 MiB: ${small16.toFixed(1)}, 64 MiB: ${large64.toFixed(1)})`);
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
  // Many small blocks, so that the 10 free blocks MQSim's GC keeps are a small share of the spare space.
  const op = 0.25;
  const cfg = small({ channels: 1, chipsPerChannel: 1, planesPerDie: 4, blocksPerPlane: 1024, pagesPerBlock: 16, overProvisioning: op, gcThreshold: 0.001 });
  const alpha = 1 / (1 - op);
  const model = alpha / (alpha + lambertW(-alpha * Math.exp(-alpha)));
  const r = await simulate(
    cfg,
    syntheticTrace({ requests: 120_000, readRatio: 0, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 3 }),
    {
      preconditionFill: 1,
      preconditionAge: 3,
      mode: 'closed',
      closedLoopDepth: 32,
    },
  );
  const wa = summarize(r).writeAmplification;
  assert.ok(Math.abs(wa / model - 1) < 0.1, `WA ${wa.toFixed(3)} vs model ${model.toFixed(3)}`);
  assert.ok(r.ftl.gcInvocations > 0 && r.ftl.erases <= r.ftl.gcInvocations && r.ftl.erases > 0.95 * r.ftl.gcInvocations);
});

test('valid + invalid + free + translation pages = total, and every logical page stays mapped once, through a long mixed run', async () => {
  for (const gcPolicy of ['GREEDY', 'RGA', 'RANDOM', 'RANDOM_P', 'RANDOM_PP', 'FIFO'] as const) {
    const cfg = small({ gcPolicy, dataCacheBytes: 128 * 4096, copybackGc: gcPolicy === 'FIFO', preemptibleGc: gcPolicy === 'RGA' });
    const r = await simulate(
      cfg,
      syntheticTrace({ requests: 40_000, readRatio: 0.3, bytes: 8192, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 11 }),
      {
        preconditionFill: 1,
        preconditionAge: 1,
        mode: 'closed',
        closedLoopDepth: 64,
      },
    );
    const p = r.pages;
    assert.equal(p.valid + p.invalid + p.free + p.mapping, p.physical, `${gcPolicy}: page accounting`);
    assert.equal(p.valid, p.logical, `${gcPolicy}: each logical page has exactly one valid copy`);
    assert.equal(r.completed, 40_000);
    assert.ok(r.ftl.gcInvocations > 0, `${gcPolicy}: GC ran`);
  }
});

test('preconditioning by template planes leaves every logical page mapped once and the pages accounted', async () => {
  // 60 planes, 4 aged templates; 60 does not divide the logical pages, so some planes own one page fewer.
  const cfg = small({ channels: 5, chipsPerChannel: 3, diesPerChip: 2, planesPerDie: 2, blocksPerPlane: 32, pagesPerBlock: 32, overProvisioning: 0.45 });
  const r = await simulate(
    cfg,
    syntheticTrace({ requests: 30_000, readRatio: 0.5, bytes: 4096, pattern: 'random', spanSectors: logicalSectors(cfg), seed: 2 }),
    {
      preconditionFill: 1,
      preconditionAge: 3,
      preconditionTemplates: 4,
      mode: 'closed',
      closedLoopDepth: 32,
    },
  );
  const p = r.pages;
  assert.ok(p.logical % 60 !== 0);
  assert.equal(p.valid + p.invalid + p.free + p.mapping, p.physical);
  assert.equal(p.valid, p.logical);
  assert.equal(r.unmappedReads, 0);
  assert.ok(r.ftl.gcInvocations > 0);
});

test('memory follows the pages a trace touches: a 480 GiB device replaying 10k requests keeps a few MB of state', async () => {
  const r = await simulate(
    AUTOBLOX_BASELINE,
    syntheticTrace({
      requests: 10_000,
      readRatio: 0.5,
      bytes: 4096,
      pattern: 'random',
      spanSectors: logicalSectors(AUTOBLOX_BASELINE),
      interArrivalNs: 50_000,
      seed: 4,
    }),
  );
  assert.equal(r.completed, 10_000);
  assert.ok(r.stateBytes < 64 * 2 ** 20, `state ${(r.stateBytes / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(r.preconditionCpuNs < 50e6, `a fresh drive costs no set-up: ${r.preconditionCpuNs / 1e6} ms`);
  // Preconditioning ages a few template planes, not the device.
  const p = await simulate(
    AUTOBLOX_BASELINE,
    syntheticTrace({
      requests: 10_000,
      readRatio: 0.5,
      bytes: 4096,
      pattern: 'random',
      spanSectors: logicalSectors(AUTOBLOX_BASELINE),
      interArrivalNs: 50_000,
      seed: 4,
    }),
    {
      preconditionFill: 1,
      preconditionAge: 1,
    },
  );
  assert.ok(p.stateBytes < 256 * 2 ** 20, `preconditioned state ${(p.stateBytes / 2 ** 20).toFixed(1)} MiB`);
  assert.equal(p.unmappedReads, 0);
});

test('same input and seed give identical output, however the trace is batched', async () => {
  const cfg = small({ gcPolicy: 'RGA', dataCacheBytes: 256 * 4096 });
  const spec = { requests: 20_000, readRatio: 0.7, bytes: 4096, pattern: 'random' as const, spanSectors: logicalSectors(cfg), interArrivalNs: 20_000, seed: 5 };
  const opts: SimOptions = { preconditionFill: 1, preconditionAge: 1, seed: 9 };
  // Everything but the CPU time the simulation took and its memory (sized from the first batch).
  const sim = async (batchSize: number, o: SimOptions) => {
    const {
      preconditionCpuNs: _p,
      replayCpuNs: _r,
      preconditionWallNs: _w,
      stateBytes: _s,
      ...rest
    } = await simulate(cfg, syntheticTrace({ ...spec, batchSize }), o);
    return rest;
  };
  const a = await sim(20_000, opts);
  const b = await sim(777, opts);
  assert.deepEqual(a, b);
  const c = await sim(20_000, { ...opts, seed: 10 });
  assert.notDeepEqual(a.precondition, c.precondition, 'the seed drives preconditioning and RGA sampling');
});

test('a read-only trace that runs a preconditioned drive out of blocks is told why: reads of never-written pages', async () => {
  // 256 MiB of reads on a 192 MiB device 90% written: the last request folds past the logical end, and every read
  // of a page preconditioning left unwritten gets a flash page at once (as in MQSim), faster than GC frees blocks.
  const cfg = small({ channels: 2, chipsPerChannel: 1, diesPerChip: 2, planesPerDie: 4 });
  const b = new TraceBuilder();
  for (let i = 0; i < 4; i++) b.push(i * 1000, i * 64 * 2048, 64 * 2 ** 20, Op.READ);
  await assert.rejects(simulate(cfg, sourceFromBatches(emptyMeta('reads', 'test'), [b.take()]), { preconditionFill: 0.9 }), (e: SsdtuneError) => {
    assert.equal(e.code, 'SSDTUNE_SSDSIM_DEVICE_FULL');
    assert.match(e.message, /no free block left for the mapping that a read of a never-written page creates/);
    assert.match(e.message, /preconditionFill/);
    return true;
  });
  // Without preconditioning the same reads complete: the drive has blocks for every mapping they create.
  const fresh = new TraceBuilder();
  for (let i = 0; i < 4; i++) fresh.push(i * 1000, i * 64 * 2048, 64 * 2 ** 20, Op.READ);
  const r = await simulate(cfg, sourceFromBatches(emptyMeta('reads', 'test'), [fresh.take()]), {});
  assert.equal(r.completed, 4);
});
