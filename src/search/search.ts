/**
 * Entry point of the search module: the searchers by name and runSearch.
 */
import { ERR_SEARCH } from '../errors.js';
import { CoordinateDescent } from './coordinate.js';
import { GridSearch } from './grid.js';
import { AdaptiveSearch, type AdaptiveOptions } from './adaptive.js';
import { LearnedSsdSearch, type LearnedSsdOptions } from './learnedssd.js';
import { PlannedSearch } from './planned-search.js';
import { RandomSearch } from './random.js';
import type { Searcher } from './searcher.js';

export { runSearch, type Searcher, type SearchOptions } from './searcher.js';
export type { SearchEvent, SearchBudget } from './session.js';
export { parseRecord, bestOf, type SearchRecord, type EvaluationRecord, type SearchStatus } from './record.js';
export { grade, speedups, objective, DEFAULT_GRADE_ALPHA, DEFAULT_MIN_OTHER_RATIO } from './grade.js';
export { LearnedSsdSearch, RandomSearch, GridSearch, CoordinateDescent, AdaptiveSearch, PlannedSearch, type LearnedSsdOptions, type AdaptiveOptions };
export type { Planner, Proposal, PlanInput } from './planner.js';
export { SearchCoordinator, type CoordinatorOptions, type Outcome, type OutcomeTiming } from './coordinator.js';

export const SEARCHERS = ['adaptive', 'learnedssd', 'random', 'grid', 'coordinate'] as const;
export type SearcherName = (typeof SEARCHERS)[number];

export interface SearcherOptions {
  learnedssd?: LearnedSsdOptions;
  adaptive?: AdaptiveOptions;
  /** Configurations proposed and evaluated together per round (adaptive only; default 1). */
  batch?: number;
}

export function makeSearcher(name: string, opts: SearcherOptions = {}): Searcher {
  switch (name) {
    case 'adaptive':
      return new PlannedSearch(new AdaptiveSearch(opts.adaptive), opts.batch ?? 1);
    case 'learnedssd':
      return new LearnedSsdSearch(opts.learnedssd);
    case 'random':
      return new RandomSearch();
    case 'grid':
      return new GridSearch();
    case 'coordinate':
      return new CoordinateDescent();
    default:
      throw ERR_SEARCH(`unknown searcher ${JSON.stringify(name)}; expected one of ${SEARCHERS.join(', ')}`);
  }
}
