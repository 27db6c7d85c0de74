/** Random search: distinct random feasible configurations, the baseline against which the model-guided search is measured. */
import { Rng, configKey, sampleFeasible } from '../space/space.js';
import type { SearchSession } from './session.js';
import type { Searcher } from './searcher.js';
import type { SearchStatus } from './record.js';

export class RandomSearch implements Searcher {
  readonly name = 'random';
  async search(session: SearchSession, seed: number): Promise<SearchStatus> {
    const rng = new Rng(seed);
    const seen = new Set<string>();
    for (;;) {
      // In chunks, so an unbounded (time-only) budget works; the sequence is the same for a given seed.
      const batch = sampleFeasible(session.space, rng, 256);
      let fresh = 0;
      for (const c of batch) {
        const k = configKey(session.space, c);
        if (seen.has(k)) continue;
        seen.add(k);
        fresh++;
        await session.evaluate(c, 'random');
      }
      if (fresh === 0) return 'exhausted';
    }
  }
}
