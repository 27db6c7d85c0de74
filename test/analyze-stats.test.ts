import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Op, TraceBuilder, type TraceBatch } from '../src/trace/model.js';
import { StatsAccumulator, type TraceStats } from '../src/analyze/stats.js';
import { LogSketch, Quantiles } from '../src/analyze/sketch.js';
import { BlockSet } from '../src/analyze/cardinality.js';
import { at } from '../src/util/at.js';

type Row = [t: number, sector: number, bytes: number, op: number, dev: number, pid: number];

// Hand-built requests with known answers (comments give the reasoning).
const ROWS: Row[] = [
  [0, 0, 4096, Op.READ, 0, 10], // dev0 first: not sequential; block 0
  [10, 8, 4096, Op.READ, 0, 10], // starts at 0+8: sequential; block 1
  [20, 100, 8192, Op.WRITE, 0, 20], // not sequential; bytes 51200..59391 -> blocks 12,13,14
  [30, 116, 4096, Op.WRITE | Op.SYNC, 0, 20], // starts at 100+16: sequential; bytes 59392..63487 -> blocks 14,15
  [40, 0, 0, Op.FLUSH, 0, 20], // no data: ignored by size/sequential/working set
  [50, 1000, 4096, Op.READ, 1, 10], // dev1 first; block 125
  [60, 8, 4096, Op.READ, 1, 10], // dev1: previous ended at 1008: not sequential; dev1 block 1 (distinct from dev0's)
  [70, 1008, 65536, Op.DISCARD | Op.WRITE, 1, 10], // discard: previous dev1 data request ended at 16: not sequential; not in working set
];

function batchOf(rows: Row[]): TraceBatch {
  const b = new TraceBuilder();
  for (const r of rows) b.push(...r);
  return b.take();
}

function analyse(batches: TraceBatch[], processes = new Map<number, string>()): TraceStats {
  const acc = new StatsAccumulator();
  const s = acc.addStream(processes);
  for (const b of batches) acc.add(b, s);
  return acc.finish();
}

test('stats: mix, sizes, sequential fraction, LBA span and working set on known requests', () => {
  const s = analyse(
    [batchOf(ROWS)],
    new Map([
      [10, 'dd'],
      [20, 'fio'],
    ]),
  );
  assert.equal(s.requests, 8);
  assert.equal(s.durationNs, 70);
  assert.deepEqual([s.mix.read.requests, s.mix.write.requests, s.mix.discard.requests, s.mix.flush.requests, s.mix.other.requests], [4, 2, 1, 1, 0]);
  assert.deepEqual([s.mix.read.bytes, s.mix.write.bytes, s.mix.discard.bytes], [16384, 12288, 65536]);
  assert.equal(s.mix.read.fraction, 0.5);
  // 7 data requests, sizes 4096 x5, 8192, 65536; nearest rank: p50 = 4th = 4096, p90 = 7th
  assert.deepEqual({ ...s.size.all!, mean: 0 }, { count: 7, mean: 0, min: 4096, p50: 4096, p90: 65536, p99: 65536, max: 65536, relativeError: 0 });
  assert.equal(s.size.write!.p50, 4096);
  assert.equal(s.size.write!.max, 8192);
  assert.deepEqual(
    s.size.histogram.map((h) => [h.lowBytes, h.read, h.write, h.other]),
    [
      [4096, 4, 1, 0],
      [8192, 0, 1, 0],
      [16384, 0, 0, 0],
      [32768, 0, 0, 0],
      [65536, 0, 0, 1],
    ],
  );
  assert.equal(s.sequential.requests, 2);
  assert.equal(s.sequential.fraction, 2 / 7);
  assert.equal(s.sequential.readFraction, 1 / 4);
  assert.equal(s.sequential.writeFraction, 1 / 2);
  assert.deepEqual(s.lba, { minSector: 0, maxSector: 1136, spanBytes: 1136 * 512 });
  assert.deepEqual(s.workingSet, { blocks: 8, bytes: 8 * 4096, exact: true, relativeError: 0 });
  assert.deepEqual(
    s.processes.map((p) => [p.pid, p.name, p.requests, p.reads, p.writes, p.readBytes, p.writeBytes]),
    [
      [10, 'dd', 5, 4, 0, 16384, 0],
      [20, 'fio', 3, 0, 2, 0, 12288],
    ],
  );
  assert.deepEqual(
    s.devices.map((d) => [d.device, d.requests, d.sequentialFraction, d.minSector, d.maxSector]),
    [
      ['0', 5, 0.5, 0, 124],
      ['1', 3, 0, 8, 1136],
    ],
  );
  assert.equal(s.queueDepth, null);
  assert.equal(s.latency, null);
  const heat = s.heatmap.counts.flat().reduce((a, b) => a + b, 0);
  assert.equal(heat, 7, 'every data request lands in one heat-map cell');
});

