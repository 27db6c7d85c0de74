import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { actionLetter, BlkCategory, blktraceFormat, openBlktrace, readBlktraceEvents, type BlktraceEvents } from '../src/readers/blktrace.js';
import { writeBlktrace } from '../src/writers/blktrace.js';
import { collect, emptyMeta, Op, sourceFromBatches, type TraceBatch } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at, col } from '../src/util/at.js';

const DIR = path.resolve('traces/blktrace_centos7_vm_small');
const SET = path.join(DIR, 'sda');
const BLKPARSE = '/usr/bin/blkparse';
const haveBlkparse = existsSync(BLKPARSE);
const tmp = () => tempDir('ssdtune-bt-');

/** One line per event from blkparse's custom format, keyed by cpu:sequence (unique per event). */
function blkparseEvents(dir: string, name: string): Map<string, string> {
  const out = execFileSync(BLKPARSE, ['-i', name, '-D', dir, '-q', '-f', '%c %s %T.%9t %S %n %a %p %M,%m\n'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const f = line.split(' ');
    if (f.length !== 8 || !/^\d+$/.test(at(f, 0))) continue; // "Input file ... added"
    m.set(`${f[0]}:${f[1]}`, line);
  }
  return m;
}

/** Our events in blkparse's custom format (real events only: notes are not printed). */
function ourEvents(e: BlktraceEvents): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < e.length; i++) {
    if (col(e.category, i) & BlkCategory.NOTIFY) continue;
    const t = col(e.timeNs, i);
    const time = `${Math.floor(t / 1e9)}.${String(t % 1e9).padStart(9, '0')}`;
    const dev = col(e.device, i);
    m.set(
      `${e.cpu[i]}:${e.sequence[i]}`,
      `${e.cpu[i]} ${e.sequence[i]} ${time} ${e.sector[i]} ${col(e.bytes, i) >>> 9} ${actionLetter(col(e.act, i), col(e.category, i))} ${e.pid[i]} ${dev >>> 20},${dev & 0xfffff}`,
    );
  }
  return m;
}

function assertSameEvents(ours: Map<string, string>, theirs: Map<string, string>): void {
  assert.equal(ours.size, theirs.size, 'event count');
  for (const [k, v] of theirs) assert.equal(ours.get(k), v, `event cpu:seq ${k}`);
}

test('blktrace events: every event matches blkparse (time, sector, size, action, pid, device, cpu)', async (t) => {
  if (!haveBlkparse) return t.skip('blkparse is not installed at /usr/bin/blkparse');
  const { events, meta } = await readBlktraceEvents(SET);
  assert.equal(meta.files.length, 2);
  const theirs = blkparseEvents(DIR, 'sda');
  assert.equal(theirs.size, 799);
  assertSameEvents(ourEvents(events), theirs);
  // Our merge order is blkparse's time order.
  let prev = -Infinity;
  for (let i = 0; i < events.length; i++) {
    if (col(events.category, i) & BlkCategory.NOTIFY) continue;
    const t = col(events.timeNs, i);
    assert.ok(t >= prev);
    prev = t;
  }
  // Remaps carry where they came from: "A W 24391512 + 160 <- (253,0) 20481880".
  const a = [...Array(events.length).keys()].find((i) => events.sector[i] === 24391512 && actionLetter(col(events.act, i), col(events.category, i)) === 'A');
  assert.ok(a !== undefined);
  assert.equal(events.auxDevice[a], (253 << 20) | 0);
  assert.equal(events.auxSector[a], 20481880);
});

test('blktrace events: any one per-CPU file or the NAME prefix opens the whole set', async () => {
  for (const p of [SET, `${SET}.blktrace.0`, `${SET}.blktrace.1`]) {
    const { events } = await readBlktraceEvents(p);
    assert.equal(events.length, 810, p); // 799 events + 11 notes
  }
});

