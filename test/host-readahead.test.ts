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
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from '../src/util/temp-dir.js';
import { PageTable, simulateReadahead, ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import { readaheadModelSpace } from '../src/host/host-space.js';
import { chooseReadahead } from '../src/evaluators/readahead/readahead-search.js';
import { patternTrace, patternWorkload, type PatternSpec } from '../src/evaluators/readahead/workloads.js';
import { LiveEvaluator, calibrateDevice, runReplay } from '../src/evaluators/live/live-evaluator.js';
import { planReplay } from '../src/evaluators/live/replay-plan.js';
import { Op, TraceBuilder, batchRows, emptyMeta, sourceFromBatches, type TraceSource } from '../src/trace/model.js';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { isSsdtuneError } from '../src/errors.js';
import { JsonFileStateStore } from '../src/host/state.js';
import type { Metrics, Replay } from '../src/evaluators/types.js';
import type { Configuration } from '../src/space/types.js';
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
  for (const ra of [128, 1024]) assert.equal(at(ra, overlapped).deviceRequests, at(ra, serial).deviceRequests, 'parallelism changes the cost, not the I/O');
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
  // Back to back (closed loop) the larger window wins throughput; at the trace's own pace (10 us apart, which
  // even the default window keeps up with) both deliver what arrives, and the larger window only saves device requests.
  const w = patternWorkload('seq', { pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB });
  const closed = new ReadaheadModelEvaluator({ replay: { mode: 'closed', queueDepth: 1 } });
  const m = await closed.evaluate({ ...space.baseline, read_ahead_kb: s.readAheadKb }, w);
  const base = await closed.evaluate(space.baseline, w);
  assert.ok(m.throughputBps > 1.2 * base.throughputBps, `${m.throughputBps} vs ${base.throughputBps}`);
  assert.ok(m.extra!.deviceReads! < base.extra!.deviceReads!);
  const recorded = new ReadaheadModelEvaluator();
  const mr = await recorded.evaluate({ ...space.baseline, read_ahead_kb: s.readAheadKb }, w);
  const br = await recorded.evaluate(space.baseline, w);
  assert.ok(Math.abs(mr.throughputBps / br.throughputBps - 1) < 0.01, `recorded: ${mr.throughputBps} vs ${br.throughputBps}`);
  assert.ok(mr.extra!.deviceReads! < br.extra!.deviceReads!);
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
const stateDir = tempDir('ssdtune-state-');
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
    assert.throws(
      () => new LiveEvaluator({ device: loop.path, store: scratchStore() }),
      (e) => isSsdtuneError(e, 'SSDTUNE_HOST_UNSAFE') && /ext/.test((e as Error).message),
    );
    assert.doesNotThrow(() => new LiveEvaluator({ device: loop.path, force: true, store: scratchStore() }));
  } finally {
    loop.destroy();
  }
});

