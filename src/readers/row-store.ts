/**
 * A queue of trace rows in columns (the TraceBatch columns plus issue and
 * completion times) with a moving head: readers that must hold rows back
 * before emitting them (to sort them, or to wait for their completion) keep
 * them here. Space is reused by compacting before it grows.
 */
import type { TraceBuilder } from '../trace/model.js';
import { ERR_INTERNAL_INDEX } from '../errors.js';
import { col } from '../util/at.js';

type Column = Float64Array | Uint32Array | Uint16Array;

export class RowStore {
  private cap = 4096;
  /** First held row. */
  head = 0;
  /** One past the last held row. */
  tail = 0;
  t = new Float64Array(this.cap);
  s = new Float64Array(this.cap);
  by = new Uint32Array(this.cap);
  o = new Uint16Array(this.cap);
  d = new Uint32Array(this.cap);
  p = new Uint32Array(this.cap);
  iss = new Float64Array(this.cap);
  cmp = new Float64Array(this.cap);

  get size(): number {
    return this.tail - this.head;
  }

  /** Index of a new row at the tail; indices of held rows may shift down by `head` first. */
  append(): number {
    if (this.tail === this.cap) this.makeRoom();
    return this.tail++;
  }

  set(i: number, t: number, sector: number, bytes: number, op: number, device: number, pid: number, issueNs: number, completeNs: number): void {
    this.t[i] = t;
    this.s[i] = sector;
    this.by[i] = bytes;
    this.o[i] = op;
    this.d[i] = device;
    this.p[i] = pid;
    this.iss[i] = issueNs;
    this.cmp[i] = completeNs;
  }

  /** Append row i of `from` at the tail. */
  copyRow(from: RowStore, i: number): void {
    const j = this.append();
    for (const k of ['t', 's', 'by', 'o', 'd', 'p', 'iss', 'cmp'] as const) this[k][j] = col(from[k], i, 'row');
  }

  /** Push row i to `out` with times moved by -base; timing columns only when `timing`. */
  emit(i: number, out: TraceBuilder, base: number, timing: boolean): void {
    // One check for the row: every column has `cap` entries, and held rows are below tail <= cap.
    if (!(i >= 0 && i < this.tail)) throw ERR_INTERNAL_INDEX('row store', i, this.tail);
    const t = this.t[i]! - base;
    if (timing) out.push(t, this.s[i]!, this.by[i]!, this.o[i]!, this.d[i]!, this.p[i]!, this.iss[i]! - base, this.cmp[i]! - base);
    else out.push(t, this.s[i]!, this.by[i]!, this.o[i]!, this.d[i]!, this.p[i]!);
  }

  private columns(): Column[] {
    return [this.t, this.s, this.by, this.o, this.d, this.p, this.iss, this.cmp];
  }

  private makeRoom(): void {
    const live = this.size;
    if (this.head >= this.cap >> 1) {
      for (const a of this.columns()) a.copyWithin(0, this.head, this.tail);
    } else {
      this.cap *= 2;
      const grow = <T extends Column>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(this.cap);
        b.set(a.subarray(this.head, this.tail) as never);
        return b;
      };
      [this.t, this.s, this.iss, this.cmp] = [grow(this.t), grow(this.s), grow(this.iss), grow(this.cmp)];
      [this.by, this.d, this.p] = [grow(this.by), grow(this.d), grow(this.p)];
      this.o = grow(this.o);
    }
    this.head = 0;
    this.tail = live;
  }
}
