import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { decodeRwbs } from '../src/readers/blkparse.js';
import { collect, Op } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at, col } from '../src/util/at.js';

const TRACE = path.resolve('traces/blkparse_hadoop_writeback_apress.txt');
const DEV_8_16 = (8 << 20) | 16;

function tmp(name: string, text: string): string {
  const f = path.join(tempDir('ssdtune-blkparse-'), name);
  writeFileSync(f, text);
  return f;
}

test('blkparse: RWBS decoding (preflush F, FUA F, A, S, M, old B)', () => {
  assert.equal(decodeRwbs('R'), Op.READ);
  assert.equal(decodeRwbs('WS'), Op.WRITE | Op.SYNC);
  assert.equal(decodeRwbs('FWFS'), Op.FLUSH | Op.WRITE | Op.FUA | Op.SYNC);
  assert.equal(decodeRwbs('RA'), Op.READ | Op.READAHEAD);
  assert.equal(decodeRwbs('WM'), Op.WRITE | Op.META);
  assert.equal(decodeRwbs('D'), Op.DISCARD);
  assert.equal(decodeRwbs('FN'), Op.FLUSH);
  assert.equal(decodeRwbs('N'), 0);
  assert.equal(decodeRwbs('WBS'), Op.WRITE | Op.FLUSH | Op.SYNC);
});

test('blkparse: the real Hadoop writeback trace pairs Q with D and C, merges included', async () => {
  const src = await openTrace(TRACE);
  assert.equal(src.meta.format, 'blkparse');
  const t = await collect(src);
  // one request per Q line
  const raw = readFileSync(TRACE, 'latin1').split('\n');
  const qLines = raw.filter((l) => l.split(/\s+/)[6] === 'Q');
  assert.equal(t.length, 15524);
  assert.equal(t.length, qLines.length);
  // line 2: "8,16 5 2 0.000001850 18615 Q R 1444645666 + 256 [java]", D at 0.000031865, C at 0.000356669
  assert.deepEqual(
    [t.timeNs[0], t.sector[0], t.bytes[0], t.op[0], t.device[0], t.pid[0], t.issueNs![0], t.completeNs![0]],
    [1850, 1444645666, 256 * 512, Op.READ, DEV_8_16, 18615, 31865, 356669],
  );
  // line 5890: "Q W 2030309546 + 8 [flush-8:16]" back-merged (M) into the request at 2030309538,
  // which the elevator merged into "D W 2030309394 + 160" (4.321569657), "C ... + 160" (4.356993646)
  const i = qLines.findIndex((l) => l.includes(' 4.321468884 '));
  assert.deepEqual(
    [t.timeNs[i], t.sector[i], t.bytes[i], t.op[i], t.pid[i], t.issueNs![i], t.completeNs![i]],
    [4321468884, 2030309546, 4096, Op.WRITE, 16766, 4321569657, 4356993646],
  );
  // "Q WBS 1950885322 + 8 [jbd2/sdb1-8]": a barrier write
  const j = qLines.findIndex((l) => l.includes(' 3.804473959 '));
  assert.equal(t.op[j], Op.WRITE | Op.FLUSH | Op.SYNC);
  assert.equal(t.completeNs![j], 3825791432);
  assert.equal(src.meta.processes.get(18615), 'java');
  assert.equal(src.meta.processes.get(16766), 'flush-8:16');
  assert.equal(src.meta.processes.get(1199), 'jbd2/sdb1-8');

  // Independent check of the pairing: a Q is completed exactly when a later C covers its sectors.
  const cs = raw
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[5] === 'C' && f[8] === '+')
    .map((f) => ({ s: Number(f[7]), e: Number(f[7]) + Number(f[9]), t: Math.round(Number(f[3]) * 1e9) }));
  let completed = 0;
  for (let k = 0; k < t.length; k++) {
    const c = cs.find((x) => x.s <= col(t.sector, k) && col(t.sector, k) + col(t.bytes, k) / 512 <= x.e && x.t > col(t.timeNs, k));
    if (Number.isNaN(t.completeNs![k])) {
      assert.equal(c, undefined, `request ${k} at sector ${t.sector[k]} has a covering completion`);
    } else {
      completed++;
      assert.ok(c, `request ${k} completed without a covering C`);
      assert.ok(Math.abs(c.t - col(t.completeNs!, k)) < 2, `request ${k}: completion ${t.completeNs![k]} vs ${c.t}`);
      assert.ok(col(t.issueNs!, k) >= col(t.timeNs, k) && col(t.completeNs!, k) >= col(t.issueNs!, k));
    }
  }
  assert.equal(completed, 7710);
  for (let k = 1; k < t.length; k++) assert.ok(col(t.timeNs, k) >= col(t.timeNs, k - 1));
  assert.match(src.meta.warnings.join('\n'), /7814 queued requests have no completion/);
});