test('stats: results do not depend on how the trace is cut into batches', () => {
  const whole = analyse([batchOf(ROWS)]);
  for (const cut of [1, 3, 5]) {
    const parts = [batchOf(ROWS.slice(0, cut)), batchOf(ROWS.slice(cut))];
    assert.deepEqual(analyse(parts), whole, `cut at ${cut}`);
  }
});

test('stats: queue depth and latency from issue and completion times', () => {
  const b = new TraceBuilder({ timing: true });
  // arrival, issue, complete
  b.push(0, 0, 4096, Op.READ, 0, 0, 5, 25);
  b.push(10, 8, 4096, Op.READ, 0, 0, 12, 15);
  b.push(20, 16, 4096, Op.READ, 0, 0, 22, 50);
  b.push(30, 24, 4096, Op.READ, 0, 0, 31, 40);
  const s = analyse([b.take()]);
  // in flight after each arrival: {25}, {25,15}, {25,50} (15 done), {50,40} (25 done): max 2
  // Little's law: sum(Q->C) = 25+5+30+10 = 70 over span 0..50 -> 1.4; D->C 20+3+28+9 = 60 -> 1.2
  assert.deepEqual(s.queueDepth, { source: 'issue/complete times', meanInFlight: 1.4, maxInFlight: 2, meanAtDevice: 1.2 });
  assert.equal(s.latency!.total!.p50, 10);
  assert.equal(s.latency!.total!.p90, 30);
  assert.equal(s.latency!.device!.p50, 9);
  assert.equal(s.latency!.device!.max, 28);
  assert.deepEqual(s.latency!.deviceCdf, [
    [3, 0.25],
    [9, 0.5],
    [20, 0.75],
    [28, 1],
  ]);
});

test('stats: IOPS timeline bins', () => {
  const s = analyse([
    batchOf([
      [0, 0, 512, Op.READ, 0, 0],
      [500_000, 8, 512, Op.READ, 0, 0],
      [2_500_000, 16, 1024, Op.WRITE, 0, 0],
    ]),
  ]);
  // initial bin width 1 ms: bins 0, 0, 2
  assert.equal(s.throughput.binWidthNs, 1e6);
  assert.equal(s.throughput.bins.length, 3);
  assert.equal(at(s.throughput.bins, 0).readIops, 2000);
  assert.equal(at(s.throughput.bins, 1).readIops + at(s.throughput.bins, 1).writeIops, 0);
  assert.equal(at(s.throughput.bins, 2).writeBytesPerSec, 1024 * 1000);
  assert.equal(s.throughput.meanIops, 3 / 0.0025);
  // A fine clock: the smallest gap is reported, and the bins and rates are the timeline's.
  assert.equal(s.throughput.timeStepNs, 500_000);
  assert.equal(s.throughput.coarseClock, false);
  assert.equal(s.throughput.peakIops, 2000);
});

