/**
 * Coordinate descent: from the baseline, try the candidate levels of one
 * parameter at a time (others held), move to the best, and sweep the
 * parameters until a whole sweep improves nothing.
 */
import { neighbours } from '../space/space.js';
import type { SearchSession } from './session.js';
import type { Searcher } from './searcher.js';
import type { SearchStatus } from './record.js';

export class CoordinateDescent implements Searcher {
  readonly name = 'coordinate';
  async search(session: SearchSession): Promise<SearchStatus> {
    let cur = session.space.baseline;
    let curObj = session.lookup(cur)!.objective!;
    for (;;) {
      let improved = false;
      for (const p of session.space.params) {
        for (const c of neighbours(session.space, cur, { params: [p.name], pairs: false })) {
          const e = await session.evaluate(c, `coordinate:${p.name}`);
          if (e.status === 'ok' && e.objective! > curObj) {
            cur = c;
            curObj = e.objective!;
            improved = true;
          }
        }
      }
      if (!improved) return 'converged';
    }
  }
}
