/**
 * Where the adaptive search looks for its next configuration: moves of a
 * few parameters around good configurations (which parameters, and how far,
 * weighted by what the model has learned), constraint repair so a move that
 * breaks a fixed total is completed by a second parameter, and the whole
 * feasible set when the space is small enough to list.
 */
import { isFeasible, levelCount, valueAt, indexOf } from '../space/space.js';
import type { Rng } from '../space/space.js';
import type { ConfigSpace, Configuration, ParamSpec } from '../space/types.js';
import { gridConfigs } from './grid.js';

/** Spaces with at most this many configurations are listed outright instead of sampled. */
export const ENUMERATE_LIMIT = 20000;

/** Every feasible configuration, or undefined when the space has more than `limit` configurations. */
export function enumerateFeasible(space: ConfigSpace, limit = ENUMERATE_LIMIT): Configuration[] | undefined {
  let size = 1;
  for (const p of space.params) {
    size *= levelCount(p);
    if (size > limit) return undefined;
  }
  return [
    ...gridConfigs(
      space,
      space.params.map((p) => Array.from({ length: levelCount(p) }, (_, i) => i)),
    ),
  ];
}

/**
 * A new level for `p`, away from index `i`: a Gaussian step of `scale` (in units of the whole range) for ordered
 * kinds, any other value otherwise. `inward`: an ordered parameter steps towards the middle of its range (its
 * size still Gaussian), never towards the nearer edge.
 */
export function stepLevel(p: ParamSpec, i: number, scale: number, rng: Rng, inward = false): number {
  const n = levelCount(p);
  if (n <= 1) return i;
  if (p.kind === 'categorical' || p.kind === 'bool' || n === 2) {
    const k = rng.int(n - 1);
    return k >= i ? k + 1 : k;
  }
  // Box-Muller; at least one level, so a move always changes something.
  const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  let step = Math.round(g * scale * (n - 1));
  if (step === 0) step = rng.next() < 0.5 ? -1 : 1;
  const mid = (n - 1) / 2;
  if (inward && i !== mid) step = Math.abs(step) * Math.sign(mid - i);
  let k = i + step;
  if (k < 0) k = i === 0 ? 1 : 0;
  if (k > n - 1) k = i === n - 1 ? n - 2 : n - 1;
  return k;
}

/**
 * Makes `c` feasible by changing one other parameter (not in `fixed`) to
 * the feasible level nearest its current one; undefined when no single
 * parameter can. How a move of one parameter under a fixed total (capacity,
 * a DRAM budget) is completed.
 */
export function repair(space: ConfigSpace, c: Configuration, fixed: ReadonlySet<string>, rng: Rng): Configuration | undefined {
  if (isFeasible(space, c)) return c;
  const others = rng.shuffle(space.params.filter((p) => !fixed.has(p.name)));
  for (const q of others) {
    const n = Math.min(levelCount(q), 4096);
    const cur = indexOf(q, c[q.name]);
    // Nearest levels first: the first feasible one is the smallest repair.
    for (let dist = 1; dist < n; dist++) {
      for (const k of rng.next() < 0.5 ? [cur - dist, cur + dist] : [cur + dist, cur - dist]) {
        if (k < 0 || k >= n) continue;
        const r = { ...c, [q.name]: valueAt(q, k) };
        if (isFeasible(space, r)) return r;
      }
    }
  }
  return undefined;
}

export interface PerturbOptions {
  /** Relative chance of each parameter (by index) to be moved. */
  weights: readonly number[];
  /** Mean number of parameters moved (at least one is). */
  count: number;
  /** Step scale of each parameter (by index), in units of its whole range. */
  scales: readonly number[];
}

/** Index drawn with probability proportional to `w` (excluding `skip`). */
function pickWeighted(w: readonly number[], rng: Rng, skip: ReadonlySet<number>): number {
  let total = 0;
  for (let i = 0; i < w.length; i++) if (!skip.has(i)) total += w[i]!;
  let u = rng.next() * total;
  for (let i = 0; i < w.length; i++) {
    if (skip.has(i)) continue;
    u -= w[i]!;
    if (u <= 0) return i;
  }
  for (let i = w.length - 1; i >= 0; i--) if (!skip.has(i)) return i;
  return 0;
}

/** A feasible configuration near `c`: a few parameters moved (chosen by weight), repaired if a constraint breaks; undefined when repair fails. */
export function perturb(space: ConfigSpace, c: Configuration, rng: Rng, o: PerturbOptions): Configuration | undefined {
  const ps = space.params;
  // 1 + Poisson(count - 1) parameters, by Knuth's method.
  let m = 1;
  const lim = Math.exp(-Math.max(0, o.count - 1));
  for (let p = rng.next(); p > lim && m < ps.length; p *= rng.next()) m++;
  const chosen = new Set<number>();
  while (chosen.size < Math.min(m, ps.length)) chosen.add(pickWeighted(o.weights, rng, chosen));
  const out = { ...c };
  const fixed = new Set<string>();
  for (const i of chosen) {
    const p = ps[i]!;
    out[p.name] = valueAt(p, stepLevel(p, indexOf(p, c[p.name]), o.scales[i]!, rng));
    fixed.add(p.name);
  }
  return repair(space, out, fixed, rng);
}
