/**
 * Writes requests as a standard blktrace per-CPU set (`PREFIX.blktrace.N`,
 * version 7, little-endian) that stock `blkparse` reads: per request Q, G, I at
 * its queue time, D at its issue time and C at its completion time, with
 * per-CPU sequence numbers, plus process notes for known pids, a timestamp note
 * for the absolute base time and a message note marking t=0.
 *
 * Each CPU file must be in time order, while D and C come later than the next
 * requests' Q: pending D/C events wait in a min-heap until the queue times of
 * later requests pass them.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Op, type TraceSource } from '../trace/model.js';
import { BlkAction, BlkCategory, BlkNotify, BLKTRACE_MAGIC } from '../readers/blktrace.js';
import { ERR_TRACE_WRITE } from '../errors.js';
import { writeTarget } from '../util/atomic-file.js';
import { writeError } from './lines.js';
import { at, col } from '../util/at.js';

export interface BlktraceWriteOptions {
  /** Per-CPU files to spread requests over (default 2). All events of one request go to one CPU. */
  cpus?: number;
  /**
   * Requests without an issue or completion time: 'omit' leaves out the D/C
   * event (default; reading back gives NaN again), 'derive' writes D at the
   * queue time and C `derivedLatencyNs` after D.
   */
  missing?: 'omit' | 'derive';
  derivedLatencyNs?: number;
  /** Trace-clock value of t=0 (the kernel's is time since boot); default 1 s. */
  originNs?: number;
  /** Requests whose queue times fall in one slot of this length share a CPU (default 1 ms), so ties keep their order. */
  cpuSliceNs?: number;
}

export interface BlktraceWriteResult {
  files: string[];
  requests: number;
  events: number;
}

const RECORD = 48;
const ORIGIN_MESSAGE = 'ssdtune: trace origin';

function categoryOf(op: number): number {
  let c = 0;
  if (op & Op.READ) c |= BlkCategory.READ;
  if (op & Op.WRITE) c |= BlkCategory.WRITE;
  if (op & Op.DISCARD) c |= BlkCategory.DISCARD | BlkCategory.WRITE; // the kernel marks discards as writes too
  if (op & Op.FLUSH) c |= BlkCategory.FLUSH;
  if (op & Op.SYNC) c |= BlkCategory.SYNC;
  if (op & Op.META) c |= BlkCategory.META;
  if (op & Op.READAHEAD) c |= BlkCategory.AHEAD;
  if (op & Op.FUA) c |= BlkCategory.FUA;
  return c;
}

const ACT_Q = BlkAction.QUEUE | (BlkCategory.QUEUE << 16);
const ACT_G = BlkAction.GETRQ | (BlkCategory.QUEUE << 16);
const ACT_I = BlkAction.INSERT | (BlkCategory.QUEUE << 16);
const ACT_D = BlkAction.ISSUE | (BlkCategory.ISSUE << 16);
const ACT_C = BlkAction.COMPLETE | (BlkCategory.COMPLETE << 16);
const NOTE = BlkCategory.NOTIFY << 16;

/**
 * One CPU's file: a large buffer flushed with plain writes, into a temporary
 * name beside the target that is renamed only once the whole set is written,
 * or, when the target exists and is not a regular file (a symbolic link, a
 * device), into the target itself: util/atomic-file.ts's rule (writeTarget).
 * A FIFO or socket is refused: its synchronous open and writes would stop the
 * process until a reader came.
 */
class CpuFile {
  private buf = Buffer.allocUnsafe(4 << 20);
  private len = 0;
  private seq = 0;
  private fd: number;
  readonly tmp: string;
  /** Written into the target itself (writeTarget): not renamed when complete, not removed on a failure. */
  readonly inPlace: boolean;
  events = 0;

