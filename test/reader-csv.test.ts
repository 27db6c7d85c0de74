// MSR Cambridge, SNIA Tencent CBS, the MSNFS replayer format and vSCSI: real samples, exact records, bad rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { splitByDevice, filterDevice } from '../src/readers/split.js';
import { collect, Op, sourceFromBatches, type TraceBatch } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at, col } from '../src/util/at.js';

function tmp(name: string, text: string): string {
  const f = path.join(tempDir('ssdtune-csv-'), name);
  writeFileSync(f, text);
  return f;
}

function count(t: TraceBatch, flag: number): number {
  let n = 0;
  for (let i = 0; i < t.length; i++) if (col(t.op, i) & flag) n++;
  return n;
}

function assertNonDecreasing(t: TraceBatch): void {
  for (let i = 1; i < t.length; i++) assert.ok(col(t.timeNs, i) >= col(t.timeNs, i - 1), `time goes back at ${i}`);
}

test('MSR: the hm_0 sample, FILETIME to epoch, bytes to sectors, response time', async () => {
  const src = await openTrace('traces/msr_hm_0_sample1000.csv');
  assert.equal(src.meta.format, 'msr');
  const t = await collect(src);
  assert.equal(t.length, 1000);
  assert.equal(count(t, Op.READ), 508);
  assert.equal(count(t, Op.WRITE), 492);
  // 128166385295514663,hm,0,Write,9056014336,2048,2833
  assert.deepEqual([t.timeNs[0], t.sector[0], t.bytes[0], t.op[0], t.device[0], t.completeNs![0]], [0, 9056014336 / 512, 2048, Op.WRITE, 0, 283300]);
  // 128166385295514878,hm,0,Write,11855351808,512,2617 -> 215 ticks later
  assert.deepEqual([t.timeNs[1], t.sector[1], t.bytes[1], t.completeNs![1]], [21500, 11855351808 / 512, 512, 21500 + 261700]);
  assert.equal(src.meta.baseTimeNs, Number((128166385295514663n - 116444736000000000n) * 100n));
  // 2007-02-22 (the MSR Cambridge capture week)
  assert.equal(new Date(src.meta.baseTimeNs / 1e6).toISOString().slice(0, 10), '2007-02-22');
  const last = readFileSync('traces/msr_hm_0_sample1000.csv', 'latin1').trim().split('\n').pop()!.split(',');
  assert.equal(t.timeNs[999], Number(BigInt(at(last, 0)) - 128166385295514663n) * 100);
  assert.equal(t.sector[999], Number(last[4]) / 512);
  assertNonDecreasing(t);
});

