// fio iolog v2/v3: logs written by the installed fio itself, checked line by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { collect, Op } from '../src/trace/model.js';
import { tempDir } from '../src/util/temp-dir.js';

function haveFio(): boolean {
  try {
    execFileSync('fio', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Replay an iolog against a scratch file with fio; returns fio's per-direction I/O counts. */
function fioReplayCounts(log: string, extra: string[] = []): { read: number; write: number; sync: number } {
  const json = execFileSync('fio', ['--name=replay', `--read_iolog=${log}`, '--ioengine=psync', '--replay_no_stall=1', '--output-format=json', ...extra], {
    encoding: 'utf8',
  });
  const job = JSON.parse(json.slice(json.indexOf('{'))).jobs[0];
  assert.equal(job.error, 0);
  // fio counts syncs in the latency samples only; psync does not trim regular files.
  return { read: job.read.total_ios, write: job.write.total_ios, sync: job.sync?.lat_ns?.N ?? 0 };
}

test('fio iolog v3 written by fio: every I/O line read back exactly', async (t) => {
  if (!haveFio()) return t.skip('fio is not installed');
  const dir = tempDir('ssdtune-fio-');
  const file = path.join(dir, 'data');
  const log = path.join(dir, 'job.iolog');
  execFileSync('fio', [
    '--name=gen',
    `--filename=${file}`,
    '--size=1M',
    '--bs=4k',
    '--rw=randrw',
    '--io_size=128k',
    '--fsync=4',
    '--ioengine=psync',
    `--write_iolog=${log}`,
    '--output=/dev/null',
  ]);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'fio version 3 iolog');
  const io = lines
    .slice(1)
    .map((l) => l.split(' '))
    .filter((f) => f.length === 5);
  const src = await openTrace(log);
  assert.equal(src.meta.format, 'fio-iolog');
  const tr = await collect(src);
  assert.equal(tr.length, io.length);
  const want = { read: Op.READ, write: Op.WRITE, sync: Op.FLUSH | Op.SYNC } as Record<string, number>;
  for (const [i, [us, name, act = '', off, len]] of io.entries()) {
    assert.equal(name, file);
    assert.equal(tr.timeNs[i], Number(us) * 1000, `line ${i}`);
    assert.equal(tr.op[i], want[act], `line ${i} ${act}`);
    assert.equal(tr.sector[i], Math.floor(Number(off) / 512));
    assert.equal(tr.bytes[i], Number(len));
    assert.equal(tr.device[i], 0);
  }
  assert.ok(io.some((f) => f[2] === 'sync') && io.some((f) => f[2] === 'read') && io.some((f) => f[2] === 'write'));
});

test('fio iolog v2 (two files, wait, trim, datasync) reads as fio replays it', async (t) => {
  const dir = tempDir('ssdtune-fio-');
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  writeFileSync(a, Buffer.alloc(1 << 20));
  writeFileSync(b, Buffer.alloc(1 << 20));
  const log = path.join(dir, 'v2.iolog');
  writeFileSync(
    log,
    [
      'fio version 2 iolog',
      `${a} add`,
      `${b} add`,
      `${a} open`,
      `${b} open`,
      `${a} write 0 8192`,
      `${b} read 4096 4096`,
      `${a} wait 5 0`,
      `${a} trim 65536 4096`,
      `${b} datasync 0 0`,
      `${a} read 8192 512`,
      `${a} close`,
      `${b} close`,
      '',
    ].join('\n'),
  );
  const src = await openTrace(log);
  const tr = await collect(src);
  assert.deepEqual([...tr.op], [Op.WRITE, Op.READ, Op.DISCARD, Op.FLUSH, Op.READ]);
  assert.deepEqual([...tr.device], [0, 1, 0, 1, 0]);
  assert.deepEqual([...tr.timeNs], [0, 0, 5e6, 5e6, 5e6]);
  assert.deepEqual([...tr.sector], [0, 8, 128, 0, 16]);
  assert.deepEqual([...tr.bytes], [8192, 4096, 4096, 0, 512]);
  if (!haveFio()) return t.skip('fio is not installed: replay not checked');
  // fio itself accepts the log and issues the same I/O
  assert.deepEqual(fioReplayCounts(log), { read: 2, write: 1, sync: 1 });
});

test('fio iolog: a bad action names the line', async () => {
  const dir = tempDir('ssdtune-fio-');
  const log = path.join(dir, 'bad.iolog');
  writeFileSync(log, 'fio version 3 iolog\n0 /x add\n0 /x open\n10 /x read 0 4096\n20 /x scribble 0 4096\n');
  await assert.rejects(collect(await openTrace(log)), /bad\.iolog: line 5: an I\/O action: read, write, trim, sync or datasync/);
  const skipped = await openTrace(log, { skipBad: true });
  assert.equal((await collect(skipped)).length, 1);
  assert.equal(skipped.meta.skippedRecords, 1);
});