test('blktrace requests: Q/G/I/D/C/M pairing on the real set', async () => {
  const src = await openBlktrace(SET, { batchSize: 50 });
  assert.equal(src.meta.format, 'blktrace');
  const r = await collect(src);
  // 113 queued bios, 4 of them back-merged into their neighbour: 109 requests, all dispatched and completed.
  assert.equal(r.length, 109);
  assert.deepEqual(src.meta.warnings, []);
  for (let i = 0; i < r.length; i++) {
    assert.ok(col(r.issueNs!, i) >= col(r.timeNs, i) && col(r.completeNs!, i) >= col(r.issueNs!, i), `request ${i} times ordered`);
    if (i) assert.ok(col(r.timeNs, i) >= col(r.timeNs, i - 1));
  }
  // First request: Q 0.000252703, D 0.000418904, C 0.004057032, W 24803160 + 160, kworker/u256:1.
  assert.equal(r.timeNs[0], 252703);
  assert.equal(r.sector[0], 24803160);
  assert.equal(r.bytes[0], 160 * 512);
  assert.equal(r.op[0], Op.WRITE);
  assert.equal(r.device[0], 8 << 20);
  assert.equal(r.pid[0], 17852);
  assert.equal(r.issueNs![0], 418904);
  assert.equal(r.completeNs![0], 4057032);
  assert.equal(src.meta.processes.get(17852), 'kworker/u256:1');
  assert.equal(src.meta.processes.get(410), 'xfsaild/dm-0');
  // Q WM 4321288 + 8 at 40.009271331, then 4321296 + 8 back-merged: D/C WM 4321288 + 16.
  const m = [...Array(r.length).keys()].find((i) => r.sector[i] === 4321288);
  assert.ok(m !== undefined);
  assert.equal(r.timeNs[m], 40009271331);
  assert.equal(r.bytes[m], 16 * 512);
  assert.equal(r.op[m], Op.WRITE | Op.META);
  assert.equal(r.issueNs![m], 40010434140);
  assert.equal(r.completeNs![m], 40012536557);
  // The timestamp note gives the wall clock of t=0 (2020-11-16).
  assert.equal(new Date(src.meta.baseTimeNs / 1e6).toISOString().slice(0, 10), '2020-11-16');
});

test('blktrace sniff: magic at offset 0 in either byte order', () => {
  const head = readFileSync(`${SET}.blktrace.0`).subarray(0, 4096);
  assert.equal(blktraceFormat.sniff(head, 'x'), 0.99);
  const be = Buffer.from(head);
  be.writeUInt32BE(be.readUInt32LE(0), 0);
  assert.equal(blktraceFormat.sniff(be, 'x'), 0.99);
  assert.equal(blktraceFormat.sniff(Buffer.from('11413000 0 657728 16 1\n'), 'x'), 0);
});

/** Rewrite a v7 little-endian file record by record: byte-swapped, or as version 8 (blk_io_trace2). */
function convert(buf: Buffer, to: 'be' | 'v8'): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < buf.length;) {
    const pdu = buf.readUInt16LE(o + 46);
    const h = buf.subarray(o, o + 48);
    const payload = Buffer.from(buf.subarray(o + 48, o + 48 + pdu));
    const action = h.readUInt32LE(28);
    if (to === 'be') {
      const n = Buffer.alloc(48);
      n.writeUInt32BE(h.readUInt32LE(0), 0);
      n.writeUInt32BE(h.readUInt32LE(4), 4);
      n.writeBigUInt64BE(h.readBigUInt64LE(8), 8);
      n.writeBigUInt64BE(h.readBigUInt64LE(16), 16);
      for (let k = 24; k < 44; k += 4) n.writeUInt32BE(h.readUInt32LE(k), k);
      n.writeUInt16BE(h.readUInt16LE(44), 44);
      n.writeUInt16BE(pdu, 46);
      // A timestamp note's two u32 follow the writer's byte order (remap payloads are big-endian already).
      if (action === ((BlkCategory.NOTIFY << 16) | 1) && pdu === 8) {
        payload.writeUInt32BE(payload.readUInt32LE(0), 0);
        payload.writeUInt32BE(payload.readUInt32LE(4), 4);
      }
      parts.push(n, payload);
    } else {
      const n = Buffer.alloc(64);
      n.writeUInt32LE(0x65617408, 0);
      h.copy(n, 4, 4, 28); // sequence, time, sector, bytes
      n.writeUInt32LE(h.readUInt32LE(32), 28); // pid
      n.writeBigUInt64LE(BigInt(action), 32); // u64 action
      n.writeUInt32LE(h.readUInt32LE(36), 40); // device
      n.writeUInt32LE(h.readUInt32LE(40), 44); // cpu
      n.writeUInt16LE(h.readUInt16LE(44), 48); // error
      n.writeUInt16LE(pdu, 50);
      parts.push(n, payload);
    }
    o += 48 + pdu;
  }
  return Buffer.concat(parts);
}

