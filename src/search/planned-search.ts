/**
 * A planner (planner.ts) run as a `Searcher` under `runSearch`, in rounds of
 * `batch` configurations evaluated concurrently. The planning runs on the
 * planner thread (plan-thread.ts), off the event loop, while the
 * evaluations run here.
 */
import { proposeOffThread, relevanceOffThread } from './plan-thread.js';
import type { PlanInput, Planner } from './planner.js';
import type { SearchStatus } from './record.js';
import type { Searcher } from './searcher.js';
import type { SearchSession } from './session.js';

export class PlannedSearch implements Searcher {
  readonly name: string;
  /** `batch`: configurations proposed and evaluated together per round (default 1). */
  constructor(
    readonly planner: Planner,
    readonly batch = 1,
  ) {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    this.name = planner.name;
  }

  /** Not cancellable: a cancelled run still stores what it learned (one model fit). */
  async relevance(session: SearchSession, seed: number): Promise<Record<string, number> | undefined> {
    const r = await relevanceOffThread(this.planner, this.input(session, seed));
    return r && Object.fromEntries([...r].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
  }

  /** What the planner knows: the evaluations so far and the budget they are spent from. */
  private input(session: SearchSession, seed: number): PlanInput {
    const budget = session.evaluationBudget;
    return { space: session.space, evaluations: session.evaluations, pending: [], seed, ...(budget !== undefined ? { budget } : {}) };
  }

  async search(session: SearchSession, seed: number): Promise<SearchStatus> {
    // The planner is stateless: a resumed run starts from everything recorded.
    session.revealAll();
    for (;;) {
      session.checkStop();
      const k = Math.min(this.batch, session.remaining);
      const props = await proposeOffThread(this.planner, this.input(session, seed), k, session.signal);
      if (props.length === 0) return 'converged';
      // Settle the whole round before stopping, so nothing is recorded after runSearch returns.
      const settled = await Promise.allSettled(props.map((p) => session.evaluate(p.config, p.phase)));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }
}