test('live evaluator never replays on a mounted device, even forced', { skip }, (t) => {
  const loop = createLoopDevice({ sizeBytes: 16 * MiB });
  const mnt = tempDir('ssdtune-mnt-');
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
    assert.throws(
      () => new LiveEvaluator({ device: loop.path, force: true, store: scratchStore() }),
      (e) => isSsdtuneError(e, 'SSDTUNE_HOST_UNSAFE') && /mounted at/.test((e as Error).message),
    );
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
    for (let i = 0; i < 40; i++) b.push(i * 20e6, i * 64, 4096, Op.READ); // one read every 20 ms
    const batch = b.take();
    const plan = planReplay(batch, 16 * MiB, { allowWrite: false, align: 4096 });
    const timed = await runReplay(loop.path, plan, { direct: true, allowWrite: false, timed: true, queueDepth: 4 });
    assert.equal(timed.completed, 40);
    assert.equal(timed.errors, 0);
    assert.ok(timed.elapsedNs >= 780e6, `40 arrivals 20 ms apart take >= 780 ms: ${timed.elapsedNs / 1e6} ms`);
    // Each request is due at start + arrival x timeScale, so lateness never accumulates: only how late the replay
    // thread runs at the end stretches a run. The check was 'scale 0.5 of 2 ms gaps (39 ms) ends before the unscaled
    // run (>= 78 ms)': 39 ms of slack, and 1 run of 3 at load 8-10 (under nice 10) was later than that. Now the
    // quarter-scaled run (>= 195 ms) must end within half the unscaled one (>= 390 ms): 195 ms of slack, and a
    // replay that ignored the scale (as long as the unscaled run) still fails.
    const quarter = await runReplay(loop.path, plan, { direct: true, allowWrite: false, timed: true, queueDepth: 4, timeScale: 0.25 });
    assert.ok(
      quarter.elapsedNs >= 195e6 && quarter.elapsedNs < timed.elapsedNs / 2,
      `timeScale 0.25 quarters the gaps: ${quarter.elapsedNs / 1e6} ms, unscaled ${timed.elapsedNs / 1e6} ms (load ${os.loadavg()[0]!.toFixed(2)})`,
    );
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
    const model = new ReadaheadModelEvaluator({ deviceBytes: size, cost, maxSectorsKb: 1280, replay: { mode: 'closed', queueDepth: 1 } });
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
        report.push(
          `${name} ra=${ra}: model ${(m.throughputBps / 1e6).toFixed(0)} MB/s ${m.extra!.deviceReads} reqs ${((m.extra!.deviceBytesRead ?? NaN) / MiB).toFixed(1)} MiB | live best ${(l.extra!.throughputMaxBps! / 1e6).toFixed(0)} MB/s ${l.extra!.deviceReads} reqs ${(l.extra!.deviceBytesRead! / MiB).toFixed(1)} MiB`,
        );
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
            assert.ok(
              a.live.extra!.throughputMaxBps! > 0.75 * b.live.extra!.throughputMaxBps!,
              `${name}: throughput ra=${a.ra} vs ra=${b.ra}\n${report.join('\n')}`,
            );
          }
        }
      }
    }
    console.log(report.join('\n'));
  } finally {
    loop.destroy();
  }
});

test('model: the page table keeps its mapping through millions of inserts and deletes (against a Map)', () => {
  // Starting small: it grows (rehashes) on the way to 1000 entries.
  const t = new PageTable();
  const ref = new Map<number, number>();
  let x = 7;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 200_000; i++) {
    // Keys clustered (collisions) and huge (beyond 2^32 pages).
    const k = rnd() % 3 === 0 ? rnd() % 2000 : 2 ** 40 + (rnd() % 5000);
    if (ref.size < 1000 && rnd() % 2 === 0) {
      t.set(k, i);
      ref.set(k, i);
    } else {
      t.delete(k);
      ref.delete(k);
    }
    if (i % 997 === 0) for (const [kk, v] of ref) assert.equal(t.get(kk), v);
  }
  assert.equal(t.size, ref.size);
  for (const [k, v] of ref) assert.equal(t.get(k), v);
  assert.equal(t.get(123456789), -1);
});

test('model: time is linear in the trace (the LRU no longer goes quadratic once the cache is full)', () => {
  const run = (n: number) => {
    const b = new TraceBuilder({ initialCapacity: n });
    let x = 3;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b.push(i * 1000, (x % (1 << 24)) * 8, 4096, Op.READ);
    }
    const batch = b.take();
    const c0 = process.cpuUsage();
    // A 64 MiB cache fills after 16k pages: every later insert evicts.
    const s = simulateReadahead(batch, 128, { cacheBytes: 64 * MiB });
    const c = process.cpuUsage(c0);
    assert.equal(s.missPages, n - s.hitPages);
    return (c.user + c.system) / 1e6;
  };
  run(50_000); // warm the JIT
  const small = run(150_000);
  const large = run(600_000);
  // 4x the requests: ~4x the time (the Map-based LRU took 44x for 2x at this size).
  assert.ok(large < 8 * small + 0.2, `150k: ${small.toFixed(2)} CPU-s, 600k: ${large.toFixed(2)} CPU-s`);
  assert.ok(large < 10, `600k requests in ${large.toFixed(2)} CPU-s`);
});