async function sameAsOriginal(prefix: string): Promise<void> {
  const a = await readBlktraceEvents(SET);
  const b = await readBlktraceEvents(prefix);
  for (const k of ['timeNs', 'sector', 'bytes', 'act', 'category', 'pid', 'device', 'cpu', 'sequence', 'error', 'auxSector', 'auxDevice'] as const) {
    assert.deepEqual(b.events[k], a.events[k], k);
  }
  const ra = await openBlktrace(SET);
  const rb = await openBlktrace(prefix);
  assert.deepEqual(await collect(rb), await collect(ra));
  assert.equal(rb.meta.baseTimeNs, ra.meta.baseTimeNs);
  assert.deepEqual(rb.meta.processes, ra.meta.processes);
}

test('blktrace: a big-endian copy of the real set reads identically (and blkparse agrees)', async (t) => {
  const dir = tmp();
  for (const n of [0, 1]) writeFileSync(path.join(dir, `sda.blktrace.${n}`), convert(readFileSync(`${SET}.blktrace.${n}`), 'be'));
  const b = await readBlktraceEvents(path.join(dir, 'sda'));
  assert.ok(b.meta.streams.every((s) => s.bigEndian && s.version === 7));
  await sameAsOriginal(path.join(dir, 'sda'));
  if (!haveBlkparse) return t.skip('blkparse is not installed');
  assertSameEvents(ourEvents(b.events), blkparseEvents(dir, 'sda'));
});

test('blktrace: version 8 (blk_io_trace2, 64-byte records, u64 action) reads identically', async () => {
  const dir = tmp();
  for (const n of [0, 1]) writeFileSync(path.join(dir, `sda.blktrace.${n}`), convert(readFileSync(`${SET}.blktrace.${n}`), 'v8'));
  const b = await readBlktraceEvents(path.join(dir, 'sda'));
  assert.ok(b.meta.streams.every((s) => s.version === 8));
  await sameAsOriginal(path.join(dir, 'sda'));
});

test('blktrace: records with the cgroup flag carry the cgroup id before their payload', async () => {
  const dir = tmp();
  for (const n of [0, 1]) {
    const buf = readFileSync(`${SET}.blktrace.${n}`);
    const parts: Buffer[] = [];
    for (let o = 0; o < buf.length;) {
      const pdu = buf.readUInt16LE(o + 46);
      const h = Buffer.from(buf.subarray(o, o + 48));
      const payload = buf.subarray(o + 48, o + 48 + pdu);
      if ((h.readUInt32LE(28) & 0xff) === 15 && !(h.readUInt32LE(28) & (BlkCategory.NOTIFY << 16))) {
        h.writeUInt32LE(h.readUInt32LE(28) | (1 << 8), 28); // __BLK_TA_CGROUP
        h.writeUInt16LE(pdu + 8, 46);
        parts.push(h, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), payload);
      } else parts.push(h, payload);
      o += 48 + pdu;
    }
    writeFileSync(path.join(dir, `sda.blktrace.${n}`), Buffer.concat(parts));
  }
  const a = await readBlktraceEvents(SET);
  const b = await readBlktraceEvents(path.join(dir, 'sda'));
  assert.deepEqual(b.events.auxSector, a.events.auxSector);
  assert.deepEqual(b.events.auxDevice, a.events.auxDevice);
  assert.ok([...b.events.act].some((x) => x === (15 | (1 << 8))));
});

test('blktrace: progress reports bytes of the set', async () => {
  const seen: [number, number][] = [];
  await collect(await openBlktrace(SET, { batchSize: 10, onProgress: (d, t) => seen.push([d, t]) }));
  const total = readFileSync(`${SET}.blktrace.0`).length + readFileSync(`${SET}.blktrace.1`).length;
  assert.ok(seen.length > 5);
  assert.ok(seen.every(([d, t]) => t === total && d <= total));
  assert.ok(at(seen, seen.length - 1)[0] > total / 2);
});