test('blkparse: device-mapper remaps count once, front merges, flushes and the summary', async () => {
  const f = tmp(
    'dm.txt',
    [
      '253,0    0        1     0.000000000   100  Q   W 2048 + 8 [dd]',
      '  8,0    0        2     0.000001000   100  A   W 4096 + 8 <- (253,0) 2048',
      '  8,0    0        3     0.000002000   100  Q   W 4096 + 8 [dd]',
      '  8,0    0        4     0.000003000   100  G   W 4096 + 8 [dd]',
      '  8,0    0        5     0.000004000   200  Q  RM 5000 + 8 [cat]',
      '  8,0    0        6     0.000005000   200  G  RM 5000 + 8 [cat]',
      '  8,0    0        7     0.000006000   200  Q  RM 4992 + 8 [cat]',
      '  8,0    0        8     0.000007000   200  F  RM 4992 + 8 [cat]',
      '  8,0    0        9     0.000008000   100  D   W 4096 + 8 [dd]',
      '  8,0    0       10     0.000009000   200  D  RM 4992 + 16 [cat]',
      '  8,0    0       11     0.000010000   300  Q FWS [kworker/0:1]',
      '  8,0    0       12     0.000011000   300  D FWS [kworker/0:1]',
      '  8,0    0        0     0.000011500     0  m   N mq-deadline dispatch',
      '  8,0    0       13     0.000020000     0  C   W 4096 + 8 [0]',
      '  8,0    0       14     0.000030000     0  C  RM 4992 + 16 [0]',
      '  8,0    0       15     0.000031000     0  C FWS [0]',
      '253,0    0       16     0.000040000     0  C   W 2048 + 8 [0]',
      'CPU0 (8,0):',
      ' Reads Queued:           2,        8KiB\t Writes Queued:           1,        4KiB',
      'Total (8,0):',
      'Throughput (R/W): 0KiB/s / 0KiB/s',
      'Events (8,0): 16 entries',
      '',
    ].join('\n'),
  );
  const src = await openTrace(f);
  assert.equal(src.meta.format, 'blkparse');
  const t = await collect(src);
  assert.equal(t.length, 4); // dd's write once (on dm), cat's two reads, the flush
  assert.deepEqual([...t.sector], [2048, 5000, 4992, 0]);
  assert.deepEqual([...t.device], [(253 << 20) | 0, 8 << 20, 8 << 20, 8 << 20]);
  assert.deepEqual([...t.issueNs!], [8000, 9000, 9000, 11000]);
  assert.deepEqual([...t.completeNs!], [20000, 30000, 30000, 31000]);
  assert.equal(t.op[1], Op.READ | Op.META);
  assert.equal(t.op[3], Op.FLUSH | Op.WRITE | Op.SYNC);
  assert.equal(t.bytes[3], 0);
  assert.equal(src.meta.processes.get(300), 'kworker/0:1');
  assert.deepEqual(src.meta.warnings, []);
});

test('blkparse: a bad event line names the line; skipBad counts it', async () => {
  const f = tmp(
    'bad.txt',
    [
      '  8,0    0        1     0.000000000   100  Q   W 2048 + 8 [dd]',
      '  8,0    0        2     0.00000x000   100  Q   W 4096 + 8 [dd]',
      'garbage here',
      '  8,0    0        3     0.000002000   100  Q   W 8192 + 8 [dd]',
      '',
    ].join('\n'),
  );
  await assert.rejects(collect(await openTrace(f, { format: 'blkparse' })), (e: unknown) => {
    assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'));
    assert.match((e as Error).message, /bad\.txt: line 2: time: seconds\.nanoseconds/);
    return true;
  });
  const src = await openTrace(f, { format: 'blkparse', skipBad: true });
  const t = await collect(src);
  assert.equal(t.length, 2);
  assert.equal(src.meta.skippedRecords, 2);
});

test('blkparse: output of the installed blkparse on the real CentOS capture (dm + partition remaps, summary)', async (t) => {
  const dir = tempDir('ssdtune-blkparse-');
  const out = path.join(dir, 'sda.txt');
  try {
    writeFileSync(out, execFileSync('blkparse', ['-i', 'sda', '-D', path.resolve('traces/blktrace_centos7_vm_small')], { cwd: dir }));
  } catch {
    return t.skip('blkparse is not installed');
  }
  const text = readFileSync(out, 'latin1');
  assert.match(text, /^CPU0 \(sda\):/m); // the summary is there, and must be ignored
  const src = await openTrace(out);
  assert.equal(src.meta.format, 'blkparse');
  const tr = await collect(src);
  const ev = text.split('\n').map((l) => l.trim().split(/\s+/));
  const qs = ev.filter((f) => f[5] === 'Q');
  assert.equal(tr.length, 113); // traces/README.md: 113 queued
  assert.equal(tr.length, qs.length);
  const ns = (s: string): number => Math.round(Number(s) * 1e9);
  // Every request is completed in this complete capture (4 were merged into others);
  // an unmerged one takes its D and C from the lines with its own sector.
  let own = 0;
  for (let i = 0; i < tr.length; i++) {
    const q = at(qs, i);
    assert.equal(tr.timeNs[i], ns(at(q, 3)));
    assert.equal(tr.sector[i], Number(q[7]));
    assert.equal(tr.bytes[i], Number(q[9]) * 512);
    assert.equal(tr.device[i], 8 << 20);
    assert.ok(!Number.isNaN(tr.completeNs![i]), `request ${i} not completed`);
    const d = ev.find((f) => f[5] === 'D' && f[7] === q[7] && ns(at(f, 3)) >= ns(at(q, 3)));
    const c = ev.find((f) => f[5] === 'C' && f[7] === q[7] && ns(at(f, 3)) >= ns(at(q, 3)));
    if (d && c && d[9] === q[9]) {
      own++;
      assert.equal(tr.issueNs![i], ns(at(d, 3)));
      assert.equal(tr.completeNs![i], ns(at(c, 3)));
    }
  }
  assert.ok(own >= 100, `only ${own} requests matched their own D/C lines`);
  assert.equal(src.meta.processes.get(17852), 'kworker/u256:1');
  assert.deepEqual(src.meta.warnings, []);
});