test('model: replay intensity changes the result: readahead in flight when a faster application catches up', async () => {
  const w = patternWorkload('seq', { pattern: 'sequential', count: 4096, requestBytes: 4096, spanBytes: 64 * MiB, gapNs: 50_000 });
  const cost = { requestUs: 60, bytesPerSec: 1e9, appRequestUs: 3 };
  const at = (replay: Replay) => new ReadaheadModelEvaluator({ replay, cost }).evaluate({ read_ahead_kb: 128, max_sectors_kb: 1280 }, w);
  const slow = await at({ mode: 'recorded' });
  const fast = await at({ mode: 'scaled', speedup: 50 });
  const closed = await at({ mode: 'closed', queueDepth: 1 });
  // 50 us apart, each 128 KiB window (~190 us) is read while the application works through the previous one.
  assert.ok(slow.extra!.inFlightHitPages! < 0.05 * 4096, `slow: ${slow.extra!.inFlightHitPages} pages waited for`);
  assert.ok(slow.latencyMeanUs < 6, `slow: ${slow.latencyMeanUs} us`);
  assert.ok(fast.latencyMeanUs > 2 * slow.latencyMeanUs, `fast ${fast.latencyMeanUs} vs slow ${slow.latencyMeanUs} us`);
  assert.ok(closed.latencyMeanUs >= fast.latencyMeanUs * 0.99);
  // Offered load bounds the recorded replay's throughput: 4096 x 4 KiB over 4096 x 50 us.
  assert.ok(Math.abs(slow.throughputBps - 4096 / 50e-6) < 0.02 * (4096 / 50e-6), `${slow.throughputBps}`);
  assert.ok(closed.throughputBps > 5 * slow.throughputBps);
  // At speed, a larger window pays off; at the recorded pace it cannot.
  const big = (replay: Replay) => new ReadaheadModelEvaluator({ replay, cost }).evaluate({ read_ahead_kb: 2048, max_sectors_kb: 1280 }, w);
  assert.ok((await big({ mode: 'closed', queueDepth: 1 })).latencyMeanUs < 0.8 * closed.latencyMeanUs);
  assert.ok(Math.abs((await big({ mode: 'recorded' })).latencyMeanUs - slow.latencyMeanUs) < 0.5);
});

test('model evaluator: a workload is decoded once, later evaluations replay it from memory with the same metrics', async () => {
  const batch = patternTrace({ pattern: 'strided', count: 3000, requestBytes: 16384, spanBytes: 256 * MiB, gapNs: 20_000 });
  let opens = 0;
  // Two batches, so that a stream cut short after the first is told from a whole one.
  const half = batch.length >> 1;
  const parts = [batchRows(batch, 0, half), batchRows(batch, half, batch.length)];
  const w = { name: 'strided', open: async () => (opens++, sourceFromBatches(emptyMeta('strided', 'test'), parts)) };
  const configs: Configuration[] = [{ read_ahead_kb: 128 }, { read_ahead_kb: 0 }, { read_ahead_kb: 2048, max_sectors_kb: 256 }];
  // A cancelled evaluation read part of the trace: nothing of it may be kept.
  const ev = new ReadaheadModelEvaluator({ replay: { mode: 'recorded' } });
  const stop = new AbortController();
  const cut = { name: 'strided', open: async () => (opens++, cancelAfterFirst(sourceFromBatches(emptyMeta('strided', 'test'), parts), stop)) };
  await assert.rejects(ev.evaluate(configs[0]!, cut, { signal: stop.signal }));
  assert.equal(opens, 1);
  const again = await ev.evaluate(configs[0]!, cut);
  assert.equal(opens, 2, 'the cancelled read was not kept: the trace is read again');
  assert.equal(again.extra!.readRequests, 3000);
  opens = 0;
  const got = [];
  for (const c of configs) got.push(await ev.evaluate(c, w));
  assert.equal(opens, 1, 'three evaluations of one workload read it once');
  for (const [i, c] of configs.entries()) assert.deepEqual(got[i], await new ReadaheadModelEvaluator({ replay: { mode: 'recorded' } }).evaluate(c, w));
  assert.deepEqual(again, got[0]);
});