test('blktrace writer: round trip is identical and blkparse reads the output', async (t) => {
  const dir = tmp();
  const src = await openBlktrace(SET);
  const res = await writeBlktrace(src, path.join(dir, 'out'), { cpus: 3 });
  assert.equal(res.files.length, 3);
  assert.equal(res.requests, 109);
  const orig = await collect(await openBlktrace(SET));
  const back = await openBlktrace(path.join(dir, 'out'));
  assert.deepEqual(await collect(back), orig);
  assert.deepEqual(back.meta.warnings, []);
  assert.equal(back.meta.baseTimeNs, src.meta.baseTimeNs);
  assert.deepEqual(back.meta.processes, src.meta.processes);
  if (!haveBlkparse) return t.skip('blkparse is not installed');
  const theirs = blkparseEvents(dir, 'out');
  const { events } = await readBlktraceEvents(path.join(dir, 'out'));
  assertSameEvents(ourEvents(events), theirs);
  const count = (a: string) => [...theirs.values()].filter((l) => l.split(' ')[5] === a).length;
  assert.deepEqual(['Q', 'G', 'I', 'D', 'C'].map(count), [109, 109, 109, 109, 109]);
  // blkparse names the processes from our notes.
  const text = execFileSync(BLKPARSE, ['-i', 'out', '-D', dir], { encoding: 'utf8' });
  assert.match(text, /8,0 +\d+ +\d+ +0\.000252703 17852 +Q +W 24803160 \+ 160 \[kworker\/u256:1\]/);
});

test('blktrace writer: unknown issue/complete times are omitted (round trip keeps NaN) or derived', async () => {
  const meta = emptyMeta('synthetic', 'test');
  const n = 4;
  const batch: TraceBatch = {
    length: n,
    timeNs: Float64Array.from([0, 1000, 1000, 5000]),
    sector: Float64Array.from([8, 64, 128, 8]),
    bytes: Uint32Array.from([4096, 8192, 512, 4096]),
    op: Uint16Array.from([Op.READ | Op.META, Op.WRITE | Op.SYNC | Op.FUA | Op.FLUSH, Op.DISCARD, Op.READ | Op.READAHEAD]),
    device: Uint32Array.from([(259 << 20) | 1, (259 << 20) | 1, (259 << 20) | 1, (8 << 20) | 16]),
    pid: Uint32Array.from([1, 2, 3, 4]),
    issueNs: Float64Array.from([10, NaN, 1500, 5100]),
    completeNs: Float64Array.from([900, NaN, NaN, 9000]),
  };
  const dir = tmp();
  await writeBlktrace(sourceFromBatches(meta, [batch]), path.join(dir, 'omit'));
  const back = await collect(await openBlktrace(path.join(dir, 'omit')));
  assert.deepEqual(back, batch);
  await writeBlktrace(sourceFromBatches(meta, [batch]), path.join(dir, 'derive'), { missing: 'derive', derivedLatencyNs: 50 });
  const d = await collect(await openBlktrace(path.join(dir, 'derive')));
  assert.deepEqual([...d.issueNs!], [10, 1000, 1500, 5100]);
  assert.deepEqual([...d.completeNs!], [900, 1050, 1550, 9000]);
});

