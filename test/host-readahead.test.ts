/**
 * The readahead model against the kernel: unit rules (window ramp, random
 * reads, disabled readahead), then validation against the live evaluator on
 * a real loop device (root only): device requests and bytes agree, and both
 * rank read_ahead_kb values the same way for sequential, strided and random
 * workloads: by device work (requests and bytes the kernel counted, weighed
 * with the calibrated cost) wherever the model separates values by 15%; by
 * throughput (best of 6 alternated runs) only as "no contradiction beyond
 * 25%" where the model predicts >= 3x, because on a shared 2-core machine
 * identical runs vary 2-5x under load. bench/host.bench.ts measures
 * throughput with alternated, longer runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { simulateReadahead, ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import { readaheadModelSpace } from '../src/host/host-space.js';
import { chooseReadahead } from '../src/evaluators/readahead/readahead-search.js';
import { patternTrace, patternWorkload, type PatternSpec } from '../src/evaluators/readahead/workloads.js';
import { LiveEvaluator, calibrateDevice, runReplay } from '../src/evaluators/live/live-evaluator.js';
import { planReplay } from '../src/evaluators/live/replay-plan.js';
import { Op, TraceBuilder } from '../src/trace/model.js';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { isSsdtuneError } from '../src/errors.js';
import { JsonFileStateStore } from '../src/host/state.js';
import type { Metrics } from '../src/evaluators/types.js';
import { native } from '../src/native.js';

const MiB = 1 << 20;

test('model: sequential 4 KiB reads ramp the window up to read_ahead_kb', () => {
  const t = patternTrace({ pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB });
  const off = simulateReadahead(t, 0);
  assert.equal(off.deviceRequests, 4096, 'readahead off: one request per page');
  assert.equal(off.hitPages, 0);
  const ra16 = simulateReadahead(t, 16);
  // Windows 2, 4, 4, 4 ... pages: about one device request per 4 pages.
  assert.ok(Math.abs(ra16.deviceRequests - 1025) <= 2, `ra16 requests ${ra16.deviceRequests}`);
  const ra512 = simulateReadahead(t, 512, { maxSectorsKb: 512 });
  // Init 4 pages, then x4 until 512 KiB windows: ~16 MiB / 512 KiB + the ramp.
  assert.ok(ra512.deviceRequests >= 32 && ra512.deviceRequests <= 40, `ra512 requests ${ra512.deviceRequests}`);
  assert.ok(ra512.hitPages / (ra512.hitPages + ra512.missPages) > 0.99);
  // Windows are split at max_sectors_kb.
  const split = simulateReadahead(t, 512, { maxSectorsKb: 128 });
  assert.ok(split.deviceRequests >= 4 * 32, `split requests ${split.deviceRequests}`);
});

test('model: small random reads read only what is asked; readahead off splits them into pages', () => {
  const t = patternTrace({ pattern: 'random', count: 2000, requestBytes: 16384, spanBytes: 1024 * MiB, seed: 7 });
  const ra = simulateReadahead(t, 1024, { cacheBytes: 64 * MiB });
  assert.ok(ra.deviceBytes <= 2000 * 16384 * 1.05, `random wastes little: ${ra.deviceBytes}`);
  assert.ok(ra.deviceRequests <= 2005);
  const off = simulateReadahead(t, 0, { cacheBytes: 64 * MiB });
  assert.ok(off.deviceRequests >= 3.8 * 2000, `readahead 0 reads page by page: ${off.deviceRequests}`);
});

test('model: a bounded cache evicts, and unused prefetch is counted as waste', () => {
  const t = patternTrace({ pattern: 'strided', count: 2000, requestBytes: 4096, strideBytes: 8192, spanBytes: 512 * MiB });
  const s = simulateReadahead(t, 1024, { cacheBytes: 4 * MiB });
  assert.ok(s.wastedPages > 0.3 * (s.deviceBytes / 4096), `stride 2 pages wastes about half: ${s.wastedPages}`);
  assert.ok(s.deviceBytes > 2000 * 4096 * 1.5);
});

test('model: the pieces of one readahead window are served together on a device that overlaps requests', () => {
  const t = patternTrace({ pattern: 'sequential', count: 8192, requestBytes: 4096, spanBytes: 64 * MiB });
  // 128 KiB max request: a 1 MiB window is 8 requests, one round when the device serves 8 at once.
  const serial = { requestUs: 80, bytesPerSec: 1.5e9, appRequestUs: 2 };
  const overlapped = { ...serial, parallelism: 8 };
  const at = (ra: number, cost: typeof serial) => simulateReadahead(t, ra, { maxSectorsKb: 128, cost });
  for (const ra of [128, 1024]) {
    assert.equal(at(ra, serial).deviceRounds, at(ra, serial).deviceRequests, 'parallelism 1: every request is a round');
    assert.equal(at(ra, overlapped).deviceRequests, at(ra, serial).deviceRequests, 'parallelism changes the cost, not the I/O');
  }
  assert.ok(at(1024, overlapped).deviceRounds <= at(1024, overlapped).deviceRequests / 4);
  // Serially the larger window saves nothing (as many requests, a little more prefetch past the end); overlapped it does.
  assert.ok(Math.abs(at(1024, serial).seconds - at(128, serial).seconds) < 0.1 * at(128, serial).seconds);
  assert.ok(at(1024, overlapped).seconds < 0.8 * at(128, overlapped).seconds);
  assert.equal(chooseReadahead(t, { cost: overlapped, maxSectorsKb: 128, prefer: 128 }).readAheadKb > 128, true);
});

test('readahead search: the device-less space and the model agree on streams and random reads', async () => {
  const space = readaheadModelSpace();
  assert.deepEqual(space.baseline, { read_ahead_kb: 128, max_sectors_kb: 1280 });
  const seq = patternTrace({ pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB });
  const rnd = patternTrace({ pattern: 'random', count: 2000, requestBytes: 4096, spanBytes: 1024 * MiB, seed: 2 });
  const s = chooseReadahead(seq, { prefer: 128 });
  assert.ok(s.readAheadKb > 128, `a stream gets a larger window: ${s.readAheadKb}`);
  assert.equal(chooseReadahead(rnd, { prefer: 128 }).readAheadKb, 128, 'random 4 KiB reads: no difference, keep the current value');
  const ev = new ReadaheadModelEvaluator();
  const w = patternWorkload('seq', { pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB });
  const m = await ev.evaluate({ ...space.baseline, read_ahead_kb: s.readAheadKb }, w);
  const base = await ev.evaluate(space.baseline, w);
  assert.ok(m.throughputBps > base.throughputBps);
  assert.ok(m.extra!.deviceReads! < base.extra!.deviceReads!);
});

test('live evaluator refuses writes on a non-scratch device and maps LBAs into the device', () => {
  const t = patternTrace({ pattern: 'random', count: 100, requestBytes: 4096, spanBytes: 10_000 * MiB });
  const p = planReplay(t, 64 * MiB, { allowWrite: false, align: 4096 });
  assert.equal(p.offsets.length, 100);
  for (let i = 0; i < 100; i++) {
    assert.ok(p.offsets[i]! + p.lengths[i]! <= 64 * MiB);
    assert.equal(p.offsets[i]! % 4096, 0);
  }
});

/** The way back of the test's own loop devices, in a file of a temporary data directory. */
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));
const scratchStore = (): JsonFileStateStore => new JsonFileStateStore(stateDir);

