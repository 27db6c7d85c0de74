/**
 * Seeded pseudo-random numbers (mulberry32): every random choice in the ML
 * code (sampling, initial centres, triplets) goes through one of these so a
 * run is reproducible from its seed.
 */
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/**
 * Reservoir sample (Algorithm R) of at most `capacity` items from a stream:
 * large traces are fitted on a bounded, uniformly drawn sample of windows.
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;
  constructor(
    readonly capacity: number,
    private readonly rng: Rng,
  ) {}
  offer(x: T): void {
    const i = this.seen++;
    if (this.items.length < this.capacity) this.items.push(x);
    else {
      const j = randInt(this.rng, i + 1);
      if (j < this.capacity) this.items[j] = x;
    }
  }
}
