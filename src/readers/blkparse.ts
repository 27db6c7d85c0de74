/**
 * blkparse default text output:
 *   8,16   5        2     0.000001850 18615  Q   R 1444645666 + 256 [java]
 *   dev    cpu    seq     time(s.ns)   pid  act rwbs sector + sectors [comm]
 *
 * Every queued bio (Q) becomes one request. Its later events are found by
 * device and sector: G/I open a block-layer request, M (back merge) and F
 * (front merge) add a bio to an open request, D (issue) and C (complete) close
 * it, so merged bios share the issue and completion time of the request that
 * carried them. A (remap) links a bio from an upper device (e.g. device-mapper)
 * that is itself in the trace to the bio queued below, so it is counted once
 * (on the upper device, with the lower device's issue and completion times);
 * X (split) makes both halves complete the original bio. Requests are emitted
 * in Q order once completed (or after STALE_NS without completion, counted as
 * unpaired). CFQ/BFQ messages (`m`), plug/unplug and the trailing per-CPU
 * summary are ignored. Times are blkparse's own, relative to the trace start.
 */
import { Op, SECTOR_BYTES, type TraceBuilder, type TraceMeta } from '../trace/model.js';
import { LineError, openLineFormat, sectorOf, timeNsOf } from './line-reader.js';
import { field, fractionMatching, headLines, isDigits, splitWs } from './text.js';
import { RowStore } from './row-store.js';
import type { TraceFormat } from './types.js';
import { col } from '../util/at.js';

/** The statistics blkparse prints after the events ("CPU0 (sda):", "Total (8,16):"). */
const SUMMARY = /^\s*(CPU\d+|Total) \([^)]*\):/;

/** A request never completed within this much trace time is emitted without completion. */
const STALE_NS = 60e9;
const MAX_PENDING = 1 << 20;

/** "8,16" -> Linux dev_t in the model's `major << 20 | minor` form, or -1. */
function parseDev(s: string): number {
  const comma = s.indexOf(',');
  if (comma <= 0) return -1;
  const maj = s.slice(0, comma);
  const min = s.slice(comma + 1);
  if (!isDigits(maj) || !isDigits(min)) return -1;
  const ma = Number(maj);
  const mi = Number(min);
  // The kernel's dev_t: 12-bit major, 20-bit minor. Beyond, the packed number would wrap.
  if (ma > 4095 || mi > 1048575) return -2;
  return ma * 1048576 + mi;
}

/** "12.000001850" (blkparse's %T.%t) -> ns, or NaN. */
export function parseTime(s: string): number {
  const dot = s.indexOf('.');
  if (dot <= 0) return NaN;
  const sec = s.slice(0, dot);
  const frac = s.slice(dot + 1);
  if (!isDigits(sec) || !isDigits(frac) || frac.length > 9) return NaN;
  return Number(sec) * 1e9 + Number(frac) * 10 ** (9 - frac.length);
}

/**
 * RWBS as blkparse prints it: optional leading F (preflush), then D/W/R/N
 * (discard/write/read/none; E secure erase on old kernels), then F (FUA),
 * A (readahead), S (sync), M (metadata), B (barrier, old kernels).
 */
export function decodeRwbs(s: string): number {
  let op = 0;
  let i = 0;
  if (s.length > 1 && s[0] === 'F') {
    op |= Op.FLUSH;
    i = 1;
  }
  switch (s[i]) {
    case 'D':
    case 'E':
      op |= Op.DISCARD;
      break;
    case 'W':
      op |= Op.WRITE;
      break;
    case 'R':
      op |= Op.READ;
      break;
    case 'F': // a lone "F": an empty flush
      op |= Op.FLUSH;
      break;
  }
  for (i++; i < s.length; i++) {
    const c = s[i];
    if (c === 'F') op |= Op.FUA;
    else if (c === 'A') op |= Op.READAHEAD;
    else if (c === 'S') op |= Op.SYNC;
    else if (c === 'M') op |= Op.META;
    else if (c === 'B') op |= Op.FLUSH;
  }
  return op;
}

interface Group {
  start: number;
  end: number;
  members: number[];
}

/** Per-device pairing state; ids are request ids (see Pending). */
class DevState {
  /** Q'd bios not yet in a request, by start sector. */
  queued = new Map<number, number>();
  byStart = new Map<number, Group>();
  byEnd = new Map<number, Group>();
  /** Bios remapped from an upper device in the trace, by their sector here. */
  remapped = new Map<number, number>();
  /** Sectors of bios remapped to a lower device in the trace, whose completion here is ignored. */
  forwarded = new Set<number>();
  /** Sector-less requests (empty flushes) in arrival order. */
  flushWaiting: number[] = [];
  flushInFlight: number[] = [];
}