const skip = canUseLoopDevices() ?? (existsSync('/dev/shm') ? undefined : 'no /dev/shm');

test('live evaluator refuses a device with a filesystem signature unless forced', { skip }, () => {
  const loop = createLoopDevice({ sizeBytes: 8 * MiB });
  try {
    // An ext4 superblock magic in our own scratch file.
    const fd = openSync(loop.path, 'r+');
    writeSync(fd, Buffer.from([0x53, 0xef]), 0, 2, 0x438);
    fsyncSync(fd);
    closeSync(fd);
    assert.throws(() => new LiveEvaluator({ device: loop.path, store: scratchStore() }), (e) => isSsdtuneError(e, 'SSDTUNE_HOST_UNSAFE') && /ext/.test((e as Error).message));
    assert.doesNotThrow(() => new LiveEvaluator({ device: loop.path, force: true, store: scratchStore() }));
  } finally {
    loop.destroy();
  }
});

test('live evaluator never replays on a mounted device, even forced', { skip }, (t) => {
  const loop = createLoopDevice({ sizeBytes: 16 * MiB });
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-mnt-'));
  let mounted = false;
  try {
    execFileSync('mkfs.ext4', ['-q', '-F', loop.path], { stdio: 'ignore' });
    try {
      execFileSync('mount', [loop.path, mnt], { stdio: 'ignore' });
      mounted = true;
    } catch {
      t.skip('mount is not permitted here');
      return;
    }
    assert.throws(() => new LiveEvaluator({ device: loop.path, force: true, store: scratchStore() }), (e) => isSsdtuneError(e, 'SSDTUNE_HOST_UNSAFE') && /mounted at/.test((e as Error).message));
  } finally {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    loop.destroy();
  }
});

