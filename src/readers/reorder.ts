/**
 * Restores arrival order for formats whose lines may be slightly out of order
 * (SNIA CSVs have 1-s timestamps written by several threads, fio logs one line
 * per completion...), and optionally rebases times to the earliest request.
 *
 * Rows are held for `windowNs` of trace time (and at most `maxPending` rows, to
 * bound memory), sorted by insertion, then emitted in time order. A row that
 * arrives later than the window allows is emitted at the last emitted time, so
 * the output stays non-decreasing; both cases are counted and reported as
 * warnings.
 */
import type { TraceBuilder, TraceMeta } from '../trace/model.js';

export interface ReorderOptions {
  windowNs: number;
  timing: boolean;
  /**
   * Rebase times so the earliest request is at 0. `anchorEpochNs` is the epoch
   * time of the caller's time origin (times pushed are relative to it); when
   * given, meta.baseTimeNs becomes the epoch time of the earliest request.
   */
  rebase: boolean;
  anchorEpochNs?: number;
  maxPending?: number;
}

export class ReorderBuffer {
  private cap = 4096;
  private head = 0;
  private tail = 0;
  private t = new Float64Array(this.cap);
  private s = new Float64Array(this.cap);
  private by = new Uint32Array(this.cap);
  private o = new Uint16Array(this.cap);
  private d = new Uint32Array(this.cap);
  private p = new Uint32Array(this.cap);
  private iss?: Float64Array;
  private cmp?: Float64Array;
  private maxSeen = -Infinity;
  private lastOut = -Infinity;
  private base = NaN;
  private readonly maxPending: number;
  /** Rows that arrived before an earlier-timestamped row and were moved. */
  reordered = 0;
  /** Rows that arrived too late to be placed and were given the last emitted time. */
  clamped = 0;

  constructor(
    private readonly out: TraceBuilder,
    private readonly meta: TraceMeta,
    private readonly opts: ReorderOptions,
  ) {
    this.maxPending = opts.maxPending ?? 1 << 20;
    if (opts.timing) {
      this.iss = new Float64Array(this.cap);
      this.cmp = new Float64Array(this.cap);
    }
  }

  push(t: number, sector: number, bytes: number, op: number, device: number, pid: number, issueNs = NaN, completeNs = NaN): void {
    if (t < this.lastOut) {
      // Too late to sort in. Everything held is at or after lastOut, so the row
      // can go out now at lastOut, keeping the output monotonic.
      const shift = this.lastOut - t;
      this.clamped++;
      this.emitRow(this.lastOut, sector, bytes, op, device, pid, issueNs + shift, completeNs + shift);
      return;
    }
    if (this.tail === this.cap) this.makeRoom();
    let i = this.tail++;
    if (i > this.head && this.t[i - 1] > t) {
      // Out of order: find the first held row later than t (binary search), shift the rest.
      this.reordered++;
      let lo = this.head;
      let hi = i - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.t[mid] > t) hi = mid;
        else lo = mid + 1;
      }
      for (const a of this.columns()) a.copyWithin(lo + 1, lo, i);
      i = lo;
    }
    this.t[i] = t;
    this.s[i] = sector;
    this.by[i] = bytes;
    this.o[i] = op;
    this.d[i] = device;
    this.p[i] = pid;
    if (this.iss) {
      this.iss[i] = issueNs;
      this.cmp![i] = completeNs;
    }
    if (t > this.maxSeen) this.maxSeen = t;
    const limit = this.maxSeen - this.opts.windowNs;
    while (this.head < this.tail && (this.t[this.head] < limit || this.tail - this.head > this.maxPending)) this.emit(this.head++);
  }

  /** Emit everything still held, and add warnings about what was reordered. */
  finish(): void {
    while (this.head < this.tail) this.emit(this.head++);
    const w = this.opts.windowNs / 1e9;
    if (this.reordered) this.meta.warnings.push(`${this.reordered} requests were out of time order in the file and were sorted (window ${w} s)`);
    if (this.clamped)
      this.meta.warnings.push(`${this.clamped} requests were more than ${w} s out of order and were given the preceding request's time to keep the trace non-decreasing`);
  }

  private emit(i: number): void {
    this.emitRow(this.t[i], this.s[i], this.by[i], this.o[i], this.d[i], this.p[i], this.iss ? this.iss[i] : NaN, this.cmp ? this.cmp[i] : NaN);
  }

  private emitRow(t: number, sector: number, bytes: number, op: number, device: number, pid: number, issueNs: number, completeNs: number): void {
    if (Number.isNaN(this.base)) {
      this.base = this.opts.rebase ? t : 0;
      if (this.opts.rebase && this.opts.anchorEpochNs !== undefined) this.meta.baseTimeNs = this.opts.anchorEpochNs + t;
    }
    this.lastOut = t;
    const b = this.base;
    if (this.iss) this.out.push(t - b, sector, bytes, op, device, pid, issueNs - b, completeNs - b);
    else this.out.push(t - b, sector, bytes, op, device, pid);
  }

  private columns(): (Float64Array | Uint32Array | Uint16Array)[] {
    const c: (Float64Array | Uint32Array | Uint16Array)[] = [this.t, this.s, this.by, this.o, this.d, this.p];
    if (this.iss) c.push(this.iss, this.cmp!);
    return c;
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    if (this.head >= this.cap >> 1) {
      for (const a of this.columns()) a.copyWithin(0, this.head, this.tail);
    } else {
      this.cap *= 2;
      const grow = <T extends Float64Array | Uint32Array | Uint16Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(this.cap);
        b.set(a.subarray(this.head, this.tail) as never);
        return b;
      };
      this.t = grow(this.t);
      this.s = grow(this.s);
      this.by = grow(this.by);
      this.o = grow(this.o);
      this.d = grow(this.d);
      this.p = grow(this.p);
      if (this.iss) {
        this.iss = grow(this.iss);
        this.cmp = grow(this.cmp!);
      }
    }
    this.head = 0;
    this.tail = live;
  }
}