/**
 * Requests in Q order, waiting for their completion before being emitted.
 * Requests are named by ids that count up from 0; the maps hold ids, and an
 * id below `head` belongs to a request already emitted.
 */
class Pending {
  readonly rows = new RowStore();
  /** next id to emit */
  head = 0;
  /** next id to allocate */
  next = 0;

  live(id: number | undefined): id is number {
    return id !== undefined && id >= this.head && id < this.next;
  }

  slot(id: number): number {
    return this.rows.head + (id - this.head);
  }

  add(t: number, sector: number, bytes: number, op: number, dev: number, pid: number): number {
    this.rows.set(this.rows.append(), t, sector, bytes, op, dev, pid, NaN, NaN);
    return this.next++;
  }

  /** Drop the head request (after emitting it). */
  shift(): void {
    this.rows.head++;
    this.head++;
  }
}

class BlkparsePairer {
  private devs = new Map<number, DevState>();
  private lastDevNo = -1;
  private lastDev!: DevState;
  private pend = new Pending();
  private lastOut = -Infinity;
  private now = 0;
  private summary = false;
  private unpaired = 0;
  private clamped = 0;
  private orphans = 0;
  private passthrough = 0;
  private nextSweep = 65536;
  private f: string[] = [];

  constructor(
    private readonly out: TraceBuilder,
    private readonly meta: TraceMeta,
  ) {}

  private lastDevStr = '';
  private lastDevStrNo = -1;

  private dev(no: number): DevState {
    if (no === this.lastDevNo) return this.lastDev;
    let st = this.devs.get(no);
    if (!st) this.devs.set(no, (st = new DevState()));
    this.lastDevNo = no;
    this.lastDev = st;
    return st;
  }

  /** Returns true when the line queued a new request. */
  line(line: string): boolean {
    const f = this.f;
    // f is reused from line to line: only fields below n are this line's, and those are strings.
    const n = splitWs(line, f);
    if (n === 0) return false;
    const dev = field(f, 0);
    // Most lines name the same device as the one before: skip re-parsing it.
    const devNo = dev === this.lastDevStr ? this.lastDevStrNo : parseDev(dev);
    if (devNo === -2) throw new LineError('device: maj,min with a major below 4096 and a minor below 2^20 (a dev_t)');
    if (devNo < 0) {
      // blkparse ends with per-CPU and total statistics ("CPU0 (8,16):", " Reads Queued: ...").
      if (SUMMARY.test(line)) this.summary = true;
      if (this.summary) return false;
      throw new LineError('a blkparse event "maj,min cpu seq sec.nsec pid action rwbs ..."');
    }
    if (n < 7) throw new LineError('at least 7 fields: dev cpu seq time pid action rwbs');
    const act = field(f, 5);
    // P, U, UT, T, S, R, B, m (scheduler messages) ... carry no request: not even parsed.
    if (act.length !== 1 || 'QGIDCMFAX'.indexOf(act) < 0) return false;
    const t = parseTime(field(f, 3));
    if (Number.isNaN(t)) throw new LineError('time: seconds.nanoseconds');
    timeNsOf(t, 'time');
    if (!isDigits(f[4]) || Number(f[4]) > 0xffffffff) throw new LineError('pid: an integer below 2^32');
    this.lastDevStr = dev;
    this.lastDevStrNo = devNo;
    if (n < 8) throw new LineError(`a sector or [comm] after the RWBS of a ${act} event`);
    if (t > this.now) this.now = t;
    let queued = false;
    if (field(f, 7)[0] === '(')
      this.passthrough++; // SCSI passthrough: "(cdb) [comm]", no sector
    else queued = this.event(act, t, devNo, f, n, line);
    this.drain();
    return queued;
  }

