// MQSim ASCII and fio iolog writers: exact output, round trips through the readers, replay by fio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { writeMqsim } from '../src/writers/mqsim.js';
import { writeFioIolog } from '../src/writers/fio-iolog.js';
import { collect, emptyMeta, Op, sourceFromBatches, TraceBuilder, type TraceBatch } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { col } from '../src/util/at.js';

const tmpDir = (): string => tempDir('ssdtune-writers-');

function batchOf(rows: [number, number, number, number, number?][]): TraceBatch {
  const b = new TraceBuilder();
  for (const [t, s, bytes, op, dev] of rows) b.push(t, s, bytes, op, dev ?? 0);
  return b.take();
}

test('MQSim writer: the format MQSim demands, and the MSR sample round-trips', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'msr.trace');
  const ref = await collect(await openTrace('traces/msr_hm_0_sample1000.csv'));
  const res = await writeMqsim(sourceFromBatches(emptyMeta('x', 'msr'), [ref]), out);
  assert.deepEqual(res, { written: 1000, skipped: 0, warnings: [] });
  const lines = readFileSync(out, 'latin1').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 1000);
  // MSR line 1 "128166385295514663,hm,0,Write,9056014336,2048,2833": 4 sectors, write = 0
  assert.equal(lines[0], '0 0 17687528 4 0');
  let prev = -1;
  for (const l of lines) {
    assert.match(l, /^\d+ \d+ \d+ \d+ [01]$/);
    const t = Number(l.split(' ')[0]);
    assert.ok(t >= prev);
    prev = t;
  }
  const src = await openTrace(out);
  assert.equal(src.meta.format, 'mqsim');
  const back = await collect(src);
  assert.deepEqual(back.timeNs, ref.timeNs);
  assert.deepEqual(back.sector, ref.sector);
  assert.deepEqual(back.bytes, ref.bytes); // MSR sizes are whole sectors
  assert.deepEqual(back.op, ref.op);
});

test('MQSim writer: discards and flushes are left out, late requests clamped, sizes rounded up', async () => {
  const out = path.join(tmpDir(), 'mixed.trace');
  const b = batchOf([
    [1000.4, 8, 4096, Op.READ],
    [2000, 16, 4096, Op.DISCARD],
    [3000, 0, 0, Op.FLUSH],
    [500, 24, 1000, Op.WRITE | Op.SYNC, 3],
    [4000, 32, 512, Op.WRITE | Op.FLUSH | Op.FUA],
  ]);
  const res = await writeMqsim(sourceFromBatches(emptyMeta('x', 'test'), [b]), out);
  assert.equal(res.written, 3);
  assert.equal(res.skipped, 2);
  assert.equal(res.warnings.length, 3);
  assert.equal(readFileSync(out, 'latin1'), '1000 0 8 8 1\n1000 3 24 2 0\n4000 0 32 1 0\n');
});

test('fio iolog writer: the MSNFS sample round-trips; names map devices', async () => {
  const out = path.join(tmpDir(), 'msnfs.iolog');
  // The first 20,000 requests (one batch) keep the test quick.
  const ref = (await openTrace('traces/msps_msnfs_30s.trace', { batchSize: 20000 }))[Symbol.asyncIterator]();
  const first = (await ref.next()).value as TraceBatch;
  await ref.return?.();
  const res = await writeFioIolog(sourceFromBatches(emptyMeta('x', 'msnfs'), [first]), out, { target: (d) => `/dev/fake${d}` });
  assert.equal(res.written, 20000);
  const lines = readFileSync(out, 'latin1').split('\n', 5);
  assert.deepEqual(lines, [
    'fio version 3 iolog',
    '0 /dev/fake5 add',
    '0 /dev/fake5 open',
    '0 /dev/fake5 read 89202720768 8192',
    '221 /dev/fake5 read 83429326848 8192',
  ]);
  const src = await openTrace(out);
  assert.equal(src.meta.format, 'fio-iolog');
  const back = await collect(src);
  assert.deepEqual(back.timeNs, first.timeNs); // ms with 3 decimals are whole microseconds
  assert.deepEqual(back.sector, first.sector);
  assert.deepEqual(back.bytes, first.bytes);
  assert.deepEqual(back.op, first.op);
  assert.ok(back.device.every((d) => d === 0)); // devices become fio files in order of appearance
  await assert.rejects(writeFioIolog(sourceFromBatches(emptyMeta('x', 'y'), [first]), out, { target: '/tmp/with space' }), /without spaces/);
});

test('fio iolog writer: fio replays the written log against a scratch file', async (t) => {
  try {
    execFileSync('fio', ['--version']);
  } catch {
    return t.skip('fio is not installed');
  }
  const dir = tmpDir();
  const data = path.join(dir, 'replay.dat');
  const ref = await collect(await openTrace('traces/msr_hm_0_sample1000.csv'));
  // The first 200 requests, with a trim and a flush added, on a sparse file as large as the offsets need.
  const b = new TraceBuilder();
  let end = 0;
  for (let i = 0; i < 200; i++) {
    b.push(col(ref.timeNs, i), col(ref.sector, i), col(ref.bytes, i), col(ref.op, i), 0);
    end = Math.max(end, col(ref.sector, i) * 512 + col(ref.bytes, i));
  }
  const last = col(ref.timeNs, 199);
  b.push(last + 1000, 0, 0, Op.FLUSH, 0);
  execFileSync('truncate', ['-s', String(end), data]);
  const log = path.join(dir, 'replay.iolog');
  const res = await writeFioIolog(sourceFromBatches(emptyMeta('x', 'msr'), [b.take()]), log, { target: data });
  assert.equal(res.written, 201);
  const reads = [...ref.op.subarray(0, 200)].filter((o) => o & Op.READ).length;
  const json = execFileSync('fio', ['--name=replay', `--read_iolog=${log}`, '--ioengine=psync', '--replay_no_stall=1', '--output-format=json'], {
    encoding: 'utf8',
  });
  const job = JSON.parse(json.slice(json.indexOf('{'))).jobs[0];
  assert.equal(job.error, 0);
  assert.equal(job.read.total_ios, reads);
  assert.equal(job.write.total_ios, 200 - reads);
  assert.equal(job.sync.lat_ns.N, 1);
  assert.equal(
    job.read.io_bytes + job.write.io_bytes,
    [...ref.bytes.subarray(0, 200)].reduce((a, x) => a + x, 0),
  );
});

test('writers: a failing source or an unwritable path leaves no partial file', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'partial.trace');
  async function* failing(): AsyncGenerator<TraceBatch> {
    yield batchOf([[0, 8, 4096, Op.READ]]);
    throw new Error('source broke');
  }
  await assert.rejects(writeMqsim(failing(), out), /source broke/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir), []);
  await assert.rejects(writeFioIolog(failing(), path.join(dir, 'no', 'such', 'dir.iolog'), { target: '/tmp/x' }), (e: unknown) =>
    isSsdtuneError(e, 'SSDTUNE_TRACE_WRITE'),
  );
  writeFileSync(out, 'keep');
  await assert.rejects(writeMqsim(failing(), out), /source broke/);
  assert.equal(readFileSync(out, 'utf8'), 'keep');
});
