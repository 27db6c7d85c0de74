import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { FIELD_KIND, ScanStop, textScan } from '../src/readers/text.js';
import { openTrace } from '../src/readers/registry.js';
import { collect, Op } from '../src/trace/model.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at, col } from '../src/util/at.js';

const { int, dec, bit } = FIELD_KIND;

function scanAll(text: string, kinds: number[], rowsPerCall = 64): { rows: number[][]; stops: Array<[number, number]>; pos: number; lines: number } {
  const buf = Buffer.from(text, 'latin1');
  const k = Uint8Array.from(kinds);
  const w = kinds.length + 2;
  const out = new Float64Array(w * rowsPerCall);
  const state = new Float64Array(4);
  const rows: number[][] = [];
  const stops: Array<[number, number]> = [];
  let pos = 0;
  let lines = 0;
  for (;;) {
    const n = textScan()(buf, pos, k, out, state);
    for (let r = 0; r < n; r++)
      rows.push([...out.subarray(r * w, r * w + kinds.length), lines + col(out, r * w + kinds.length), col(out, r * w + kinds.length + 1)]);
    lines += col(state, 1);
    pos = col(state, 0);
    if (state[3] === ScanStop.NEED_MORE) break;
    if (state[3] === ScanStop.SLOW) {
      stops.push([pos, col(state, 2)]);
      pos = col(state, 2) + 1;
      lines++;
    }
  }
  return { rows, stops, pos, lines };
}

test('textScan: plain numeric lines become rows with their line index and offset; blank and CRLF lines are handled', () => {
  const text = '1 2 3 8 1\n\n  \t\r\n10\t20  30 16 0\r\n123456.789 0 7 8 1\npartial 1';
  const r = scanAll(text, [dec, int, int, int, bit]);
  assert.deepEqual(r.rows, [
    [1, 2, 3, 8, 1, 0, 0],
    [10, 20, 30, 16, 0, 3, text.indexOf('10\t')],
    [123456.789, 0, 7, 8, 1, 4, text.indexOf('123456')],
  ]);
  assert.deepEqual(r.stops, []);
  assert.equal(r.lines, 5);
  assert.equal(r.pos, text.indexOf('partial'), 'stops at the unterminated last line');
});

test('textScan: anything outside the narrow grammar is handed back as a SLOW line, never guessed', () => {
  const odd = [
    '1e3 0 1 8 1', // exponent
    '0x10 0 1 8 1', // hex
    '+5 0 1 8 1', // sign
    '5 0 1 8 2', // op not 0/1
    '5 0 1 8 01', // op spelled differently
    '5 0 1 8', // too few fields
    '5 0 1 8 1 1', // too many
    '5. 0 1 8 1', // trailing dot
    '.5 0 1 8 1', // leading dot
    '5 0.5 1 8 1', // fraction in an integer column
    '1234567890123456 0 1 8 1', // 16 digits: may not be exact
    '5 0 1 8 1\r\r', // only one \r is dropped
    '5\v0 1 8 1', // only space and tab separate
  ];
  const text = odd.map((l) => `${l}\n1 0 1 8 1\n`).join('');
  const r = scanAll(text, [dec, int, int, int, bit]);
  assert.equal(r.stops.length, odd.length);
  for (let i = 0; i < odd.length; i++) assert.equal(Buffer.from(text, 'latin1').toString('latin1', at(r.stops, i)[0], at(r.stops, i)[1]), odd[i]);
  assert.equal(r.rows.length, odd.length);
  assert.equal(r.lines, 2 * odd.length);
});

