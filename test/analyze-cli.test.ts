import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { EXIT } from '../src/errors.js';
import type { AnalysisReport } from '../src/service/analyze.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at } from '../src/util/at.js';
import { openTrace } from '../src/readers/registry.js';

const CLI = path.resolve('dist/src/cli/main.js');
const MQSIM = 'traces/mqsim_wsrch-small.trace';

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'analyze', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('analyze --json on the real MQSim trace', () => {
  const r = run('--json', MQSIM);
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out) as AnalysisReport;
  assert.equal(rep.traces.length, 1);
  assert.equal(rep.combined, null);
  const s = at(rep.traces, 0).stats;
  assert.equal(at(rep.traces, 0).format, 'mqsim');
  assert.equal(s.requests, 24783);
  // the file has 4 writes (type 0) among 24,783 requests
  assert.equal(s.mix.write.requests, 4);
  assert.equal(s.mix.read.fraction, 24779 / 24783);
  assert.equal(s.deviceCount, 6);
  assert.equal(s.size.all!.relativeError, 0);
  assert.ok(s.durationNs > 59e9 && s.durationNs < 61e9);
  assert.equal(s.latency, null, 'MQSim traces carry no completion times');
});

test('analyze --json on the MSR sample: latency and queue depth from its response times', () => {
  const r = run('--json', 'traces/msr_hm_0_sample1000.csv');
  assert.equal(r.code, 0, r.err);
  const s = at((JSON.parse(r.out) as AnalysisReport).traces, 0).stats;
  assert.equal(s.requests, 1000);
  assert.equal(s.mix.read.requests + s.mix.write.requests, 1000);
  // MSR gives arrival + response time: total latency and in-flight depth, no separate device time
  assert.equal(s.latency!.total!.count, 1000);
  assert.equal(s.latency!.device, null);
  assert.ok(s.queueDepth!.maxInFlight >= 1);
  assert.equal(s.queueDepth!.meanAtDevice, null);
  // first record: 128166385295514663,hm,0,Write,9056014336,2048,2833 -> 2048 B write, 283.3 us
  assert.ok(s.size.write!.min <= 2048);
  assert.ok(s.latency!.total!.min <= 283_300 && s.latency!.total!.max >= 283_300);
});

test('analyze --json on the real blktrace set: process names, device numbers, D->C latency', (t) => {
  if (!existsSync('build/Release/ssdtune_native.node')) {
    t.skip('native addon not built (npm run build:native)');
    return;
  }
  const r = run('--json', 'traces/blktrace_centos7_vm_small/sda.blktrace.0');
  assert.equal(r.code, 0, r.err);
  const s = at((JSON.parse(r.out) as AnalysisReport).traces, 0).stats;
  assert.ok(s.requests > 100);
  assert.equal(s.mix.write.fraction, 1, 'background writeback only');
  assert.deepEqual(
    s.devices.map((d) => d.device),
    ['8,0'],
  );
  assert.ok(
    s.processes.some((p) => p.name.startsWith('kworker')),
    'names from notify records',
  );
  assert.ok(s.latency!.device!.count > 0 && s.latency!.device!.p50 <= s.latency!.total!.p50);
  assert.notEqual(s.queueDepth!.meanAtDevice, null);
});

test('analyze of the Tencent CBS sample, whose clock steps by whole seconds: rates over whole seconds', async () => {
  const file = 'traces/tencent_cbs_sample50k.csv.bz2';
  const r = run('--json', file);
  assert.equal(r.code, 0, r.err);
  const s = at((JSON.parse(r.out) as AnalysisReport).traces, 0).stats;
  // The requests per timestamp, counted from the reader's output.
  const perStamp = new Map<number, number>();
  for await (const b of await openTrace(file)) for (let i = 0; i < b.length; i++) perStamp.set(b.timeNs[i]!, (perStamp.get(b.timeNs[i]!) ?? 0) + 1);
  const stamps = [...perStamp.keys()].sort((a, b) => a - b);
  assert.ok(stamps.length < 10 && stamps.every((t) => t % 1e9 === 0), `whole seconds: ${stamps.join(' ')}`);
  assert.equal(s.throughput.timeStepNs, 1e9);
  assert.equal(s.throughput.coarseClock, true);
  assert.equal(s.throughput.peakIops, Math.max(...perStamp.values()), 'the busiest second');
  assert.equal(s.throughput.meanIops, 50_000 / ((at(stamps, stamps.length - 1) - at(stamps, 0)) / 1e9 + 1));
  assert.equal(s.throughput.binWidthNs, 1e9);
  const text = run(file);
  assert.match(text.out, /peak rate: .*the busiest step: the trace's clock steps by 1\.000 s/);
});

test('analyze prints aligned text by default', () => {
  const r = run(MQSIM);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /requests:\s+24,783/);
  assert.match(r.out, /sequential:\s+\d+\.\d%/);
  assert.match(r.out, /working set:/);
  assert.equal(r.err, '', 'no progress bar when stderr is not a terminal');
});