/** A source that aborts `stop` once its first batch has been taken (a job cancelled mid-read). */
function cancelAfterFirst(src: TraceSource, stop: AbortController): TraceSource {
  return {
    meta: src.meta,
    async *[Symbol.asyncIterator]() {
      for await (const b of src) {
        yield b;
        stop.abort(new Error('cancelled'));
      }
    },
  };
}

test('model: writes are timed too (a write-only trace is graded), writeback starts past the background threshold and throttles writers', async () => {
  const b = new TraceBuilder();
  for (let i = 0; i < 20_000; i++) b.push(i * 5_000, i * 128, 65536, Op.WRITE); // 64 KiB sequential writes, 13 GB/s offered at 1x
  const batch = b.take();
  const ref = { name: 'writes', open: async () => sourceFromBatches(emptyMeta('writes', 'test'), [batch]) };
  const hb = new TraceBuilder();
  for (let i = 0; i < 3000; i++) hb.push(i * 5_000, i * 128, 65536, Op.WRITE);
  const headBatch = hb.take();
  const cost = { requestUs: 50, bytesPerSec: 1e9, appRequestUs: 4 };
  const head = { name: 'writes', open: async () => sourceFromBatches(emptyMeta('writes', 'test'), [headBatch]) };
  const big = await new ReadaheadModelEvaluator({ cost, cacheBytes: 2048 * MiB, replay: { mode: 'recorded' } }).evaluate({ read_ahead_kb: 128 }, head);
  // 187.5 MiB written into a 2 GiB cache: below the 10% background threshold, nothing reaches the device during the replay.
  assert.equal(big.extra!.deviceWrites, 0);
  assert.ok(big.latencyMeanUs >= 4 && big.latencyMeanUs < 5, `${big.latencyMeanUs}`);
  assert.equal(big.extra!.writeRequests, 3000);
  const small = await new ReadaheadModelEvaluator({ cost, cacheBytes: 256 * MiB, replay: { mode: 'recorded' } }).evaluate({ read_ahead_kb: 128 }, ref);
  // 256 MiB cache: writeback past 25.6 MiB, writers throttled at 51.2 MiB dirty + in flight: the device's 1 GB/s sets the pace.
  assert.ok(small.extra!.deviceBytesWritten! > 1e9, `${small.extra!.deviceBytesWritten}`);
  assert.ok(small.latencyMeanUs > 10 * big.latencyMeanUs, `throttled ${small.latencyMeanUs} us vs ${big.latencyMeanUs} us`);
  assert.ok(small.throughputBps < 1.2e9 && small.throughputBps > 0.5e9, `${small.throughputBps}`);
  // max_sectors_kb splits writeback requests.
  const split = await new ReadaheadModelEvaluator({ cost, cacheBytes: 256 * MiB, replay: { mode: 'recorded' } }).evaluate(
    { read_ahead_kb: 128, max_sectors_kb: 128 },
    ref,
  );
  assert.ok(split.extra!.deviceWrites! > 1.5 * small.extra!.deviceWrites!);
});

