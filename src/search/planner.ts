/**
 * Batch proposals. A `Planner` is a pure function from what is known (the
 * evaluations recorded so far and the configurations still being evaluated)
 * to the next k configurations to evaluate. It keeps no state between
 * calls, so:
 *  - a coordinator with several workers asks for as many proposals as it
 *    has idle workers, passing the ones still out as `pending` (the planner
 *    neither repeats them nor crowds new proposals around them);
 *  - resuming is reading the record back: the next call proposes what the
 *    interrupted run would have proposed from the same evaluations.
 * Randomness is seeded from the search seed and the counts of evaluations
 * and pending configurations, so the same state gives the same proposals.
 *
 * `PlannedSearch` runs a planner as a `Searcher` under `runSearch`, in
 * rounds of `batch` configurations evaluated concurrently.
 */
import type { ConfigSpace, Configuration } from '../space/types.js';
import type { EvaluationRecord, SearchStatus } from './record.js';
import type { Searcher } from './searcher.js';
import type { SearchSession } from './session.js';

export interface Proposal {
  config: Configuration;
  /** Why it was proposed ('baseline', 'screen:<group>', 'model', ...), stored with the evaluation. */
  phase: string;
}

export interface PlanInput {
  space: ConfigSpace;
  /** The record's evaluations, in order (index 0 the baseline once it is evaluated). */
  evaluations: readonly EvaluationRecord[];
  /** Configurations proposed earlier whose results have not arrived. */
  pending: readonly Configuration[];
  seed: number;
}

export interface Planner {
  readonly name: string;
  /**
   * Up to `k` distinct feasible configurations, none of them evaluated or
   * pending, the baseline first while it has no result. Fewer (or none) when
   * the planner has nothing better to try: with nothing pending either, the
   * search has converged.
   */
  propose(input: PlanInput, k: number): Proposal[];
  /** How much each parameter matters for this workload (most 1, flat 0), as far as the planner has learned. */
  parameterRelevance?(input: PlanInput): Map<string, number> | undefined;
}

/** A 32-bit seed from several integers (the search seed and the state counts). */
export function mixSeed(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

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

  relevance(session: SearchSession, seed: number): Record<string, number> | undefined {
    const r = this.planner.parameterRelevance?.({ space: session.space, evaluations: session.evaluations, pending: [], seed });
    return r && Object.fromEntries([...r].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
  }

  async search(session: SearchSession, seed: number): Promise<SearchStatus> {
    // The planner is stateless: a resumed run starts from everything recorded.
    session.revealAll();
    for (;;) {
      session.checkStop();
      const k = Math.min(this.batch, session.remaining);
      const props = this.planner.propose({ space: session.space, evaluations: session.evaluations, pending: [], seed }, k);
      if (props.length === 0) return 'converged';
      // Settle the whole round before stopping, so nothing is recorded after runSearch returns.
      const settled = await Promise.allSettled(props.map((p) => session.evaluate(p.config, p.phase)));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }
}