async function rejectsFormat(p: string, re: RegExp, code = 'SSDTUNE_TRACE_FORMAT'): Promise<void> {
  await assert.rejects((async () => collect(await openBlktrace(p)))(), (e: unknown) => {
    assert.ok(isSsdtuneError(e, code), `expected ${code}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

test('blktrace bad input: truncated, wrong magic, pdu overflow, zero-length, garbage, directory', async () => {
  const dir = tmp();
  const real = readFileSync(`${SET}.blktrace.0`);
  writeFileSync(path.join(dir, 'trunc.blktrace.0'), real.subarray(0, 48 * 3 + 20));
  await rejectsFormat(path.join(dir, 'trunc.blktrace.0'), /trunc\.blktrace\.0: byte offset 144: a 48-byte record header, only 20 bytes left/);
  const bad = Buffer.from(real);
  bad.writeUInt32LE(0xdeadbeef, 48 * 2);
  writeFileSync(path.join(dir, 'magic.blktrace.0'), bad);
  await rejectsFormat(path.join(dir, 'magic.blktrace.0'), /magic\.blktrace\.0: byte offset 96: blktrace magic 0x65617407.*found 0xdeadbeef/);
  const over = Buffer.from(real.subarray(0, 48 * 4));
  over.writeUInt16LE(1000, 48 * 3 + 46);
  writeFileSync(path.join(dir, 'pdu.blktrace.0'), over);
  await rejectsFormat(path.join(dir, 'pdu.blktrace.0'), /pdu\.blktrace\.0: byte offset 144: pdu_len 1000 payload bytes after the header, only 0 bytes left/);
  writeFileSync(path.join(dir, 'empty.blktrace.0'), '');
  await rejectsFormat(path.join(dir, 'empty.blktrace.0'), /empty\.blktrace\.0: byte offset 0: blktrace records, found none/);
  writeFileSync(path.join(dir, 'garbage.bin'), Buffer.from('this is not a blktrace file at all, just text\n'.repeat(20)));
  await rejectsFormat(path.join(dir, 'garbage.bin'), /garbage\.bin: byte offset 0: blktrace magic .* found 0x73696874/);
  mkdirSync(path.join(dir, 'adir'));
  await rejectsFormat(path.join(dir, 'adir'), /adir: .*directory/, 'SSDTUNE_TRACE_OPEN');
  await rejectsFormat(path.join(dir, 'nothere'), /nothere: .*no such file/i, 'SSDTUNE_TRACE_OPEN');
});

test('blktrace skipBad: a corrupt record is skipped (resync on the next magic) and counted', async () => {
  const dir = tmp();
  const bad = Buffer.from(readFileSync(`${SET}.blktrace.1`));
  let off = 0;
  for (let k = 0; k < 5; k++) off += 48 + bad.readUInt16LE(off + 46); // the 6th record
  bad.writeUInt32LE(0x12345678, off);
  writeFileSync(path.join(dir, 'x.blktrace.0'), bad);
  await rejectsFormat(path.join(dir, 'x.blktrace.0'), new RegExp(`byte offset ${off}: blktrace magic`));
  const src = await openBlktrace(path.join(dir, 'x.blktrace.0'), { skipBad: true });
  const r = await collect(src);
  assert.equal(src.meta.skippedRecords, 1);
  assert.ok(r.length > 50);
  assert.ok(src.meta.warnings.some((w) => /1 bad stretch/.test(w)));
  const { events } = await readBlktraceEvents(path.join(dir, 'x.blktrace.0'), { skipBad: true });
  assert.equal(events.length, 576 - 1);
});

test('blktrace: a set with one per-CPU file missing reads with a warning and unpaired counts', async () => {
  const dir = tmp();
  copyFileSync(`${SET}.blktrace.1`, path.join(dir, 'sda.blktrace.1'));
  const src = await openBlktrace(path.join(dir, 'sda'));
  const r = await collect(src);
  assert.ok(r.length > 0 && r.length < 109);
  assert.ok(
    src.meta.warnings.some((w) => /sda\.blktrace\.0 missing/.test(w)),
    src.meta.warnings.join('; '),
  );
  assert.ok(
    src.meta.warnings.some((w) => /\d+ unpaired event/.test(w) || /never completed/.test(w)),
    src.meta.warnings.join('; '),
  );
});

/** One version-7 little-endian record. */
function rec(seq: number, time: number, sector: number, blocks: number, act: number, cat: number, pdu: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt32LE(0x65617407, 0);
  b.writeUInt32LE(seq, 4);
  b.writeBigUInt64LE(BigInt(time), 8);
  b.writeBigUInt64LE(BigInt(sector), 16);
  b.writeUInt32LE(blocks * 512, 24);
  b.writeUInt32LE((act | (cat << 16)) >>> 0, 28);
  b.writeUInt32LE(42, 32);
  b.writeUInt32LE(8 << 20, 36);
  b.writeUInt16LE(pdu.length, 46);
  return Buffer.concat([b, pdu]);
}

test('blktrace pairing: requeue, front merge, split, abort, partial completion, unpaired and PC events', async () => {
  const W = BlkCategory.WRITE;
  const Q = BlkCategory.QUEUE | W;
  const D = BlkCategory.ISSUE | W;
  const C = BlkCategory.COMPLETE | W;
  const be64 = (v: number) => {
    const p = Buffer.alloc(8);
    p.writeBigUInt64BE(BigInt(v));
    return p;
  };
  let seq = 0;
  const r = (t: number, s: number, n: number, act: number, cat: number, pdu?: Buffer) => rec(++seq, t, s, n, act, cat, pdu);
  const records = [
    // requeued once: the second D counts
    r(100, 1000, 8, 1, Q),
    r(105, 1000, 8, 4, Q),
    r(110, 1000, 8, 12, Q),
    r(120, 1000, 8, 7, D),
    r(130, 1000, 8, 6, BlkCategory.REQUEUE | W),
    r(140, 1000, 8, 7, D),
    r(200, 1000, 8, 8, C),
    // front merge: the bio at 2000 joins the request at 2008
    r(300, 2008, 8, 1, Q),
    r(301, 2008, 8, 4, Q),
    r(302, 2000, 8, 1, Q),
    r(303, 2000, 8, 3, Q),
    r(310, 2000, 16, 7, D),
    r(400, 2000, 16, 8, C),
    // split at 3008: two requests with the same queue time
    r(500, 3000, 16, 1, Q),
    r(501, 3000, 16, 13, 0, be64(3008)),
    r(502, 3000, 8, 4, Q),
    r(503, 3000, 8, 7, D),
    r(504, 3008, 8, 4, Q),
    r(505, 3008, 8, 7, D),
    r(600, 3000, 8, 8, C),
    r(610, 3008, 8, 8, C),
    // aborted before dispatch: no request
    r(700, 4000, 8, 1, Q),
    r(701, 4000, 8, 16, Q),
    // completed in two parts
    r(800, 5000, 16, 1, Q),
    r(810, 5000, 16, 7, D),
    r(900, 5000, 8, 8, C),
    r(950, 5008, 8, 8, C),
    // SCSI passthrough: not a block request
    r(960, 0, 0, 7, BlkCategory.ISSUE | BlkCategory.PC),
    // nothing queued there: unpaired
    r(1000, 9000, 8, 8, C),
    r(1001, 9100, 8, 7, D),
  ];
  const dir = tmp();
  writeFileSync(path.join(dir, 'syn.blktrace.0'), Buffer.concat(records));
  const src = await openBlktrace(path.join(dir, 'syn.blktrace.0'));
  const t = await collect(src);
  const rows = [...Array(t.length).keys()].map((i) => [t.timeNs[i], t.sector[i], t.bytes[i], t.issueNs![i], t.completeNs![i]]);
  assert.deepEqual(rows, [
    [0, 1000, 4096, 40, 100],
    [200, 2000, 8192, 210, 300],
    [400, 3000, 4096, 403, 500],
    [400, 3008, 4096, 405, 510],
    [700, 5000, 8192, 710, 850],
  ]);
  assert.ok(
    src.meta.warnings.some((w) => /2 unpaired event\(s\) \(D 1, C 1\)/.test(w)),
    src.meta.warnings.join('; '),
  );
});

test('blktrace: an unreadable file is a clear error', async (t) => {
  if (process.getuid?.() === 0) return t.skip('running as root: permissions do not stop reads');
  const dir = tmp();
  const f = path.join(dir, 'locked.blktrace.0');
  copyFileSync(`${SET}.blktrace.0`, f);
  chmodSync(f, 0);
  await rejectsFormat(f, /locked\.blktrace\.0: .*(permission|Permission) denied/, 'SSDTUNE_TRACE_OPEN');
});

test('openTrace sniffs a blktrace per-CPU file and reads the whole set', async () => {
  const { openTrace } = await import('../src/readers/registry.js');
  const src = await openTrace(`${SET}.blktrace.1`);
  assert.equal(src.meta.format, 'blktrace');
  assert.equal((await collect(src)).length, 109);
});
