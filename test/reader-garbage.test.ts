// Every text reader, forced onto hostile input, fails with a coded error (or skips and counts), never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FORMATS, openTrace } from '../src/readers/registry.js';
import { collect } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { col } from '../src/util/at.js';

/** Deterministic pseudo-random numbers (xorshift), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function hostileFiles(dir: string): string[] {
  const r = rng(42);
  const files: string[] = [];
  const put = (name: string, data: string | Buffer): void => {
    const f = path.join(dir, name);
    writeFileSync(f, data);
    files.push(f);
  };
  put('random.bin', Buffer.from(Array.from({ length: 20000 }, () => Math.floor(r() * 256))));
  const tokens = [
    '8,16',
    '0',
    '-1',
    '1e309',
    'NaN',
    '+',
    '[x]',
    '(8,17)',
    '<-',
    'Q',
    'C',
    'M',
    'A',
    'R',
    'W',
    'Read',
    'fio',
    'read',
    ',',
    ',,',
    '0x2a',
    '2a',
    '99999999999999999999',
    '1.5',
    '.',
    '',
  ];
  const lines: string[] = [];
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(r() * 14);
    const sep = r() < 0.5 ? ' ' : ',';
    lines.push(Array.from({ length: n }, () => tokens[Math.floor(r() * tokens.length)]).join(sep));
  }
  put('tokens.txt', lines.join('\n'));
  // Real samples with every line cut at a random point.
  for (const s of ['blkparse_hadoop_writeback_apress.txt', 'msr_hm_0_sample1000.csv', 'cloudphysics_vscsi_sample.csv', 'msps_msnfs_30s.trace']) {
    const text = readFileSync(path.join('traces', s), 'latin1').split('\n').slice(0, 1500);
    put(`cut-${s}`, text.map((l) => l.slice(0, Math.floor(r() * (l.length + 1)))).join('\n'));
  }
  put(
    'fio-cut.log',
    'fio version 3 iolog\n' +
      ['0 /f add', '1 /f open', '2 /f read 0', '3 /f', '4', 'x /f read 0 4096', '5 /f write -8 4096', '6 /f write 0 4096 extra'].join('\n'),
  );
  return files;
}

test('readers: hostile input gives coded errors, and skipBad reads what it can', async () => {
  const dir = tempDir('ssdtune-garbage-');
  const files = hostileFiles(dir);
  const formats = FORMATS.filter((f) => f.name !== 'blktrace').map((f) => f.name);
  for (const file of files) {
    for (const format of formats) {
      for (const skipBad of [false, true]) {
        const what = `${format} on ${path.basename(file)}${skipBad ? ' (skipBad)' : ''}`;
        try {
          const src = await openTrace(file, { format, skipBad });
          const t = await collect(src);
          for (let i = 0; i < t.length; i++) {
            assert.ok(Number.isFinite(t.timeNs[i]) && col(t.timeNs, i) >= 0, `${what}: time ${t.timeNs[i]}`);
            assert.ok(Number.isFinite(t.sector[i]) && col(t.sector, i) >= 0, `${what}: sector ${t.sector[i]}`);
            assert.ok(col(t.bytes, i) < 0xffffffff, `${what}: bytes ${t.bytes[i]}`);
            if (i > 0) assert.ok(col(t.timeNs, i) >= col(t.timeNs, i - 1), `${what}: time goes back`);
          }
        } catch (e) {
          assert.ok(isSsdtuneError(e), `${what}: uncoded ${(e as Error).stack}`);
          assert.ok((e as Error).message.includes(path.basename(file)), `${what}: message names no file: ${(e as Error).message}`);
        }
      }
    }
  }
});
