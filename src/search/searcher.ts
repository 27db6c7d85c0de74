/**
 * The interface every search strategy implements, and `runSearch`, which
 * sets up the record (or resumes one), evaluates the baseline, runs the
 * strategy until it converges or the budget, time or cancellation stops
 * it, and returns the record.
 */
import { ERR_SEARCH } from '../errors.js';
import type { Evaluator, WorkloadRef } from '../evaluators/types.js';
import { Rng, sampleFeasible, validateSpace, violations } from '../space/space.js';
import type { ConfigSpace } from '../space/types.js';
import { DEFAULT_GRADE_ALPHA, DEFAULT_MIN_OTHER_RATIO } from './grade.js';
import { baselineFailure, bestOf, checkResumable, newRecord, parseRecord, type RecordIdentity, type SearchRecord, type SearchStatus } from './record.js';
import { SearchSession, StopSearch, type SearchBudget, type SearchEvent } from './session.js';

export interface Searcher {
  readonly name: string;
  /**
   * Proposes configurations through `session.evaluate` until it has nothing
   * better to try (returns the status: 'converged' or 'exhausted'). Must be
   * deterministic given `seed` and the evaluation results, so a resumed run
   * replays to where the previous one stopped.
   */
  search(session: SearchSession, seed: number): Promise<SearchStatus>;
  /** What the searcher learned about each parameter's relevance, stored with the record at the end. */
  relevance?(session: SearchSession, seed: number): Record<string, number> | undefined | Promise<Record<string, number> | undefined>;
}

export interface SearchOptions {
  space: ConfigSpace;
  evaluator: Evaluator;
  /** The workload to tune for. */
  workload: WorkloadRef;
  /** Non-target workloads that must keep >= minOtherRatio of their baseline performance. */
  others?: readonly WorkloadRef[];
  budget: SearchBudget;
  seed?: number;
  signal?: AbortSignal;
  onEvent?: (e: SearchEvent) => void;
  /** Continue this record (same searcher, space, evaluator and workloads). */
  resume?: SearchRecord;
  gradeAlpha?: number;
  minOtherRatio?: number;
}

export async function runSearch(searcher: Searcher, o: SearchOptions): Promise<SearchRecord> {
  validateSpace(o.space);
  if (o.budget.evaluations === undefined && o.budget.timeMs === undefined) throw ERR_SEARCH('give a budget: evaluations and/or wall time');
  if (o.budget.evaluations !== undefined && !(o.budget.evaluations >= 1))
    throw ERR_SEARCH(`evaluation budget ${o.budget.evaluations}: expected at least 1 (the baseline)`);
  if (o.space.name !== o.evaluator.space) throw ERR_SEARCH(`evaluator ${o.evaluator.name} evaluates space ${o.evaluator.space}, not ${o.space.name}`);
  const broken = violations(o.space, o.space.baseline);
  if (broken.length > 0) {
    // Throws SSDTUNE_NOTHING_FEASIBLE when the constraints contradict each other.
    sampleFeasible(o.space, new Rng(1), 1);
    throw ERR_SEARCH(`the baseline of space ${o.space.name} violates ${broken.join(', ')}; grades are relative to it, so give a feasible baseline`);
  }
  const identity: RecordIdentity = {
    searcher: searcher.name,
    space: o.space.name,
    evaluator: o.evaluator.name,
    workload: o.workload.name,
    others: (o.others ?? []).map((w) => w.name),
    seed: o.seed ?? 1,
    gradeAlpha: o.gradeAlpha ?? DEFAULT_GRADE_ALPHA,
    minOtherRatio: o.minOtherRatio ?? DEFAULT_MIN_OTHER_RATIO,
  };
  let record: SearchRecord;
  if (o.resume) {
    record = parseRecord(structuredClone(o.resume));
    checkResumable(record, identity);
    record.status = 'running';
  } else record = newRecord(identity);
  const session = new SearchSession({
    space: o.space,
    evaluator: o.evaluator,
    workload: o.workload,
    others: o.others ?? [],
    budget: o.budget,
    record,
    signal: o.signal,
    onEvent: o.onEvent,
  });
  let status: SearchStatus;
  try {
    const base = await session.evaluate(o.space.baseline, 'baseline');
    if (base.status !== 'ok') throw baselineFailure(base);
    status = await searcher.search(session, record.seed);
  } catch (e) {
    if (!(e instanceof StopSearch)) throw e;
    status = e.status;
  }
  record.status = status;
  record.best = bestOf(record.evaluations)?.index;
  const relevance = await searcher.relevance?.(session, record.seed);
  if (relevance) record.relevance = relevance;
  record.updatedAt = new Date().toISOString();
  o.onEvent?.({ type: 'done', status, ...(session.best ? { best: session.best } : {}), count: record.evaluations.length });
  return record;
}