  constructor(
    readonly file: string,
    readonly cpu: number,
  ) {
    ({ file: this.tmp, inPlace: this.inPlace } = writeTarget(file));
    const st = this.inPlace ? statSync(file, { throwIfNoEntry: false }) : undefined;
    if (st?.isFIFO() || st?.isSocket())
      throw ERR_TRACE_WRITE(
        file,
        'it is a FIFO or socket; a blktrace set is one file per CPU, written synchronously: give a prefix of files (or --format mqsim -o - for one stream)',
      );
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      throw writeError(file, e);
    }
  }

  record(time: number, sector: number, bytes: number, action: number, pid: number, device: number, pdu?: Buffer, note = false): void {
    const pduLen = pdu?.length ?? 0;
    if (this.len + RECORD + pduLen > this.buf.length) this.flush();
    const b = this.buf;
    const o = this.len;
    b.writeUInt32LE(BLKTRACE_MAGIC | 7, o);
    // The kernel numbers events per CPU from 1; process/timestamp notes carry 0.
    b.writeUInt32LE(note ? 0 : ++this.seq, o + 4);
    writeU64(b, o + 8, time);
    writeU64(b, o + 16, sector);
    b.writeUInt32LE(bytes >>> 0, o + 24);
    b.writeUInt32LE(action >>> 0, o + 28);
    b.writeUInt32LE(pid >>> 0, o + 32);
    b.writeUInt32LE(device >>> 0, o + 36);
    b.writeUInt32LE(this.cpu, o + 40);
    b.writeUInt16LE(0, o + 44);
    b.writeUInt16LE(pduLen, o + 46);
    if (pdu) pdu.copy(b, o + RECORD);
    this.len += RECORD + pduLen;
    if (!note) this.events++;
  }

  flush(): void {
    let off = 0;
    try {
      while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    } catch (e) {
      throw writeError(this.file, e);
    }
    this.len = 0;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

function writeU64(b: Buffer, o: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`blktrace writer: ${v} is not a non-negative integer below 2^53`);
  b.writeUInt32LE(v % 0x100000000, o);
  b.writeUInt32LE(Math.floor(v / 0x100000000), o + 4);
}

/** A D or C event waiting for its time: [cpu, time, sector, bytes, action, pid, device]. */
type PendingEvent = [number, number, number, number, number, number, number];

/** Pending D/C events: a binary min-heap on time, ties in insertion order. */
class EventHeap {
  private items: { t: number; ord: number; ev: PendingEvent }[] = [];
  private counter = 0;
  get size(): number {
    return this.items.length;
  }
  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.items[0]?.t ?? Infinity;
  }
  private less(i: number, j: number): boolean {
    const a = at(this.items, i, 'event heap');
    const b = at(this.items, j, 'event heap');
    return a.t < b.t || (a.t === b.t && a.ord < b.ord);
  }
  private swap(i: number, j: number): void {
    const a = at(this.items, i, 'event heap');
    this.items[i] = at(this.items, j, 'event heap');
    this.items[j] = a;
  }
  push(time: number, ev: PendingEvent): void {
    let i = this.items.push({ t: time, ord: this.counter++, ev }) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** The earliest event, removed; callers check `size` first. */
  pop(): PendingEvent {
    const top = at(this.items, 0, 'event heap');
    const last = this.items.pop();
    const n = this.items.length;
    if (last && n > 0) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        let m = i;
        if (l < n && this.less(l, m)) m = l;
        if (l + 1 < n && this.less(l + 1, m)) m = l + 1;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top.ev;
  }
}

function processNote(name: string): Buffer {
  const pdu = Buffer.alloc(16); // TASK_COMM_LEN, NUL-padded
  pdu.write(name.slice(0, 15), 'latin1');
  return pdu;
}

