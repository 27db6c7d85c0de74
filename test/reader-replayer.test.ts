// Readers for blkreplay .load files and Heimdall MSR cuts, each checked against an
// independent reading of the real files (awk, following the formats' own
// definitions), and the sniffer refusing to guess between byte and block units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTrace, sniffFormat } from '../src/readers/registry.js';
import { collect, Op, type TraceBatch } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { PROJECT_ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';
import { col } from '../src/util/at.js';
import type { Tuple } from '../src/readers/text.js';

/** Real traces recorded by others, beside the checkout (as CI lays it out). */
const SHARED = path.resolve(PROJECT_ROOT, '..', 'shared', 'traces');
const shared = (f: string): string => path.join(SHARED, f);
const skipNoShared = existsSync(SHARED) ? false : `${SHARED} is absent (the shared traces are laid beside the checkout)`;

const BLKREPLAY = ['blkreplay_windows-shared-server.load.gz', 'blkreplay_windows-mssql.load.gz', 'blkreplay_linux-webserver-2.load.gz'];
const HEIMDALL = ['heimdall_msr_cut_most_thpt_rand_iops.1006.trace.xz', 'heimdall_msr_cut_rw_40_60.1370.trace.xz'];

function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 26 });
}

interface Summary {
  n: number;
  reads: number;
  writes: number;
  bytes: number;
  sectorSum: number;
  firstNs: number;
  lastNs: number;
}

/** The `n` numbers a reference command printed on one line, their count checked. */
function numbers<N extends number>(out: string, n: N): Tuple<N, number> {
  const v = out.trim().split(' ').map(Number);
  assert.equal(v.length, n, `expected ${n} numbers, got: ${out}`);
  return v as Tuple<N, number>;
}

function summarise(t: TraceBatch): Summary {
  const s: Summary = { n: t.length, reads: 0, writes: 0, bytes: 0, sectorSum: 0, firstNs: t.timeNs[0] ?? NaN, lastNs: t.timeNs[t.length - 1] ?? NaN }; // NaN for an empty trace
  for (let i = 0; i < t.length; i++) {
    if (col(t.op, i) & Op.READ) s.reads++;
    if (col(t.op, i) & Op.WRITE) s.writes++;
    s.bytes += col(t.bytes, i);
    s.sectorSum += col(t.sector, i);
  }
  return s;
}

/**
 * The blkreplay reading in awk: blkreplay's own scan (`%ld.%ld ; %lld ; %d ; %c`,
 * R or W by the first letter, header lines skipped), and the Q/D pairing rule
 * the reader documents: a line repeating (sector, length, op) of an unpaired
 * request less than 1 ms earlier is dropped. Times in integer nanoseconds.
 */
const AWK_BLKREPLAY = String.raw`
BEGIN { FS = ";" }
NF >= 4 && $1 ~ /^ *[0-9]+\.[0-9]+ *$/ {
  split($1, tp, "."); gsub(/ /, "", tp[1]); f = tp[2]; gsub(/ /, "", f);
  t = tp[1] * 1e9 + substr(f "000000000", 1, 9);
  sec = $2 + 0; len = $3 + 0; op = $4; gsub(/ /, "", op); c = substr(op, 1, 1);
  raw++; if (c == "R") rawR++; else if (c == "W") rawW++;
  key = sec "|" len "|" op;
  if ((key in pend) && t - pend[key] < 1e6) { delete pend[key]; paired++; next }
  pend[key] = t;
  n++; if (c == "R") r++; else w++; bytes += len * 512; ss += sec;
  if (n == 1) first = t; last = t;
}
END { printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", n, r, w, bytes, ss, first, last, paired, raw, rawR, rawW }`;

test('blkreplay reader: the real production loads read as an independent awk reading does', { skip: skipNoShared }, async () => {
  for (const f of BLKREPLAY) {
    const file = shared(f);
    assert.equal((await sniffFormat(file)).name, 'blkreplay', f);
    const src = await openTrace(file);
    const got = summarise(await collect(src));
    const [n, r, w, bytes, ss, first, last, paired, raw, rawR, rawW] = numbers(sh(`gzip -dc '${file}' | awk '${AWK_BLKREPLAY}'`), 11);
    assert.deepEqual(got, { n, reads: r, writes: w, bytes, sectorSum: ss, firstNs: first, lastNs: last }, f);
    // blkreplay's own count: every scanned line is R or W (RA reads by its first letter).
    assert.equal(rawR + rawW, raw, f);
    if (paired)
      assert.ok(
        src.meta.warnings.some((m) => m.startsWith(`${paired} lines repeat`)),
        `${f}: ${src.meta.warnings}`,
      );
  }
});

