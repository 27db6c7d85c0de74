/**
 * Counting distinct (device, block) keys in bounded memory, for the working
 * set (unique 4 KiB blocks touched).
 *
 * `BlockSet` is exact (an open-addressing hash table) until it holds
 * `exactLimit` keys (default 2^20 blocks = 4 GiB of data, ~24 MiB of table),
 * then it pours its keys into a HyperLogLog and drops the table. HyperLogLog
 * with 2^14 registers has a standard error of 1.04/sqrt(2^14) = 0.81% and a
 * fixed 16 KiB footprint whatever the trace length.
 */
import { col } from '../util/at.js';

const HLL_P = 14;
const HLL_M = 1 << HLL_P;
export const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(HLL_M);

/** murmur3's 32-bit finaliser: a cheap full-avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Keys are hashed in two steps: a per-(device, high 32 bits of block) salt,
 * computed once per request range, then one finaliser over the low 32 bits
 * xor the salt. `base` feeds the table slot and the HLL register index; a
 * second finaliser of it gives the HLL rank (46 hash bits in all).
 */
function salt(dev: number, hi: number): number {
  return fmix32(Math.imul(dev + 1, 0x165667b1) ^ Math.imul(hi + 0x9e3779b9, 0x27d4eb2f));
}

function slot(dev: number, block: number): number {
  return fmix32((block >>> 0) ^ salt(dev, Math.floor(block / 4294967296)));
}

export class HyperLogLog {
  private readonly reg = new Uint8Array(HLL_M);

  /** Add blocks first..first+n-1 of device `dev`. */
  addRange(dev: number, first: number, n: number): void {
    const reg = this.reg;
    let hi = Math.floor(first / 4294967296);
    let s = salt(dev, hi);
    for (let i = 0; i < n; i++) {
      const block = first + i;
      const lo = block >>> 0;
      if (lo === 0 && i > 0) s = salt(dev, ++hi);
      const base = fmix32(lo ^ s);
      const idx = base >>> (32 - HLL_P);
      // rank from a second finaliser: 14 index + 32 rank bits, so no
      // large-range correction is needed for any realistic cardinality.
      const rank = Math.clz32(fmix32(base ^ 0x5bd1e995)) + 1;
      if (rank > col(reg, idx, 'HLL register')) reg[idx] = rank;
    }
  }

  estimate(): number {
    let sum = 0;
    let zeros = 0;
    for (const r of this.reg) {
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / HLL_M);
    const raw = (alpha * HLL_M * HLL_M) / sum;
    // small-range correction (linear counting) as in Flajolet et al.
    if (raw <= 2.5 * HLL_M && zeros > 0) return HLL_M * Math.log(HLL_M / zeros);
    return raw;
  }
}

export class BlockSet {
  private keysBlock: Float64Array | null;
  /** dev + 1; 0 marks an empty slot. */
  private keysDev: Uint32Array | null;
  private size = 0;
  private hll: HyperLogLog | null = null;

  constructor(private readonly exactLimit = 1 << 20) {
    this.keysBlock = new Float64Array(1 << 12);
    this.keysDev = new Uint32Array(1 << 12);
  }

  get isExact(): boolean {
    return this.hll === null;
  }

  /** Distinct keys (exact, or the HyperLogLog estimate). */
  get count(): number {
    return this.hll ? Math.round(this.hll.estimate()) : this.size;
  }

  /** Add blocks first..first+n-1 of device `dev` (a small dense id). */
  addRange(dev: number, first: number, n: number): void {
    if (this.hll) {
      this.hll.addRange(dev, first, n);
      return;
    }
    for (let i = 0; i < n; i++) {
      // insert() may switch to HyperLogLog part-way through a range
      if (this.insert(dev, first + i)) {
        this.hll!.addRange(dev, first + i + 1, n - i - 1);
        return;
      }
    }
  }

  /** Returns true when this insertion switched the set to HyperLogLog. */
  private insert(dev: number, block: number): boolean {
    const kb = this.keysBlock!;
    const kd = this.keysDev!;
    const mask = kb.length - 1;
    const tag = dev + 1;
    let i = slot(dev, block) & mask;
    for (;;) {
      const d = kd[i];
      if (d === 0) break;
      if (d === tag && kb[i] === block) return false;
      i = (i + 1) & mask;
    }
    kb[i] = block;
    kd[i] = tag;
    this.size++;
    if (this.size > this.exactLimit) {
      this.toHll();
      return true;
    }
    if (this.size * 2 > kb.length) this.grow();
    return false;
  }

  private grow(): void {
    const ob = this.keysBlock!;
    const od = this.keysDev!;
    const kb = new Float64Array(ob.length * 2);
    const kd = new Uint32Array(od.length * 2);
    const mask = kb.length - 1;
    for (let j = 0; j < ob.length; j++) {
      const tag = col(od, j, 'block set');
      if (tag === 0) continue;
      const block = col(ob, j, 'block set');
      let i = slot(tag - 1, block) & mask;
      while (kd[i] !== 0) i = (i + 1) & mask;
      kb[i] = block;
      kd[i] = tag;
    }
    this.keysBlock = kb;
    this.keysDev = kd;
  }

  private toHll(): void {
    const h = new HyperLogLog();
    const kb = this.keysBlock!;
    const kd = this.keysDev!;
    kd.forEach((tag, i) => {
      if (tag) h.addRange(tag - 1, col(kb, i, 'block set'), 1);
    });
    this.hll = h;
    this.keysBlock = null;
    this.keysDev = null;
  }
}