/** Write `source` as PREFIX.blktrace.0..cpus-1. */
export async function writeBlktrace(source: TraceSource, outPrefix: string, opts: BlktraceWriteOptions = {}): Promise<BlktraceWriteResult> {
  const ncpu = Math.max(1, Math.floor(opts.cpus ?? 2));
  const origin = opts.originNs ?? 1e9;
  const derive = opts.missing === 'derive';
  const latency = opts.derivedLatencyNs ?? 100_000;
  const slice = opts.cpuSliceNs ?? 1e6;
  mkdirSync(path.dirname(path.resolve(outPrefix)), { recursive: true });
  const files: CpuFile[] = [];
  try {
    for (let c = 0; c < ncpu; c++) files.push(new CpuFile(`${outPrefix}.blktrace.${c}`, c));
    const first = at(files, 0, 'per-CPU file'); // ncpu >= 1: notes go to CPU 0's file
    /** The file of `cpu` (< ncpu: a time slice number modulo ncpu). */
    const fileOf = (cpu: number): CpuFile => at(files, cpu, 'per-CPU file');
    const heap = new EventHeap();
    const named = new Set<number>();
    let requests = 0;
    let started = false;
    let last = origin; // latest time written: notes go there to keep files in time order
    const nameNew = (time: number) => {
      for (const [pid, name] of source.meta.processes) {
        if (named.has(pid)) continue;
        named.add(pid);
        first.record(time, 0, 0, NOTE | BlkNotify.PROCESS, pid, 0, processNote(name), true);
      }
    };
    const flushUntil = (time: number) => {
      while (heap.size && heap.peekTime() <= time) {
        const [cpu, t, sector, bytes, action, pid, device] = heap.pop();
        fileOf(cpu).record(t, sector, bytes, action, pid, device);
        last = t;
      }
    };
    for await (const b of source) {
      if (!started) {
        started = true;
        // The absolute base time, then a message at t=0 so blkparse and our reader agree on the origin.
        if (source.meta.baseTimeNs > 0) {
          const base = Math.round(source.meta.baseTimeNs);
          const pdu = Buffer.alloc(8);
          pdu.writeUInt32LE(Math.floor(base / 1e9), 0);
          pdu.writeUInt32LE(base % 1e9, 4);
          first.record(origin, 0, 0, NOTE | BlkNotify.TIMESTAMP, 0, 0, pdu, true);
        }
        first.record(origin, 0, 0, NOTE | BlkNotify.MESSAGE, 0, b.device[0] ?? 0, Buffer.from(ORIGIN_MESSAGE, 'latin1'));
      }
      if (b.length) flushUntil(origin + Math.round(col(b.timeNs, 0)));
      nameNew(last);
      // every column has the batch's length
      for (const [i, t] of b.timeNs.entries()) {
        const q = origin + Math.round(t);
        flushUntil(q);
        last = q;
        const cpu = Math.floor((q - origin) / slice) % ncpu;
        const sector = col(b.sector, i);
        const bytes = col(b.bytes, i);
        const cat = categoryOf(col(b.op, i)) << 16;
        const pid = col(b.pid, i);
        const dev = col(b.device, i);
        const f = fileOf(cpu);
        f.record(q, sector, bytes, ACT_Q | cat, pid, dev);
        f.record(q, sector, bytes, ACT_G | cat, pid, dev);
        f.record(q, sector, bytes, ACT_I | cat, pid, dev);
        let d = b.issueNs ? origin + Math.round(col(b.issueNs, i)) : NaN; // NaN stays NaN
        let c = b.completeNs ? origin + Math.round(col(b.completeNs, i)) : NaN;
        if (derive && Number.isNaN(d)) d = q;
        if (derive && Number.isNaN(c)) c = d + latency;
        if (!Number.isNaN(d)) heap.push(Math.max(d, q), [cpu, Math.max(d, q), sector, bytes, ACT_D | cat, pid, dev]);
        if (!Number.isNaN(c)) heap.push(Math.max(c, d || q, q), [cpu, Math.max(c, d || q, q), sector, bytes, ACT_C | cat, 0, dev]);
        requests++;
      }
    }
    flushUntil(Infinity);
    nameNew(last);
    for (const f of files) f.close();
    for (const f of files) if (!f.inPlace) renameSync(f.tmp, f.file);
    const events = files.reduce((a, f) => a + f.events, 0);
    return { files: files.map((f) => f.file), requests, events };
  } catch (e) {
    // Nothing partial is left behind under a name that looks complete (nor under a temporary one).
    for (const f of files) {
      try {
        f.close();
      } catch {
        // already closed, or the failing flush itself
      }
      if (!f.inPlace) rmSync(f.tmp, { force: true });
    }
    throw e;
  }
}
