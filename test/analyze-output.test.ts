/**
 * What `analyze` shows beyond the summary: biolatency-style latency
 * histograms per operation, queue depth over time, seek distances, a
 * request-size chart where small bins stay visible, and blktrace sets named
 * as `blkparse -i` names them (base name) or by their directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Op, TraceBuilder } from '../src/trace/model.js';
import { StatsAccumulator, type TraceStats } from '../src/analyze/stats.js';
import { latencyHistogramText, statsText } from '../src/analyze/text.js';
import { renderReport } from '../src/analyze/report.js';
import type { AnalysisReport } from '../src/service/analyze.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** rows: [arrival ns, sector, bytes, op, issue ns, complete ns] on device 0 */
function stats(rows: Array<[number, number, number, number, number, number]>): TraceStats {
  const b = new TraceBuilder({ timing: true });
  for (const [t, sec, bytes, op, i, c] of rows) b.push(t, sec, bytes, op, 0, 1, i, c);
  const acc = new StatsAccumulator();
  acc.add(b.take(), acc.addStream());
  return acc.finish();
}

test('latency histogram: biolatency buckets of device time, per operation', () => {
  const us = 1000;
  const s = stats([
    [0, 0, 4096, Op.READ, 0, 1.9 * us], // [0, 2) us -> bucket 0 ("0 -> 1")
    [1, 8, 4096, Op.READ, 1, 1 + 3 * us], // 3 us -> bucket 1 ("2 -> 3")
    [2, 16, 4096, Op.READ, 2, 2 + 1023 * us], // 1023 us -> bucket 9 ("512 -> 1023")
    [3, 24, 4096, Op.WRITE, 3, 3 + 1024 * us], // 1024 us -> bucket 10 ("1024 -> 2047")
    [4, 32, 4096, Op.WRITE, 4 + 500 * us, 4 + 1524 * us], // queued 500 us: device time 1024 us, bucket 10
  ]);
  const h = s.latencyHistogram!;
  assert.equal(h.basis, 'D->C');
  assert.deepEqual(h.ops.read, [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(h.ops.write, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  const text = latencyHistogramText(s).join('\n');
  assert.match(text, /read latency, issue to completion \(D->C\):/);
  assert.match(text, /\n {9}0 -> 1 {10}: 1 {8}\|\*{40}\|/);
  assert.match(text, /\n {7}512 -> 1023 {7}: 1 /);
  assert.match(text, /write latency[^]*\n {6}1024 -> 2047 {7}: 2 {8}\|\*{40}\|/);
});

test('latency histogram: arrival to completion when the trace has no issue times', () => {
  const s = stats([[0, 0, 4096, Op.READ, NaN, 5000]]);
  assert.equal(s.latencyHistogram!.basis, 'Q->C');
  assert.deepEqual(s.latencyHistogram!.ops.read, [0, 0, 1]);
});

test('queue depth over time: mean in flight seen by the arrivals of each bin', () => {
  const ms = 1e6;
  // four 10 ms requests arriving 1 ms apart (bins of 1 ms): 1, 2, 3, 4 in flight; then one alone at 20 ms
  const rows: Array<[number, number, number, number, number, number]> = [0, 1, 2, 3].map((k) => [k * ms, k * 8, 4096, Op.READ, k * ms, k * ms + 10 * ms]);
  rows.push([20 * ms, 64, 4096, Op.READ, 20 * ms, 21 * ms]);
  const bins = stats(rows).throughput.bins;
  assert.equal(bins[0]!.startNs, 0);
  assert.equal(bins[1]!.startNs, bins[0]!.startNs + stats(rows).throughput.binWidthNs);
  assert.deepEqual(
    bins.slice(0, 4).map((b) => b.meanInFlight),
    [1, 2, 3, 4],
  );
  assert.equal(bins[5]!.meanInFlight, null, 'no arrival in the bin');
  assert.equal(bins[20]!.meanInFlight, 1);
});

test('seek distance: signed log2 bins from the end of the previous request', () => {
  const s = stats([
    [0, 0, 4096, Op.READ, 0, 1], // first on the device: no seek; ends at sector 8
    [1, 8, 4096, Op.READ, 1, 2], // 0: sequential; ends at 16
    [2, 1016, 4096, Op.READ, 2, 3], // +1000 sectors -> [512, 1024); ends at 1024
    [3, 0, 4096, Op.WRITE, 3, 4], // -1024 -> [-2047, -1023)
  ]);
  const k = s.seek!;
  assert.equal(k.requests, 3);
  assert.equal(k.meanAbsSectors, (0 + 1000 + 1024) / 3);
  const count = (from: number, to: number): number => k.bins.find((b) => b.fromSectors === from && b.toSectors === to)?.count ?? 0;
  assert.equal(count(0, 1), 1);
  assert.equal(count(512, 1024), 1);
  assert.equal(count(-2047, -1023), 1);
  assert.equal(k.bins[0]!.fromSectors, -2047, 'bins run from the farthest backward seek');
  assert.equal(k.bins.at(-1)!.toSectors, 1024, 'to the farthest forward one, every bin between kept');
  assert.equal(
    k.bins.reduce((a, b) => a + b.count, 0),
    3,
  );
});

test('HTML report: queue depth, seek distance, and a size chart where 76 reads of 128 KiB stay visible beside 15,448 writes of 4 KiB', async () => {
  const rows: Array<[number, number, number, number, number, number]> = [];
  for (let i = 0; i < 15448; i++) rows.push([i * 1000, i * 8, 4096, Op.WRITE, i * 1000, i * 1000 + 50_000]);
  for (let i = 0; i < 76; i++) rows.push([15448 * 1000 + i * 1000, 1e6 + i * 256, 131072, Op.READ, 15448 * 1000 + i * 1000, 15448 * 1000 + i * 1000 + 90_000]);
  const s = stats(rows);
  const report: AnalysisReport = {
    schema: 1,
    generatedAt: new Date().toISOString(),
    traces: [{ source: 'synthetic', format: 'test', baseTimeNs: 0, warnings: [], skippedRecords: 0, stats: s }],
    combined: null,
  };
  const html = await renderReport(report);
  assert.match(html, /Queue depth over time/);
  assert.match(html, /Seek distance/);
  assert.match(html, /requests \(log scale\)/);
  assert.match(html, />76 \(100\.0%\)</, 'the 128 KiB reads are labelled with their count and share');
  assert.match(html, />15,448 \(100\.0%\)</);
});

test('a rate below 1 KiB/s rounds as every other figure does, in the text and the HTML report', async () => {
  // 5608 bytes over 30 s: 186.933... B/s, once printed with all its digits
  const s = stats([
    [0, 0, 4096, Op.READ, 0, 10_000],
    [7e9, 16, 1000, Op.WRITE, 7e9, 7e9 + 10_000],
    [30e9, 32, 512, Op.READ, 30e9, 30e9 + 10_000],
  ]);
  assert.ok(Math.abs(s.throughput.meanBytesPerSec - 5608 / 30) < 1e-9);
  const report: AnalysisReport = {
    schema: 1,
    generatedAt: new Date().toISOString(),
    traces: [{ source: 'synthetic', format: 'test', baseTimeNs: 0, warnings: [], skippedRecords: 0, stats: s }],
    combined: null,
  };
  const text = statsText(s).join('\n');
  assert.match(text, /mean rate: +0\.1 IOPS, 187 B\/s\n/);
  assert.match(text, /mean 1.83 KiB/);
  const html = await renderReport(report);
  assert.match(html, />187 B\/s</);
  // no figure with a byte unit carries more than two decimals, in either form
  for (const out of [text, html]) assert.doesNotMatch(out, /\d\.\d{3,} (B|KiB|MiB|GiB)\b/);
});

function analyze(...args: string[]): AnalysisReport {
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as AnalysisReport;
}

test('a blktrace set by its base name (blkparse -i sda) or its directory reads as the per-CPU files do', () => {
  const dir = 'traces/blktrace_centos7_vm_small';
  const byFile = analyze(`${dir}/sda.blktrace.0`).traces[0]!;
  const byBase = analyze(`${dir}/sda`).traces[0]!;
  const byDir = analyze(dir);
  assert.equal(byDir.traces.length, 1, 'one set in the directory, one trace');
  for (const t of [byBase, byDir.traces[0]!]) {
    assert.equal(t.format, 'blktrace');
    assert.equal(t.stats.requests, byFile.stats.requests);
    assert.deepEqual(t.stats.latencyHistogram, byFile.stats.latencyHistogram);
  }
  const h = byFile.stats.latencyHistogram!;
  assert.equal(h.basis, 'D->C');
  assert.equal(
    Object.values(h.ops)
      .flat()
      .reduce((a, b) => a + b, 0),
    byFile.stats.latency!.device!.count,
    'every completed request in one bucket',
  );
  const text = spawnSync(process.execPath, [CLI, 'analyze', `${dir}/sda`], { encoding: 'utf8' }).stdout;
  assert.match(text, /write latency, issue to completion \(D->C\):\n {7}usecs {15}: count {4}distribution\n/);
});

test('a name that is neither a file nor a blktrace set is still refused with a coded error', () => {
  const r = spawnSync(process.execPath, [CLI, 'analyze', 'traces/blktrace_centos7_vm_small/sdz'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /sdz/);
});
