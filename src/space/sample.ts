/**
 * Random feasible configurations. Uniform rejection sampling first; spaces
 * with equality-like constraints (a fixed total capacity) almost never hit
 * by chance, so the fallback walks from feasible configurations through
 * feasible one- and two-parameter moves that keep such totals.
 */
import { ERR_NOTHING_FEASIBLE } from '../errors.js';
import { configKey, isFeasible, violations } from './constraints.js';
import { levelCount, valueAt } from './params.js';
import { Rng } from './rng.js';
import type { ConfigSpace, Configuration } from './types.js';

export function randomConfig(space: ConfigSpace, rng: Rng): Configuration {
  const c: Configuration = {};
  for (const p of space.params) c[p.name] = valueAt(p, rng.int(levelCount(p)));
  return c;
}

/**
 * A random feasible move: one parameter to a random level; when that breaks
 * a constraint, a second parameter is searched for levels that repair it
 * (how a fixed total is kept: double one count, halve another). Undefined
 * when no repair is found.
 */
function randomMove(space: ConfigSpace, c: Configuration, rng: Rng): Configuration | undefined {
  const ps = space.params;
  const out = { ...c };
  const a = ps[rng.int(ps.length)]!;
  out[a.name] = valueAt(a, rng.int(levelCount(a)));
  if (isFeasible(space, out)) return out;
  if (ps.length < 2) return undefined;
  let b = ps[rng.int(ps.length)]!;
  while (b === a) b = ps[rng.int(ps.length)]!;
  const n = Math.min(levelCount(b), 4096);
  const fits: number[] = [];
  for (let k = 0; k < n; k++) {
    out[b.name] = valueAt(b, k);
    if (isFeasible(space, out)) fits.push(k);
  }
  if (fits.length === 0) return undefined;
  out[b.name] = valueAt(b, rng.pick(fits));
  return out;
}

export interface SampleOptions {
  /** Uniform draws tried before falling back to walks (default 2000 per wanted sample, at least 20000 in all). */
  maxTries?: number;
  /** Known feasible configurations the walk may start from (the baseline is always tried). */
  seeds?: readonly Configuration[];
  /** Allow repeats (default false: distinct configurations, fewer if the space has fewer). */
  repeats?: boolean;
}

/**
 * `n` random feasible configurations. Throws SSDTUNE_NOTHING_FEASIBLE when
 * neither sampling nor the walk finds a single one, naming the constraints
 * that rejected the most draws (the likely contradiction).
 */
export function sampleFeasible(space: ConfigSpace, rng: Rng, n: number, opts: SampleOptions = {}): Configuration[] {
  const out: Configuration[] = [];
  const seen = new Set<string>();
  const take = (c: Configuration): void => {
    const k = configKey(space, c);
    if (!opts.repeats && seen.has(k)) return;
    seen.add(k);
    out.push(c);
  };
  if (space.params.length === 0) throw ERR_NOTHING_FEASIBLE(space.name, 'the space has no parameters');
  const rejectedBy = new Map<string, number>();
  const maxTries = opts.maxTries ?? Math.max(20000, 2000 * n);
  let tries = 0;
  let hits = 0;
  while (out.length < n && tries < maxTries) {
    tries++;
    const c = randomConfig(space, rng);
    const v = violations(space, c);
    if (v.length === 0) {
      hits++;
      take(c);
    } else for (const name of v) rejectedBy.set(name, (rejectedBy.get(name) ?? 0) + 1);
    // Stop early when uniform draws are hopeless; the walk does better.
    if (tries === 2000 && hits === 0) break;
  }
  if (out.length >= n) return out;
  const starts = [space.baseline, ...(opts.seeds ?? []), ...out].filter((c) => isFeasible(space, c));
  if (starts.length === 0) {
    const worst = [...rejectedBy.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} (rejected ${v}/${tries})`);
    throw ERR_NOTHING_FEASIBLE(
      space.name,
      `no feasible configuration in ${tries} random draws and the baseline violates ${violations(space, space.baseline).join(', ') || 'nothing'}; constraints rejecting most: ${worst.slice(0, 3).join(', ')}`,
    );
  }
  let cur = rng.pick(starts);
  take(cur);
  const walkBudget = Math.max(20000, 200 * n);
  for (let step = 0; out.length < n && step < walkBudget; step++) {
    const next = randomMove(space, cur, rng);
    if (!next) continue;
    cur = next;
    // Thin the walk so consecutive samples are less alike.
    if (step % 3 === 0) take(cur);
  }
  return out;
}