  private event(act: string, t: number, devNo: number, f: string[], n: number, line: string): boolean {
    const st = this.dev(devNo);
    const pend = this.pend;
    let sector = -1;
    let sectors = 0;
    const first = field(f, 7); // n >= 8 (line())
    if (first[0] !== '[') {
      if (!isDigits(first)) throw new LineError('"sector + sectors" after the RWBS field');
      sector = sectorOf(Number(first), 'sector');
      if (n >= 10 && f[8] === '+' && isDigits(f[9])) {
        sectors = Number(f[9]);
        if (sectors * SECTOR_BYTES > 0xffffffff) throw new LineError('sectors: a request size below 4 GiB');
      } else if (act === 'X' && n >= 10 && f[8] === '/' && isDigits(f[9])) {
        // split: "X W 1000 / 1256 [comm]": the tail half completes the same bio
        const id = st.queued.get(sector);
        if (pend.live(id)) st.queued.set(Number(f[9]), id);
        return false;
      } else if (n === 8 || field(f, 8)[0] === '[') {
        // "C WS 1950885322 [0]": the empty post-flush of a barrier request already completed
        if (act === 'C' && !st.byStart.has(sector) && !st.queued.has(sector)) return false;
      } else throw new LineError('"sector + sectors" after the RWBS field');
    }
    switch (act) {
      case 'Q': {
        const pid = Number(f[4]);
        if (pid !== 0) {
          const open = line.indexOf('['); // no earlier field contains '['
          const close = line.lastIndexOf(']');
          if (open >= 0 && close > open) {
            const comm = line.slice(open + 1, close);
            if (this.meta.processes.get(pid) !== comm) this.meta.processes.set(pid, comm);
          }
        }
        if (sector < 0) {
          st.flushWaiting.push(pend.add(t, 0, 0, decodeRwbs(field(f, 6)), devNo, pid));
          return true;
        }
        const up = st.remapped.get(sector);
        if (up !== undefined) {
          st.remapped.delete(sector);
          if (pend.live(up)) {
            st.queued.set(sector, up);
            return false;
          }
        }
        st.queued.set(sector, pend.add(t, sector, sectors * SECTOR_BYTES, decodeRwbs(field(f, 6)), devNo, pid));
        return true;
      }
      case 'A': {
        // "A W 3428327194 + 8 <- (8,17) 3428327160"
        if (sector < 0 || n < 13 || f[10] !== '<-') throw new LineError('a remap "sector + sectors <- (maj,min) from_sector"');
        const from = this.devs.get(parseDev(field(f, 11).slice(1, -1)));
        const fromSector = Number(f[12]);
        const id = from?.queued.get(fromSector);
        if (from && pend.live(id)) {
          // The bio continues below: its request's events there give issue and completion,
          // and the upper device's own completion of it is expected and ignored.
          st.remapped.set(sector, id);
          from.queued.delete(fromSector);
          from.forwarded.add(fromSector);
        }
        return false;
      }
      case 'G':
      case 'I':
        if (sector >= 0 && !st.byStart.has(sector)) this.openGroup(st, sector, sectors);
        return false;
      case 'M':
      case 'F': {
        if (sector < 0) return false;
        const id = st.queued.get(sector);
        st.queued.delete(sector);
        const g = act === 'M' ? st.byEnd.get(sector) : st.byStart.get(sector + sectors);
        if (!g) {
          this.orphans++;
          return false;
        }
        if (pend.live(id)) g.members.push(id);
        if (act === 'M') {
          st.byEnd.delete(g.end);
          g.end = sector + sectors;
          st.byEnd.set(g.end, g);
        } else {
          st.byStart.delete(g.start);
          g.start = sector;
          st.byStart.set(g.start, g);
        }
        return false;
      }
      case 'D': {
        if (sector < 0) {
          const id = st.flushWaiting.shift();
          if (pend.live(id)) {
            pend.rows.iss[pend.slot(id)] = t;
            st.flushInFlight.push(id);
          }
          return false;
        }
        const g = st.byStart.get(sector) ?? this.openGroup(st, sector, sectors);
        this.absorb(st, g, sector + sectors);
        for (const id of g.members) if (pend.live(id)) pend.rows.iss[pend.slot(id)] = t;
        if (g.members.length === 0) this.orphans++;
        return false;
      }
      case 'C': {
        if (sector < 0) {
          const id = st.flushInFlight.shift() ?? st.flushWaiting.shift();
          if (pend.live(id)) pend.rows.cmp[pend.slot(id)] = t;
          return false;
        }
        if (st.forwarded.delete(sector)) return false;
        const g = st.byStart.get(sector);
        if (!g) {
          // bio-based drivers (device-mapper, md) complete the bio itself: Q then C.
          const id = st.queued.get(sector);
          if (pend.live(id)) {
            st.queued.delete(sector);
            pend.rows.cmp[pend.slot(id)] = t;
          } else this.orphans++;
          return false;
        }
        this.absorb(st, g, sector + sectors);
        st.byStart.delete(g.start);
        if (st.byEnd.get(g.end) === g) st.byEnd.delete(g.end);
        for (const id of g.members) if (pend.live(id)) pend.rows.cmp[pend.slot(id)] = t;
        return false;
      }
    }
    return false;
  }