test('textScan: values are exactly Number(field), and FULL stops resume where they left off', () => {
  let seed = 42;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const ip = String(rnd(10 ** (1 + rnd(9))));
    const fp = String(rnd(10 ** (1 + rnd(6)))).padStart(1 + rnd(6), '0');
    lines.push(`${ip}.${fp.slice(0, 15 - ip.length)} ${rnd(1e9)}`);
  }
  const r = scanAll(lines.join('\n') + '\n', [dec, int], 7);
  assert.equal(r.rows.length, lines.length);
  for (let i = 0; i < lines.length; i++) {
    const [a, b] = at(lines, i).split(' ');
    assert.equal(at(r.rows, i)[0], Number(a), lines[i]);
    assert.equal(at(r.rows, i)[1], Number(b));
    assert.equal(at(r.rows, i)[2], i);
  }
});

test('textScan: bad arguments are TypeErrors/RangeErrors, not crashes', () => {
  const buf = Buffer.from('1 2\n');
  const st = new Float64Array(4);
  assert.throws(() => textScan()(buf, 0, new Uint8Array(0), new Float64Array(8), st), RangeError);
  assert.throws(() => textScan()(buf, 99, Uint8Array.of(int), new Float64Array(8), st), RangeError);
  assert.throws(() => textScan()(buf, 0, Uint8Array.of(7), new Float64Array(8), st), RangeError);
  assert.throws(() => textScan()(buf, 0, Uint8Array.of(int), new Float64Array(8), new Float64Array(2)), TypeError);
  assert.equal(textScan()(buf, 0, Uint8Array.of(int, int), new Float64Array(0), st), 0);
  assert.equal(st[3], ScanStop.FULL);
});

test('fast path: lines spanning 1 MiB chunks, odd lines, errors and skipBad behave like the line parser', async () => {
  const dir = tempDir('ssdtune-textscan-');
  const lines: string[] = [];
  let t = 1000;
  // ~2.5 MB so lines straddle the reader's 1 MiB chunks
  for (let i = 0; i < 100_000; i++) lines.push(`${(t += 7)} ${i % 4} ${i * 8} ${8 << (i % 3)} ${i % 2}`);
  lines[5] = `${Number(at(lines, 5).split(' ')[0])}.0 1 40 8 1`; // decimal: the string parser's Number() takes it
  lines[6] = '';
  lines[7] = lines[7] + '\r';
  lines[70_000] = '1e3 0 1 8 1'; // goes back in time: an error on line 70001
  lines[80_000] = `${1000 + 7 * 80_001} 0 1 99999999 1`; // row-level error from the fast path: size over 4 GiB
  const f = path.join(dir, 'mixed.trace');
  const text = lines.join('\n'); // no final newline
  writeFileSync(f, text);
  writeFileSync(f + '.gz', gzipSync(text));
  for (const file of [f, f + '.gz']) {
    await assert.rejects(collect(await openTrace(file, { format: 'mqsim' })), (e: Error) => {
      assert.equal(e.message, `${file}: line 70001: arrival_ns non-decreasing (previous ${1000 + 7 * 70_000}), got "1e3 0 1 8 1"`);
      return true;
    });
    const src = await openTrace(file, { format: 'mqsim', skipBad: true, batchSize: 4096 });
    const b = await collect(src);
    assert.equal(src.meta.skippedRecords, 2);
    assert.equal(b.length, 100_000 - 3);
    assert.equal(b.timeNs[5], 35);
    assert.equal(b.sector[5], 40);
    assert.equal(b.device[5], 1);
    assert.equal(b.op[6], Op.READ, 'line 8 (CRLF) is row 6 after the blank line 7');
    assert.equal(b.timeNs[b.length - 1], 7 * 99_999);
    assert.equal(b.bytes[b.length - 1], 8 * 512, 'the unterminated last line counts');
  }
  // the same row-level error, worded by the fast path, when it comes first
  const g = path.join(dir, 'big.trace');
  writeFileSync(g, '1 0 1 8 1\n\n2 0 1 99999999 0\n');
  await assert.rejects(collect(await openTrace(g, { format: 'mqsim' })), (e: Error) => {
    assert.equal(e.message, `${g}: line 3: size_sectors: a request size below 4 GiB, got "2 0 1 99999999 0"`);
    return true;
  });
});