test('model: the flusher writes back pages dirty for more than 30 s, so a long trace does not meet them later in front of its reads', () => {
  const S = 1e9;
  // One 4 KiB write a second for 100 s, far below the dirty thresholds: only their age sends them to the device.
  const slow = new TraceBuilder();
  for (let i = 0; i < 100; i++) slow.push(i * S, i * 8, 4096, Op.WRITE);
  const aged = simulateReadahead(slow.take(), 128, { replay: { mode: 'recorded' } });
  // Wake-ups every 5 s from 30 s to 95 s, each writing (as one request) the pages dirtied 30 s before it or earlier.
  assert.equal(aged.deviceBytesWritten, 66 * 4096);
  assert.equal(aged.deviceWrites, 14);
  // Writes over the first 100 s, then from 200 s reads of 64 MiB through a 16 MiB cache: they evict every page.
  const mixed = new TraceBuilder();
  const reads = new TraceBuilder();
  let x = 5;
  for (let i = 0; i < 1000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    mixed.push(i * 0.1 * S, (1 << 20) + (x % 65536) * 8, 4096, Op.WRITE);
  }
  for (let i = 0; i < 1024; i++) for (const b of [mixed, reads]) b.push(200 * S + i * 1e6, i * 128, 65536, Op.READ);
  const opts = { replay: { mode: 'recorded' as const }, cacheBytes: 16 * MiB };
  const m = simulateReadahead(mixed.take(), 128, opts);
  const r = simulateReadahead(reads.take(), 128, opts);
  // Every dirty page was written by 135 s: the reads meet none of them, and take as long as without the writes.
  assert.equal(m.readLatencySum, r.readLatencySum);
  assert.equal(m.deviceRequests, r.deviceRequests);
});