test('native replay: timed mode keeps arrival times, O_DIRECT at QD 8, writes only on a scratch device', { skip }, async () => {
  native();
  const loop = createLoopDevice({ sizeBytes: 16 * MiB });
  try {
    const b = new TraceBuilder();
    for (let i = 0; i < 40; i++) b.push(i * 2e6, i * 64, 4096, Op.READ); // one read every 2 ms
    const batch = b.take();
    const plan = planReplay(batch, 16 * MiB, { allowWrite: false, align: 4096 });
    const timed = await runReplay(loop.path, plan, { direct: true, allowWrite: false, timed: true, queueDepth: 4 });
    assert.equal(timed.completed, 40);
    assert.equal(timed.errors, 0);
    assert.ok(timed.elapsedNs >= 78e6, `40 arrivals 2 ms apart take >= 78 ms: ${timed.elapsedNs / 1e6} ms`);
    const half = await runReplay(loop.path, plan, { direct: true, allowWrite: false, timed: true, queueDepth: 4, timeScale: 0.5 });
    assert.ok(half.elapsedNs >= 39e6 && half.elapsedNs < timed.elapsedNs, 'timeScale 0.5 halves the gaps');
    const closed = await runReplay(loop.path, plan, { direct: true, allowWrite: false, timed: false, queueDepth: 8 });
    assert.equal(closed.completed, 40);
    assert.equal(closed.bytes, 40 * 4096);
    assert.equal(closed.latencyNs.length, 40);

    const w = new TraceBuilder();
    w.push(0, 0, 4096, Op.READ);
    w.push(1000, 8, 4096, Op.WRITE);
    const wb = w.take();
    const ro = planReplay(wb, 16 * MiB, { allowWrite: false, align: 4096 });
    assert.equal(ro.writesSkipped, 1, 'not scratch: the write is dropped');
    const rw = planReplay(wb, 16 * MiB, { allowWrite: true, align: 4096 });
    await assert.rejects(runReplay(loop.path, rw, { direct: true, allowWrite: false, timed: false, queueDepth: 1 }), /not declared scratch/);
    const done = await runReplay(loop.path, rw, { direct: true, allowWrite: true, timed: false, queueDepth: 1 });
    assert.equal(done.completed, 2, 'scratch: the write is replayed');
  } finally {
    loop.destroy();
  }
});

