/**
 * Encoding configurations as points in [0,1]^d for the Gaussian process, and
 * the Manhattan distance the search's exploitation factor uses.
 *
 * int (linear) and ordinal: level index / (levels - 1), so one step is the
 * same size everywhere (ordinal lists are usually powers of two, where the
 * index is already the log). int with `log`: log-scaled position. bool: 0/1.
 * categorical: one-hot, because its values have no order a kernel could use.
 */
import { ERR_CONFIG_INVALID } from '../errors.js';
import { levelCount, requireIndex, valueAt } from './params.js';
import type { ConfigSpace, Configuration, ParamSpec } from './types.js';

function numericPosition(p: ParamSpec, index: number): number {
  const n = levelCount(p);
  if (n <= 1) return 0;
  if (p.kind === 'int' && p.log) {
    const v = valueAt(p, index) as number;
    return Math.log(v / p.min) / Math.log(p.max / p.min);
  }
  return index / (n - 1);
}

export class Encoder {
  /** Length of an encoded vector. */
  readonly dims: number;
  /** First encoded dimension of each parameter. */
  readonly offsets: readonly number[];
  /** Parameter index owning each encoded dimension. */
  readonly owner: readonly number[];

  constructor(readonly space: ConfigSpace) {
    const offsets: number[] = [];
    const owner: number[] = [];
    space.params.forEach((p, pi) => {
      offsets.push(owner.length);
      const width = p.kind === 'categorical' ? p.values.length : 1;
      for (let k = 0; k < width; k++) owner.push(pi);
    });
    this.offsets = offsets;
    this.owner = owner;
    this.dims = owner.length;
  }

  encodeInto(c: Configuration, out: Float64Array, at = 0): void {
    const ps = this.space.params;
    for (let pi = 0; pi < ps.length; pi++) {
      const p = ps[pi]!;
      const i = requireIndex(this.space, p, c[p.name]);
      const o = at + this.offsets[pi]!;
      if (p.kind === 'categorical') {
        for (let k = 0; k < p.values.length; k++) out[o + k] = k === i ? 1 : 0;
      } else {
        out[o] = numericPosition(p, i);
      }
    }
  }

  encode(c: Configuration): Float64Array {
    const out = new Float64Array(this.dims);
    this.encodeInto(c, out);
    return out;
  }

  /** Row-major n x dims matrix of many configurations. */
  encodeAll(cs: readonly Configuration[]): Float64Array {
    const out = new Float64Array(cs.length * this.dims);
    cs.forEach((c, r) => this.encodeInto(c, out, r * this.dims));
    return out;
  }

  /** The configuration whose encoding is nearest to `x` (each parameter rounded to its nearest level). */
  decode(x: ArrayLike<number>): Configuration {
    if (x.length !== this.dims) throw ERR_CONFIG_INVALID(this.space.name, '(encoded vector)', `length ${x.length}, expected ${this.dims}`);
    const c: Configuration = {};
    this.space.params.forEach((p, pi) => {
      const o = this.offsets[pi]!;
      let best = 0;
      if (p.kind === 'categorical') {
        for (let k = 1; k < p.values.length; k++) if (x[o + k]! > x[o + best]!) best = k;
      } else {
        // Positions grow with the index: binary search for the first level at or above x, then take the nearer neighbour.
        const t = x[o]!;
        let lo = 0;
        let hi = levelCount(p) - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (numericPosition(p, mid) < t) lo = mid + 1;
          else hi = mid;
        }
        best = lo > 0 && Math.abs(numericPosition(p, lo - 1) - t) <= Math.abs(numericPosition(p, lo) - t) ? lo - 1 : lo;
      }
      c[p.name] = valueAt(p, best);
    });
    return c;
  }

  /**
   * Manhattan distance between two encoded points, counting a change of a
   * categorical parameter as 1 (its one-hot difference sums to 2), so that
   * moving any one parameter across its whole range costs the same.
   */
  distance(a: ArrayLike<number>, b: ArrayLike<number>, aAt = 0, bAt = 0): number {
    let s = 0;
    for (let d = 0; d < this.dims; d++) {
      const w = this.space.params[this.owner[d]!]!.kind === 'categorical' ? 0.5 : 1;
      s += w * Math.abs(a[aAt + d]! - b[bAt + d]!);
    }
    return s;
  }
}