test('readahead model and live replay agree across replay intensities (recorded, 4x, 20x, closed loop)', { skip, timeout: 120_000 }, async () => {
  native();
  const size = 96 * MiB;
  const loop = createLoopDevice({ sizeBytes: size, directIo: true, dir: '/dev/shm', fill: true });
  try {
    const cost = await calibrateDevice(loop.path, size);
    const maxSectorsKb = Number(readFileSync(`/sys/block/${path.basename(loop.path)}/queue/max_sectors_kb`, 'utf8'));
    const intensities: Array<[string, Replay, { mode: 'timed'; timeScale: number } | { mode: 'closed'; queueDepth: number }]> = [
      ['recorded', { mode: 'recorded' }, { mode: 'timed', timeScale: 1 }],
      ['4x', { mode: 'scaled', speedup: 4 }, { mode: 'timed', timeScale: 0.25 }],
      ['20x', { mode: 'scaled', speedup: 20 }, { mode: 'timed', timeScale: 0.05 }],
      ['closed', { mode: 'closed', queueDepth: 1 }, { mode: 'closed', queueDepth: 1 }],
    ];
    const workloads: Array<[string, PatternSpec]> = [
      // 400 us apart: at 20x a request every 20 us, which a replay on a loaded 2-core machine still keeps up with.
      ['sequential', { pattern: 'sequential', count: 2048, requestBytes: 4096, spanBytes: 64 * MiB, gapNs: 400_000 }],
      ['random', { pattern: 'random', count: 1024, requestBytes: 16384, spanBytes: 64 * MiB, gapNs: 400_000, seed: 5 }],
    ];
    const report: string[] = [];
    for (const [wname, spec] of workloads) {
      const w = patternWorkload(wname, spec);
      const offered = (spec.count * spec.requestBytes) / ((spec.count - 1) * spec.gapNs! * 1e-9);
      for (const ra of [128, 1024]) {
        const rows: Array<{ name: string; model: Metrics; live: Metrics; best: number; measure: () => Promise<Metrics> }> = [];
        for (const [name, replay, live] of intensities) {
          const model = await new ReadaheadModelEvaluator({ replay, cost, deviceBytes: size, maxSectorsKb }).evaluate({ read_ahead_kb: ra }, w);
          const measure = () => new LiveEvaluator({ device: loop.path, store: scratchStore(), repetitions: 3, ...live }).evaluate({ read_ahead_kb: ra }, w);
          const l = await measure();
          rows.push({ name, model, live: l, best: l.extra!.throughputMaxBps!, measure });
          report.push(
            `${wname} ra=${ra} ${name}: model ${(model.throughputBps / 1e6).toFixed(0)} MB/s ${model.latencyMeanUs.toFixed(1)} us ${model.extra!.deviceReads} reqs | live ${(l.throughputBps / 1e6).toFixed(0)} MB/s (best ${(l.extra!.throughputMaxBps! / 1e6).toFixed(0)}) ${l.latencyMeanUs.toFixed(1)} us ${l.extra!.deviceReads!.toFixed(0)} reqs`,
          );
        }
        const why = () => report.join('\n');
        // Load from other processes only ever slows a live replay (a starved
        // replay thread issues late, a closed loop waits longer), never the
        // model. So a wall-clock check that fails is measured again, best
        // throughput kept, up to RETRIES times before it counts.
        const RETRIES = 4;
        const holds = async (check: () => boolean, involved: typeof rows) => {
          for (let t = 0; t < RETRIES && !check(); t++) {
            for (const r of involved) {
              const again = await r.measure();
              r.best = Math.max(r.best, again.extra!.throughputMaxBps!);
              report.push(`${wname} ra=${ra} ${r.name}: measured again, best ${(r.best / 1e6).toFixed(0)} MB/s`);
            }
          }
          return check();
        };
        for (const r of rows) {
          // What reached the device, at every intensity: the kernel's counters against the model's.
          const lb = r.live.extra!.deviceBytesRead!;
          const mb = r.model.extra!.deviceBytesRead!;
          assert.ok(Math.abs(lb - mb) <= 0.3 * Math.max(lb, mb) + MiB, `${wname} ra=${ra} ${r.name}: device bytes live ${lb} model ${mb}\n${why()}`);
          const lr = r.live.extra!.deviceReads!;
          const mr = r.model.extra!.deviceReads!;
          assert.ok(Math.abs(lr - mr) <= 0.3 * Math.max(lr, mr) + 8, `${wname} ra=${ra} ${r.name}: device reads live ${lr} model ${mr}\n${why()}`);
          // Where the model says the replay keeps up with the arrivals with room to spare (busy at most a quarter of
          // the time), throughput is the offered load, live too.
          const speed = r.name === '4x' ? 4 : r.name === '20x' ? 20 : 1;
          const busy = (r.model.latencyMeanUs * 1e3 * speed) / spec.gapNs!;
          if (r.name !== 'closed' && busy < 0.25 && r.model.throughputBps > 0.95 * offered * speed) {
            assert.ok(
              await holds(() => r.best > 0.7 * offered * speed, [r]),
              `${wname} ra=${ra} ${r.name}: live cannot keep up with the arrivals the model keeps up with\n${why()}`,
            );
          }
        }
        // Intensity ranks the replays the same way: throughput grows from recorded to 4x, 20x and closed loop in both.
        // The device's ceiling here is what its fastest replay reached (on a loaded machine the loop device's CPU
        // sets it, well below the calibrated model's): a lower intensity that no longer delivers its arrivals, or
        // whose arrivals already come within 20% of that ceiling, leaves a higher one no room to go faster, and a tie
        // there says nothing about the model. Below the ceiling the ranking must hold.
        const ceiling = Math.max(...rows.map((r) => r.best));
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [rows[i - 1]!, rows[i]!];
          if (!(b.model.throughputBps > 1.5 * a.model.throughputBps)) continue;
          const aSpeed = a.name === '4x' ? 4 : a.name === '20x' ? 20 : 1;
          const aOffered = offered * aSpeed;
          if (a.best > 0.7 * aOffered && aOffered < 0.8 * ceiling)
            assert.ok(await holds(() => b.best > a.best, [b]), `${wname} ra=${ra}: ${b.name} vs ${a.name}\n${why()}`);
          else
            report.push(
              `${wname} ra=${ra}: ${a.name} live at or near the device's ceiling (${(a.best / 1e6).toFixed(0)} MB/s, ${(aOffered / 1e6).toFixed(0)} offered, ceiling ${(ceiling / 1e6).toFixed(0)}): ${b.name} vs ${a.name} not ranked`,
            );
        }
      }
    }
    console.log(report.join('\n'));
  } finally {
    loop.destroy();
  }
});