test('readahead model and live replay rank read_ahead_kb values the same way', { skip, timeout: 90_000 }, async () => {
  native(); // fail clearly if the addon is not built
  const size = 96 * MiB;
  const loop = createLoopDevice({ sizeBytes: size, directIo: true, dir: '/dev/shm', fill: true });
  try {
    const cost = await calibrateDevice(loop.path, size);
    const live = new LiveEvaluator({ device: loop.path, repetitions: 3, store: scratchStore() });
    const model = new ReadaheadModelEvaluator({ deviceBytes: size, cost, maxSectorsKb: 1280 });
    const specs: [string, PatternSpec][] = [
      ['sequential', { pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB }],
      ['strided', { pattern: 'strided', count: 1500, requestBytes: 16384, strideBytes: 20480, spanBytes: 64 * MiB }],
      ['random', { pattern: 'random', count: 1500, requestBytes: 16384, spanBytes: 64 * MiB, seed: 3 }],
    ];
    const values = [0, 16, 512];
    const report: string[] = [];
    for (const [name, spec] of specs) {
      const w = patternWorkload(name, spec);
      const rows = values.map((ra) => ({ ra, model: undefined as unknown as Metrics, live: undefined as unknown as Metrics }));
      for (const r of rows) r.model = await model.evaluate({ read_ahead_kb: r.ra }, w);
      // Two alternated rounds of 3 runs each: load from other processes hits every value alike.
      for (let round = 0; round < 2; round++) {
        for (const r of rows) {
          const l = await live.evaluate({ read_ahead_kb: r.ra }, w);
          if (!r.live || l.extra!.throughputMaxBps! > r.live.extra!.throughputMaxBps!) r.live = l;
        }
      }
      for (const { ra, model: m, live: l } of rows) {
        report.push(`${name} ra=${ra}: model ${(m.throughputBps / 1e6).toFixed(0)} MB/s ${m.extra!.deviceReads} reqs ${(m.extra!.deviceBytesRead / MiB).toFixed(1)} MiB | live best ${(l.extra!.throughputMaxBps! / 1e6).toFixed(0)} MB/s ${l.extra!.deviceReads} reqs ${(l.extra!.deviceBytesRead! / MiB).toFixed(1)} MiB`);
      }
      for (const r of rows) {
        // What reached the device: the kernel's own counters against the model.
        const lb = r.live.extra!.deviceBytesRead!;
        const mb = r.model.extra!.deviceBytesRead!;
        assert.ok(Math.abs(lb - mb) <= 0.3 * Math.max(lb, mb) + MiB, `${name} ra=${r.ra} bytes: live ${lb} model ${mb}\n${report.join('\n')}`);
      }
      // Device time from the calibrated cost model: predicted counts vs the kernel's counters.
      const devTime = (reqs: number, bytes: number) => reqs * cost.requestUs * 1e-6 + bytes / cost.bytesPerSec;
      for (const a of rows) {
        for (const b of rows) {
          const ma = devTime(a.model.extra!.deviceReads!, a.model.extra!.deviceBytesRead!);
          const mb = devTime(b.model.extra!.deviceReads!, b.model.extra!.deviceBytesRead!);
          const la = devTime(a.live.extra!.deviceReads!, a.live.extra!.deviceBytesRead!);
          const lb = devTime(b.live.extra!.deviceReads!, b.live.extra!.deviceBytesRead!);
          // Same ranking by device work wherever the model separates the two by 15%.
          if (ma > 1.15 * mb) assert.ok(la > lb, `${name}: device work ra=${a.ra} vs ra=${b.ra}\n${report.join('\n')}`);
          // Throughput: where the model predicts >= 3x, live must not contradict it beyond noise.
          if (a.model.throughputBps > 3 * b.model.throughputBps) {
            assert.ok(a.live.extra!.throughputMaxBps! > 0.75 * b.live.extra!.throughputMaxBps!, `${name}: throughput ra=${a.ra} vs ra=${b.ra}\n${report.join('\n')}`);
          }
        }
      }
    }
    console.log(report.join('\n'));
  } finally {
    loop.destroy();
  }
});