  private openGroup(st: DevState, sector: number, sectors: number): Group {
    const g: Group = { start: sector, end: sector + sectors, members: [] };
    const id = st.queued.get(sector);
    if (this.pend.live(id)) {
      g.members.push(id);
      st.queued.delete(sector);
    }
    st.byStart.set(sector, g);
    st.byEnd.set(g.end, g);
    return g;
  }

  /**
   * The elevator merges whole requests without an event of its own: a D or C
   * larger than the request we know takes in the requests that follow it.
   */
  private absorb(st: DevState, g: Group, end: number): void {
    while (g.end < end) {
      const h = st.byStart.get(g.end);
      if (!h || h === g) break;
      st.byStart.delete(h.start);
      if (st.byEnd.get(g.end) === g) st.byEnd.delete(g.end);
      for (const id of h.members) g.members.push(id);
      g.end = h.end;
      st.byEnd.set(g.end, g);
    }
  }

  /** Emit requests, in Q order, that are complete or too old to wait for. */
  private drain(): void {
    const pend = this.pend;
    const r = pend.rows;
    const stale = this.now - STALE_NS;
    while (pend.head < pend.next) {
      const i = r.head;
      if (Number.isNaN(r.cmp[i]) && col(r.t, i, 'pending') >= stale && pend.next - pend.head <= MAX_PENDING) break;
      this.emit(i);
      pend.shift();
    }
    if (pend.head >= this.nextSweep) {
      this.sweep();
      this.nextSweep = pend.head + 65536;
    }
  }

  private emit(i: number): void {
    const r = this.pend.rows;
    const t = col(r.t, i, 'pending');
    if (t < this.lastOut) {
      r.t[i] = this.lastOut;
      this.clamped++;
    } else this.lastOut = t;
    if (Number.isNaN(r.cmp[i])) this.unpaired++;
    r.emit(i, this.out, 0, true);
  }

  /** Forget map entries of requests already emitted (never completed ones). */
  private sweep(): void {
    const dead = (id: number): boolean => !this.pend.live(id);
    for (const st of this.devs.values()) {
      for (const [k, id] of st.queued) if (dead(id)) st.queued.delete(k);
      for (const [k, id] of st.remapped) if (dead(id)) st.remapped.delete(k);
      if (st.forwarded.size > 65536) st.forwarded.clear(); // completions lost with the trace
      for (const [k, g] of st.byStart) {
        if (g.members.length > 0 && g.members.every(dead)) {
          st.byStart.delete(k);
          if (st.byEnd.get(g.end) === g) st.byEnd.delete(g.end);
        }
      }
      st.flushWaiting = st.flushWaiting.filter((id) => !dead(id));
      st.flushInFlight = st.flushInFlight.filter((id) => !dead(id));
    }
  }

  finish(): void {
    const pend = this.pend;
    while (pend.head < pend.next) {
      this.emit(pend.rows.head);
      pend.shift();
    }
    const w = this.meta.warnings;
    if (this.unpaired) w.push(`${this.unpaired} queued requests have no completion event (trace cut short or events lost)`);
    if (this.orphans) w.push(`${this.orphans} merge/issue/complete events matched no queued request (trace started mid-flight or events lost)`);
    if (this.passthrough) w.push(`${this.passthrough} SCSI passthrough events (no sector) ignored`);
    if (this.clamped) w.push(`${this.clamped} requests were queued out of time order and were given the preceding request's time`);
  }
}

const EVENT = /^\s*\d+,\d+\s+\d+\s+\d+\s+\d+\.\d{9}\s+\d+\s+[A-Za-z]{1,2}\s+\S+/;

export const blkparseFormat: TraceFormat = {
  name: 'blkparse',
  description: 'blkparse default text output: "maj,min cpu seq sec.nsec pid action rwbs sector + sectors [comm]"',
  sniff(head) {
    const lines = headLines(head);
    if (!lines?.length || !EVENT.test(lines[0] ?? '')) return 0;
    const end = lines.findIndex((l) => SUMMARY.test(l));
    return fractionMatching(end < 0 ? lines : lines.slice(0, end), (l) => EVENT.test(l)) >= 0.8 ? 0.95 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'blkparse', opts, () => {
      let pairer: BlkparsePairer | undefined;
      return {
        timing: true,
        parse(line, b, meta) {
          pairer ??= new BlkparsePairer(b, meta);
          return pairer.line(line);
        },
        finish() {
          pairer?.finish();
        },
      };
    });
  },
};