test('blkreplay reader: header text, RWBS ops, Q/D pairs and bad lines', async () => {
  const dir = tempDir('ssdtune-blkreplay-');
  const f = path.join(dir, 'x.load');
  const rows = [
    'Copyright someone',
    '',
    'start ; sector; length ; op ;  replay_delay=0 ; replay_duration=0',
    '      0.000000000 ;      100 ;    8 ; R ; 0.0 ; 0.0',
    '      0.000020000 ;      100 ;    8 ; R ; 0.0 ; 0.0', // its D: dropped
    '      0.500000001 ;      200 ;   16 ; WS ; 0.0 ; 0.0',
    '      0.600000000 ;      300 ;    8 ; RA ; 0.0 ; 0.0',
    '      0.700000000 ;        0 ;    0 ; N ; 0.0 ; 0.0',
    '      0.800000000 ;      100 ;    8 ; R ; 0.0 ; 0.0', // 800 ms later: a new request
  ];
  writeFileSync(f, rows.join('\n') + '\n');
  const src = await openTrace(f);
  assert.equal(src.meta.format, 'blkreplay');
  const t = await collect(src);
  assert.deepEqual([...t.timeNs], [0, 500000001, 600000000, 800000000]);
  assert.deepEqual([...t.sector], [100, 200, 300, 100]);
  assert.deepEqual([...t.bytes], [4096, 8192, 4096, 4096]);
  assert.deepEqual([...t.op], [Op.READ, Op.WRITE | Op.SYNC, Op.READ | Op.READAHEAD, Op.READ]);
  assert.ok(src.meta.warnings.some((w) => w.startsWith('1 lines repeat')));
  assert.ok(src.meta.warnings.some((w) => w.startsWith('1 lines with op N')));

  writeFileSync(f, rows.slice(0, 5).join('\n') + '\nsome text after the requests\n');
  await assert.rejects(collect(await openTrace(f)), (e: unknown) => {
    assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'));
    assert.match((e as Error).message, /x\.load: line 6: start ; sector ; length ; op/);
    return true;
  });
  writeFileSync(f, rows.slice(0, 4).join('\n') + '\n      1.0 ;      100 ;    8 ; Q ; 0.0 ; 0.0\n');
  await assert.rejects(collect(await openTrace(f)), /line 5: op: a blkparse RWBS field/);
  writeFileSync(f, rows.slice(0, 4).join('\n') + '\n      1.0 ;  99999999999999999999 ;    8 ; R ; 0.0 ; 0.0\n');
  await assert.rejects(collect(await openTrace(f)), /line 5: sector: a whole number/);
});

/** Heimdall's columns in awk: ts_ms dev offset_bytes size_bytes type(1=read). */
const AWK_HEIMDALL = String.raw`NF == 5 { n++; if ($5 == 1) r++; else w++; bytes += $4; ss += int($3 / 512); if (n == 1) first = $1; last = $1 } END { printf "%.0f %.0f %.0f %.0f %.0f %.3f %.3f\n", n, r, w, bytes, ss, first, last }`;

test('heimdall reader: the real MSR cuts read as awk reads them, in bytes', { skip: skipNoShared }, async () => {
  for (const f of HEIMDALL) {
    const file = shared(f);
    const t = await collect(await openTrace(file, { format: 'heimdall' }));
    const [n, r, w, bytes, ss, first, last] = numbers(sh(`xz -dc '${file}' | awk '${AWK_HEIMDALL}'`), 7);
    const got = summarise(t);
    assert.deepEqual(
      { n: got.n, reads: got.reads, writes: got.writes, bytes: got.bytes, sectorSum: got.sectorSum },
      { n, reads: r, writes: w, bytes, sectorSum: ss },
      f,
    );
    // Times are relative to the file's own origin, in ms; the trace keeps them as given (sorted).
    assert.equal(got.firstNs, Math.round(first * 1e6), f);
    assert.equal(got.lastNs, Math.round(last * 1e6), f);
    // The figures: 4 KiB requests over ~14 GiB, not 2 MiB over 7 TiB.
    let max = 0;
    for (let i = 0; i < t.length; i++) max = Math.max(max, (col(t.sector, i) * 512 + col(t.bytes, i)) / 2 ** 30);
    assert.ok(max < 16, `${f}: span ${max} GiB`);
  }
});

test('sniffer: a Heimdall cut is refused as ambiguous, naming both readings; MSNFS stays MSNFS', { skip: skipNoShared }, async () => {
  for (const f of HEIMDALL) {
    await assert.rejects(sniffFormat(shared(f)), (e: unknown) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_AMBIGUOUS_FORMAT'), String(e));
      const m = (e as Error).message;
      assert.match(m, /msnfs \(start and size in blocks: median request [0-9.]+ [KMG]iB/);
      assert.match(m, /heimdall \(start and size in bytes/);
      assert.match(m, /pass --format msnfs or --format heimdall/);
      return true;
    });
  }
  assert.equal((await sniffFormat(path.resolve('traces/msps_msnfs_30s.trace'))).name, 'msnfs');
});

test('sniffer: byte units are implausible when sizes are not whole sectors, block units when requests exceed 64 MiB', async () => {
  const dir = tempDir('ssdtune-units-');
  const blocks = path.join(dir, 'blocks.trace');
  writeFileSync(blocks, '0.5 0 1000 16 1\n1.5 0 2000 8 0\n');
  assert.equal((await sniffFormat(blocks)).name, 'msnfs');
  const bytes = path.join(dir, 'bytes.trace');
  writeFileSync(bytes, '0.5 0 1048576 262144 1\n1.5 0 2097152 1048576 0\n'); // 512 MiB requests if read in blocks
  assert.equal((await sniffFormat(bytes)).name, 'heimdall');
});