test('MSR: a bad row names the line and the field; skipBad counts it', async () => {
  const good = '128166385295514663,hm,0,Write,9056014336,2048,2833\n';
  const f = tmp('bad.csv', good + '128166385295514878,hm,0,Wrote,11855351808,512,2617\n' + good.repeat(4));
  await assert.rejects(collect(await openTrace(f)), (e: unknown) => {
    assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'));
    assert.match((e as Error).message, /bad\.csv: line 2: Type: Read or Write, got "128166385295514878,hm,0,Wrote/);
    return true;
  });
  const src = await openTrace(f, { skipBad: true });
  assert.equal((await collect(src)).length, 5);
  assert.equal(src.meta.skippedRecords, 1);
});

test('Tencent CBS: the bz2 sample, sorted by time, volumes as devices and split', async () => {
  const src = await openTrace('traces/tencent_cbs_sample50k.csv.bz2');
  assert.equal(src.meta.format, 'tencent');
  const t = await collect(src);
  assert.equal(t.length, 50000);
  assert.equal(count(t, Op.READ), 24521);
  assert.equal(src.meta.baseTimeNs, 1538323199e9);
  assertNonDecreasing(t);
  assert.match(src.meta.warnings.join('\n'), /out of time order in the file and were sorted/);
  // first line of the file is at 1538323200 s; the first at 1538323199 is "1538323199,13896880,128,0,1063"
  assert.deepEqual([t.timeNs[0], t.sector[0], t.bytes[0], t.op[0], t.device[0]], [0, 13896880, 128 * 512, Op.READ, 1063]);
  // Rows released together by the sorter still come in batches of the size asked for.
  let rows = 0;
  for await (const b of await openTrace('traces/tencent_cbs_sample50k.csv.bz2', { batchSize: 7000 })) {
    assert.ok(b.length <= 7000 && b.length > 0);
    rows += b.length;
  }
  assert.equal(rows, 50000);
  const vols = await splitByDevice(sourceFromBatches(src.meta, [t]));
  assert.equal(vols.size, 2038);
  let total = 0;
  for (const b of vols.values()) total += b.length;
  assert.equal(total, 50000);
  const v = vols.get(1063)!;
  assert.equal(v.length, 434);
  assert.deepEqual([...v.sector.subarray(0, 3)], [13896880, 49413280, 50927776]);
  const streamed = await collect(filterDevice(sourceFromBatches(src.meta, [t]), 1063));
  assert.deepEqual(streamed.sector, v.sector);
});

test('MSNFS replayer format: ms times, 512 B blocks', async () => {
  const src = await openTrace('traces/msps_msnfs_30s.trace');
  assert.equal(src.meta.format, 'msnfs');
  const t = await collect(src);
  assert.equal(t.length, 149999);
  assert.equal(count(t, Op.READ), 130483);
  // "0.000 5 174224064 16 1", "0.221 5 162947904 16 1", last "143068.077 5 175985024 16 1"
  assert.deepEqual([t.timeNs[0], t.sector[0], t.bytes[0], t.op[0], t.device[0]], [0, 174224064, 8192, Op.READ, 5]);
  assert.equal(t.timeNs[1], 221000);
  assert.equal(t.timeNs[t.length - 1], 143068077000);
  assert.equal(t.sector[t.length - 1], 175985024);
  assert.equal(src.meta.baseTimeNs, 0);
  assertNonDecreasing(t);
});

test('vSCSI: SCSI opcodes, header, non-data commands skipped and counted', async () => {
  const src = await openTrace('traces/cloudphysics_vscsi_sample.csv');
  assert.equal(src.meta.format, 'vscsi');
  const t = await collect(src);
  assert.equal(t.length, 113872);
  assert.equal(count(t, Op.READ), 46974);
  assert.equal(count(t, Op.WRITE), 66898);
  // "1,5633898,2a,512,42932745" ... last "1,5641098,2a,512,42936150"
  assert.deepEqual([t.timeNs[0], t.sector[0], t.bytes[0], t.op[0]], [0, 42932745, 512, Op.WRITE]);
  assert.equal(t.timeNs[t.length - 1], 7200e9);
  assert.equal(t.sector[t.length - 1], 42936150);
  const f = tmp('ops.csv', 'version,time,op,size,lbn\n1,10,28,4096,8\n1,10,35,0,0\n1,11,42,0,64\n1,11,12,36,0\n1,12,a8,512,100\n1,12,2a,8192,16\n');
  const s2 = await openTrace(f);
  const t2 = await collect(s2);
  assert.deepEqual([...t2.op], [Op.READ, Op.FLUSH, Op.DISCARD, Op.READ, Op.WRITE]);
  assert.deepEqual([...t2.timeNs], [0, 0, 1e9, 2e9, 2e9]);
  assert.match(s2.meta.warnings.join('\n'), /skipped SCSI commands that move no data \(opcode: count\): 12: 1/);
  const bad = tmp('bad.csv', 'version,time,op,size,lbn\n1,10,28,4096,8\n1,10,zz,0,0\n');
  await assert.rejects(collect(await openTrace(bad)), /bad\.csv: line 3: op: a SCSI opcode in hex/);
  const huge = tmp('huge.csv', 'version,time,op,size,lbn\n1,10,28,4096,8\n1,10,28,4294967296,0\n');
  await assert.rejects(collect(await openTrace(huge)), /huge\.csv: line 3: size: a request size below 4 GiB/);
});

test('CSV readers: zero rows, garbage and a text file of another kind fail clearly', async () => {
  const header = tmp('only-header.csv', 'version,time,op,size,lbn\n');
  await assert.rejects(
    collect(await openTrace(header)),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT') && /end of file: no vscsi records/.test((e as Error).message),
  );
  const garbage = tmp('garbage.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255)).toString('latin1'));
  await assert.rejects(openTrace(garbage), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_UNKNOWN_FORMAT'));
  const prose = tmp('notes.txt', 'This is not a trace.\nJust some words, with commas, here.\n');
  await assert.rejects(openTrace(prose), /notes\.txt: cannot tell the trace format/);
});

test('compressed input: gz, xz and zst copies read identically; truncated and corrupt files fail clearly', async (t) => {
  const dir = tempDir('ssdtune-comp-');
  const plain = path.join(dir, 'msr.csv');
  writeFileSync(plain, readFileSync('traces/msr_hm_0_sample1000.csv'));
  const ref = await collect(await openTrace(plain));
  const tools: [string, string[]][] = [
    ['gz', ['gzip', '-k', plain]],
    ['bz2', ['bzip2', '-k', plain]],
    ['xz', ['xz', '-k', plain]],
    ['zst', ['zstd', '-q', plain]],
  ];
  for (const [ext, cmd] of tools) {
    try {
      execFileSync(at(cmd, 0), cmd.slice(1));
    } catch {
      t.diagnostic(`${cmd[0]} not installed: ${ext} not checked`);
      continue;
    }
    const f = `${plain}.${ext}`;
    const got = await collect(await openTrace(f));
    assert.deepEqual(got, ref, ext);
    // Two concatenated streams (pbzip2, cat a.gz b.gz) are one file.
    const data = readFileSync(f);
    const twice = path.join(dir, `twice.${ext}`);
    writeFileSync(twice, Buffer.concat([data, data]));
    assert.equal((await collect(await openTrace(twice))).length, 2000, `${ext} concatenated`);
    const cut = path.join(dir, `cut.${ext}`);
    writeFileSync(cut, data.subarray(0, Math.floor(data.length * 0.6)));
    await assert.rejects(collect(await openTrace(cut, { format: 'msr' })), (e: unknown) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'), String(e));
      assert.match((e as Error).message, new RegExp(`cut\\.${ext}: .*(truncated|ends mid-stream)`));
      return true;
    });
    const bad = Buffer.from(data);
    bad.fill(0x55, 40, Math.min(bad.length - 8, 600));
    const corrupt = path.join(dir, `corrupt.${ext}`);
    writeFileSync(corrupt, bad);
    await assert.rejects(collect(await openTrace(corrupt, { format: 'msr' })), (e: unknown) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'), String(e));
      assert.match((e as Error).message, new RegExp(`corrupt\\.${ext}: `));
      return true;
    });
  }
});
