/**
 * Restores arrival order for formats whose lines may be slightly out of order
 * (SNIA CSVs have 1-s timestamps written by several threads, fio logs one line
 * per completion...), and optionally rebases times to the earliest request.
 *
 * Rows are held for `windowNs` of trace time (and at most `maxPending` rows, to
 * bound memory), stably sorted in bulk when out-of-order rows were seen, then
 * emitted in time order. A row that
 * arrives later than the window allows is emitted at the last emitted time, so
 * the output stays non-decreasing; both cases are counted and reported as
 * warnings.
 */
import type { TraceBuilder, TraceMeta } from '../trace/model.js';
import { RowStore } from './row-store.js';
import { col } from '../util/at.js';

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

/** Rows appended between two sorts at least (sorting is O(n log n) per flush). */
const FLUSH_MIN = 65536;

export class ReorderBuffer {
  private rows = new RowStore();
  private maxSeen = -Infinity;
  private lastIn = -Infinity;
  private lastOut = -Infinity;
  private base = NaN;
  /** Held rows are in time order (no row arrived early since the last sort). */
  private sorted = true;
  private flushAt = FLUSH_MIN;
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
    const i = r.append();
    if (t < this.lastOut) {
      // Too late to sort in. Everything held is at or after lastOut, so the row
      // can go out now at lastOut, keeping the output monotonic.
      const shift = this.lastOut - t;
      this.clamped++;
      r.set(i, this.lastOut, sector, bytes, op, device, pid, issueNs + shift, completeNs + shift);
      r.tail--; // the slot was scratch space only
      this.emit(i);
      return;
    }
    if (t < this.lastIn) {
      this.reordered++;
      this.sorted = false;
    } else this.lastIn = t;
    r.set(i, t, sector, bytes, op, device, pid, issueNs, completeNs);
    if (t > this.maxSeen) this.maxSeen = t;
    if (r.size >= this.flushAt) this.flush(this.maxSeen - this.opts.windowNs);
  }

  /** Emit everything still held, and add warnings about what was reordered. */
  finish(): void {
    this.flush(Infinity);
    const w = this.opts.windowNs / 1e9;
    if (this.reordered) this.meta.warnings.push(`${this.reordered} requests were out of time order in the file and were sorted (window ${w} s)`);
    if (this.clamped)
      this.meta.warnings.push(
        `${this.clamped} requests were more than ${w} s out of order and were given the preceding request's time to keep the trace non-decreasing`,
      );
  }

  /** Sort what is held if needed, then emit the rows older than `limit` (and any beyond maxPending). */
  private flush(limit: number): void {
    if (!this.sorted) this.sortHeld();
    const r = this.rows;
    while (r.head < r.tail && (col(r.t, r.head, 'row') < limit || r.size > this.maxPending)) this.emit(r.head++);
    // Amortise: the rows kept are sorted again only after as many new ones arrived.
    this.flushAt = Math.max(FLUSH_MIN, 2 * r.size);
  }

  /** Stable sort of the held rows by time (arrival order breaks ties). */
  private sortHeld(): void {
    const r = this.rows;
    const idx = Array.from({ length: r.size }, (_, k) => r.head + k);
    idx.sort((a, b) => col(r.t, a, 'row') - col(r.t, b, 'row') || a - b);
    const s = new RowStore();
    for (const i of idx) s.copyRow(r, i);
    this.rows = s;
    this.sorted = true;
    this.lastIn = s.size ? col(s.t, s.tail - 1, 'row') : -Infinity;
  }

  private emit(i: number): void {
    const t = col(this.rows.t, i, 'row');
    if (Number.isNaN(this.base)) {
      this.base = this.opts.rebase ? t : 0;
      if (this.opts.rebase && this.opts.anchorEpochNs !== undefined) this.meta.baseTimeNs = this.opts.anchorEpochNs + t;
    }
    this.lastOut = t;
    this.rows.emit(i, this.out, this.base, this.opts.timing);
  }
}
