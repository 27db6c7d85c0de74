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
 * `PlannedSearch` (planned-search.ts) runs a planner as a `Searcher` under
 * `runSearch`, in rounds of `batch` configurations evaluated concurrently.
 */
import type { ConfigSpace, Configuration } from '../space/types.js';
import type { EvaluationRecord } from './record.js';

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
  /**
   * Evaluations the search may make in all, the baseline included (the run's evaluation budget). The evaluations
   * left are this minus those recorded and pending. Undefined when the budget has no evaluation count (time only).
   */
  budget?: number;
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
