/** A binary min-heap of numbers in a growable Float64Array (no per-item allocation). */
import { ERR_INTERNAL_INDEX } from '../errors.js';
import { col } from '../util/at.js';
export class MinHeap {
  private a = new Float64Array(64);
  size = 0;

  peek(): number {
    return this.size ? col(this.a, 0, 'heap') : Infinity;
  }

  push(v: number): void {
    if (this.size === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = col(a, p, 'heap');
      if (parent <= v) break;
      a[i] = parent;
      i = p;
    }
    a[i] = v;
  }

  /** The smallest value, removed; callers check `size` first (popping an empty heap is a bug). */
  pop(): number {
    if (this.size === 0) throw ERR_INTERNAL_INDEX('heap', 0, 0);
    const a = this.a;
    const top = col(a, 0, 'heap');
    const last = col(a, --this.size, 'heap');
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      let child = col(a, c, 'heap');
      if (c + 1 < this.size) {
        const right = col(a, c + 1, 'heap');
        if (right < child) {
          c++;
          child = right;
        }
      }
      if (child >= last) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }
}