test('analyze of two traces gives each and the combination; --report writes HTML', () => {
  const dir = tempDir('ssdtune-analyze-');
  const second = path.join(dir, 'second.trace');
  writeFileSync(second, '0 0 0 8 0\n1000 0 8 8 0\n2000 0 16 8 1\n');
  const html = path.join(dir, 'r.html');
  const r = run('--json', '--report', html, MQSIM, second);
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out) as AnalysisReport;
  assert.deepEqual(
    rep.traces.map((t) => t.stats.requests),
    [24783, 3],
  );
  assert.equal(rep.combined!.stats.requests, 24786);
  assert.equal(rep.combined!.stats.mix.write.requests, 6);
  assert.equal(at(rep.traces, 1).stats.sequential.fraction, 2 / 3);
  // devices of different traces are kept apart: 6 + 1
  assert.equal(rep.combined!.stats.deviceCount, 7);
  const page = readFileSync(html, 'utf8');
  assert.ok((page.match(/<svg/g) ?? []).length >= 6, 'charts for each trace and the combination');
  assert.doesNotMatch(page, /<script|<link|https?:\/\/(?!www\.w3\.org)/);
});

test('analyze: missing file, bad line and --skip-bad', () => {
  const dir = tempDir('ssdtune-analyze-');
  const missing = path.join(dir, 'nope.trace');
  let r = run(missing);
  assert.equal(r.code, EXIT.BAD_INPUT);
  assert.equal(r.out, '');
  assert.match(r.err, /nope\.trace: no such file \[SSDTUNE_TRACE_OPEN\]/);

  // a bad trace after a good one: no partial report is printed
  const bad = path.join(dir, 'bad.trace');
  // enough good lines for the sniffer (it tolerates a stray bad row) before the bad one
  writeFileSync(bad, '100 0 8 8 1\n200 0 16 8 0\n250 0 24 8 0\n260 0 32 8 0\n300 0 x 8 1\n');
  const html = path.join(dir, 'r.html');
  r = run('--report', html, MQSIM, bad);
  assert.equal(r.code, EXIT.BAD_INPUT);
  assert.equal(r.out, '');
  assert.equal(existsSync(html), false);
  assert.match(r.err, /bad\.trace: line 5: start_sector/);

  r = run('--json', '--skip-bad', bad);
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out) as AnalysisReport;
  assert.equal(at(rep.traces, 0).skippedRecords, 1);
  assert.equal(at(rep.traces, 0).stats.requests, 4);

  r = run('--json', '--format', 'nosuch', MQSIM);
  assert.equal(r.code, EXIT.USAGE);
  assert.match(r.err, /unknown trace format/);

  r = run('--report', path.join(dir, 'no/such/dir/r.html'), MQSIM);
  assert.equal(r.code, EXIT.FAILURE);
  assert.equal(r.out, '');
  assert.match(r.err, /cannot write report .*r\.html/);

  // An unwritable report is found before the analysis: here the trace's bad line is never reached.
  r = run('--report', dir, MQSIM, bad);
  assert.equal(r.code, EXIT.FAILURE, r.err);
  assert.match(r.err, /cannot write report .*EISDIR.*\[SSDTUNE_REPORT_WRITE\]/);
  assert.deepEqual(readdirSync(dir).sort(), ['bad.trace'], 'no probe or report left behind');
});

test('analyze: a header before a real trace hides its format; --skip-bad reads past it and counts it', () => {
  const dir = tempDir('ssdtune-analyze-');
  const withHeader = path.join(dir, 'mqsim-with-header.trace');
  writeFileSync(withHeader, '# exported by a script\narrival lba size device type\n' + readFileSync(MQSIM, 'utf8'));
  let r = run('--json', withHeader);
  assert.equal(r.code, EXIT.BAD_INPUT);
  assert.match(r.err, /"SSDTUNE_TRACE_UNKNOWN_FORMAT".*match none of .*; past its first 2 lines it reads as mqsim: pass --skip-bad to skip them/);
  r = run('--json', '--skip-bad', withHeader);
  assert.equal(r.code, 0, r.err);
  const t = at((JSON.parse(r.out) as AnalysisReport).traces, 0);
  assert.equal(t.format, 'mqsim');
  assert.equal(t.skippedRecords, 2);
  assert.equal(t.stats.requests, 24783, 'every request of the trace');
  // Nothing but lines that fit no format is still refused, with or without the flag.
  const junk = path.join(dir, 'junk.txt');
  writeFileSync(junk, 'not a trace\n'.repeat(20));
  r = run('--json', '--skip-bad', junk);
  assert.equal(r.code, EXIT.BAD_INPUT);
  assert.doesNotMatch(r.err, /past its first/);
});
