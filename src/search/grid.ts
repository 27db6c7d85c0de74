/**
 * Grid search for small spaces: every combination of levels in order,
 * skipping infeasible ones. When the full grid exceeds the evaluation
 * budget, each parameter is thinned to evenly spaced levels (ends kept) so
 * the grid fits.
 */
import { levelCount, isFeasible, valueAt } from '../space/space.js';
import type { ConfigSpace, Configuration } from '../space/types.js';
import type { SearchSession } from './session.js';
import type { Searcher } from './searcher.js';
import type { SearchStatus } from './record.js';

/** Level indices per parameter so the product is at most `limit` (at least 2 per parameter with 2+ levels). */
export function gridLevels(space: ConfigSpace, limit: number): number[][] {
  const counts = space.params.map(levelCount);
  let k = Math.max(...counts);
  const product = (kk: number): number => counts.reduce((p, n) => p * Math.min(n, kk), 1);
  while (k > 2 && product(k) > limit) k--;
  return counts.map((n) => {
    const m = Math.min(n, k);
    if (m === n) return Array.from({ length: n }, (_, i) => i);
    return [...new Set(Array.from({ length: m }, (_, i) => Math.round((i * (n - 1)) / (m - 1))))];
  });
}

export function* gridConfigs(space: ConfigSpace, levels: number[][]): Generator<Configuration> {
  const pos = levels.map(() => 0);
  for (;;) {
    const c: Configuration = {};
    space.params.forEach((p, i) => (c[p.name] = valueAt(p, levels[i]![pos[i]!]!)));
    if (isFeasible(space, c)) yield c;
    let i = pos.length - 1;
    while (i >= 0 && ++pos[i]! === levels[i]!.length) pos[i--] = 0;
    if (i < 0) return;
  }
}

export class GridSearch implements Searcher {
  readonly name = 'grid';
  /** Grid size when the budget has no evaluation limit. */
  constructor(readonly maxPoints = 10000) {}
  async search(session: SearchSession): Promise<SearchStatus> {
    const limit = Math.min(this.maxPoints, session.remaining + session.record.evaluations.length);
    for (const c of gridConfigs(session.space, gridLevels(session.space, limit))) await session.evaluate(c, 'grid');
    return 'exhausted';
  }
}
