/**
 * Entry point of the search module: the searchers by name and runSearch.
 */
import { ERR_SEARCH } from '../errors.js';
import { CoordinateDescent } from './coordinate.js';
import { GridSearch } from './grid.js';
import { LearnedSsdSearch, type LearnedSsdOptions } from './learnedssd.js';
import { RandomSearch } from './random.js';
import type { Searcher } from './searcher.js';

export { runSearch, type Searcher, type SearchOptions } from './searcher.js';
export type { SearchEvent, SearchBudget } from './session.js';
export { parseRecord, bestOf, type SearchRecord, type EvaluationRecord, type SearchStatus } from './record.js';
export { grade, speedups, objective, DEFAULT_GRADE_ALPHA, DEFAULT_MIN_OTHER_RATIO } from './grade.js';
export { LearnedSsdSearch, RandomSearch, GridSearch, CoordinateDescent, type LearnedSsdOptions };

export const SEARCHERS = ['learnedssd', 'random', 'grid', 'coordinate'] as const;
export type SearcherName = (typeof SEARCHERS)[number];

export function makeSearcher(name: string, opts: LearnedSsdOptions = {}): Searcher {
  switch (name) {
    case 'learnedssd':
      return new LearnedSsdSearch(opts);
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