test('stats: a coarse clock (most requests share a timestamp) is rated over whole steps', () => {
  // 10, 30 and 20 requests stamped 0, 1 and 2 s: a 1 s clock. Each stamp stands for a second, the last one too.
  const rows: Row[] = [];
  [10, 30, 20].forEach((count, second) => {
    for (let i = 0; i < count; i++) rows.push([second * 1e9, i * 8, 4096, i % 2 ? Op.WRITE : Op.READ, 0, 0]);
  });
  const s = analyse([batchOf(rows.slice(0, 25)), batchOf(rows.slice(25))]);
  assert.equal(s.throughput.timeStepNs, 1e9);
  assert.equal(s.throughput.coarseClock, true);
  assert.equal(s.throughput.meanIops, 60 / 3);
  assert.equal(s.throughput.peakIops, 30, 'the busiest second, not 30 requests in a 1 ms bin (30,000 IOPS)');
  assert.equal(s.throughput.peakBytesPerSec, 30 * 4096);
  assert.equal(s.throughput.binWidthNs, 1e9);
  assert.deepEqual(
    s.throughput.bins.map((b) => b.readIops + b.writeIops + b.otherIops),
    [10, 30, 20],
  );
});

test('stats: the time axis coarsens for long traces and keeps every request', () => {
  const rows: Row[] = [];
  for (let i = 0; i < 10_000; i++) rows.push([i * 1e7, i * 8, 4096, Op.WRITE, 0, 0]); // 100 s, 100 IOPS
  const s = analyse([batchOf(rows)]);
  const total = s.throughput.bins.reduce((a, b) => a + (b.writeIops * s.throughput.binWidthNs) / 1e9, 0);
  assert.ok(Math.abs(total - 10_000) < 1e-6);
  assert.ok(s.throughput.bins.length > 128 && s.throughput.bins.length <= 256);
  assert.equal(s.sequential.fraction, 9999 / 10000);
  assert.equal(s.workingSet.blocks, 10000);
});

test('sketch: exact percentiles while few distinct values, within 1% after', () => {
  const q = new Quantiles(100);
  const vals: number[] = [];
  let x = 1;
  for (let i = 0; i < 20000; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const v = 1 + (x % 1_000_000);
    vals.push(v);
    q.add(v);
  }
  assert.equal(q.isExact, false);
  vals.sort((a, b) => a - b);
  for (const p of [0.5, 0.9, 0.99]) {
    const exact = at(vals, Math.ceil(p * vals.length) - 1);
    const got = q.quantile(p);
    assert.ok(Math.abs(got - exact) / exact <= 0.01 + 1e-12, `p${p * 100}: ${got} vs ${exact}`);
  }
  const sk = new LogSketch();
  sk.add(0);
  sk.add(100);
  assert.equal(sk.quantile(0.5), 0);
  assert.ok(Math.abs(sk.quantile(1) - 100) <= 1);
});

test('working set: exact below the limit, HyperLogLog within 3% above it', () => {
  const exact = new BlockSet(1000);
  exact.addRange(0, 0, 500);
  exact.addRange(0, 250, 500); // overlaps 250 blocks
  exact.addRange(1, 0, 10); // another device
  assert.equal(exact.count, 760);
  assert.equal(exact.isExact, true);
  const big = new BlockSet(1000);
  for (let i = 0; i < 200; i++) big.addRange(i % 3, i * 1000, 1500); // devices 0,1,2 overlapping ranges
  assert.equal(big.isExact, false);
  // true count: per device d, blocks from ranges i = d, d+3, ...: each range [1000 i, 1000 i + 1500)
  const truth = new Set<string>();
  for (let i = 0; i < 200; i++) for (let k = 0; k < 1500; k++) truth.add(`${i % 3}:${i * 1000 + k}`);
  const err = Math.abs(big.count - truth.size) / truth.size;
  assert.ok(err < 0.03, `estimate ${big.count} vs ${truth.size} (${(err * 100).toFixed(2)}%)`);
});
