/**
 * Restores arrival order for formats whose lines may be slightly out of order
 * (SNIA CSVs have 1-s timestamps written by several threads, fio logs one line
 * per completion...), and optionally rebases times to the earliest request.
 *
 * Rows are held for `windowNs` of trace time (and at most `maxPending` rows, to
 * bound memory), sorted on insertion, then emitted in time order. A row that
 * arrives later than the window allows is emitted at the last emitted time, so
 * the output stays non-decreasing; both cases are counted and reported as
 * warnings.
 */
import type { TraceBuilder, TraceMeta } from '../trace/model.js';
import { RowStore } from './row-store.js';

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
  private rows = new RowStore();
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
  }

  push(t: number, sector: number, bytes: number, op: number, device: number, pid: number, issueNs = NaN, completeNs = NaN): void {
    const r = this.rows;
    if (t < this.lastOut) {
      // Too late to sort in. Everything held is at or after lastOut, so the row
      // can go out now at lastOut, keeping the output monotonic.
      const shift = this.lastOut - t;
      this.clamped++;
      const i = r.append();
      r.set(i, this.lastOut, sector, bytes, op, device, pid, issueNs + shift, completeNs + shift);
      r.tail--; // used as scratch only
      this.emit(i);
      return;
    }
    let i = r.append();
    if (i > r.head && r.t[i - 1] > t) {
      // Out of order: find the first held row later than t (binary search), shift the rest up.
      this.reordered++;
      let lo = r.head;
      let hi = i - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (r.t[mid] > t) hi = mid;
        else lo = mid + 1;
      }
      r.shiftUp(lo, i);
      i = lo;
    }
    r.set(i, t, sector, bytes, op, device, pid, issueNs, completeNs);
    if (t > this.maxSeen) this.maxSeen = t;
    const limit = this.maxSeen - this.opts.windowNs;
    while (r.head < r.tail && (r.t[r.head] < limit || r.size > this.maxPending)) this.emit(r.head++);
  }

  /** Emit everything still held, and add warnings about what was reordered. */
  finish(): void {
    const r = this.rows;
    while (r.head < r.tail) this.emit(r.head++);
    const w = this.opts.windowNs / 1e9;
    if (this.reordered) this.meta.warnings.push(`${this.reordered} requests were out of time order in the file and were sorted (window ${w} s)`);
    if (this.clamped)
      this.meta.warnings.push(`${this.clamped} requests were more than ${w} s out of order and were given the preceding request's time to keep the trace non-decreasing`);
  }

  private emit(i: number): void {
    const t = this.rows.t[i];
    if (Number.isNaN(this.base)) {
      this.base = this.opts.rebase ? t : 0;
      if (this.opts.rebase && this.opts.anchorEpochNs !== undefined) this.meta.baseTimeNs = this.opts.anchorEpochNs + t;
    }
    this.lastOut = t;
    this.rows.emit(i, this.out, this.base, this.opts.timing);
  }
}
