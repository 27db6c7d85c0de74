/**
 * Multi-fidelity search: screen on the leading fraction of a trace, confirm
 * on the whole.
 *
 * An evaluation of the first fraction f of the requests costs about f of a
 * whole one. The budget counts whole-trace evaluations; a share of it (half
 * by default) buys 1/f times as many screening evaluations, in which the
 * adaptive search learns which parameters matter and where the good
 * configurations are. The rest is a search on the whole trace that starts
 * from the baseline and the screen's best distinct configurations (their
 * grades re-measured: a prefix can mislead) and goes on from there. The
 * recommendation comes from whole-trace evaluations only.
 *
 * Both records are kept (the screen's and the whole-trace one) and both
 * resume: a stopped run continues the screen if it had not finished, else the
 * confirmation.
 */
import { ERR_SEARCH } from '../errors.js';
import type { WorkloadRef } from '../evaluators/types.js';
import { limitSource } from '../trace/model.js';
import { AdaptiveSearch, type AdaptiveOptions } from './adaptive.js';
import { PlannedSearch } from './planned-search.js';
import type { SearchRecord } from './record.js';
import { runSearch, type SearchOptions } from './searcher.js';
import type { SearchEvent } from './session.js';

/** A screened fraction as a percentage for people: one decimal under 10% (0.4%, not 0%). */
export function percentOf(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}

/** The first `requests` requests of a workload, as a workload of its own. */
export function prefixWorkload(w: WorkloadRef, requests: number, fraction: number): WorkloadRef {
  return {
    name: `${w.name} [first ${percentOf(fraction)}]`,
    open: async () => limitSource(await w.open(), requests),
    ...(w.key !== undefined ? { key: `${w.key} first ${requests}` } : {}),
  };
}

export interface MultiFidelityOptions extends Omit<SearchOptions, 'resume' | 'budget' | 'onEvent'> {
  /** Whole-trace evaluations (the baseline included); a screening evaluation counts `fraction` of one. */
  budget: number;
  /** Leading fraction of the trace the screen replays, 0 < fraction < 1. */
  fraction: number;
  /** Requests in the whole trace (to cut the prefix). */
  totalRequests: number;
  /** Share of the budget spent screening (default 0.5). */
  screenShare?: number;
  /** Screening evaluations at most (default 200: the model's cost grows with the cube of its points). */
  maxScreen?: number;
  /** Best screened configurations re-measured on the whole trace (default: a quarter of the whole-trace budget, 2..6). */
  confirm?: number;
  adaptive?: AdaptiveOptions;
  batch?: number;
  resume?: { screen?: SearchRecord; search?: SearchRecord };
  onEvent?: (e: SearchEvent & { stage: 'screen' | 'search' }) => void;
}

export interface MultiFidelityResult {
  screen: SearchRecord;
  record: SearchRecord;
}

/** How a budget splits: screening evaluations and whole-trace evaluations. */
export function splitBudget(budget: number, fraction: number, share = 0.5, maxScreen = 200): { screen: number; whole: number } {
  if (!(fraction > 0 && fraction < 1)) throw ERR_SEARCH(`screening fraction ${fraction}: expected a number strictly between 0 and 1`);
  const screen = Math.min(maxScreen, Math.floor((budget * share) / fraction));
  const whole = budget - Math.ceil(screen * fraction);
  if (whole < 2 || screen < 2)
    throw ERR_SEARCH(
      `a budget of ${budget} cannot be split into a screen on ${fraction} of the trace and a search on the whole (it needs >= 2 of each); raise the budget or screen on less`,
    );
  return { screen, whole };
}

export async function runMultiFidelity(o: MultiFidelityOptions): Promise<MultiFidelityResult> {
  const { screen: nScreen, whole } = splitBudget(o.budget, o.fraction, o.screenShare, o.maxScreen);
  const requests = Math.max(1, Math.round(o.totalRequests * o.fraction));
  const screenRef = prefixWorkload(o.workload, requests, o.fraction);
  const others = (o.others ?? []).map((w) => prefixWorkload(w, requests, o.fraction));
  const base = {
    space: o.space,
    evaluator: o.evaluator,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.gradeAlpha !== undefined ? { gradeAlpha: o.gradeAlpha } : {}),
    ...(o.minOtherRatio !== undefined ? { minOtherRatio: o.minOtherRatio } : {}),
  };
  const screen = await runSearch(new PlannedSearch(new AdaptiveSearch(o.adaptive), o.batch ?? 1), {
    ...base,
    workload: screenRef,
    others,
    budget: { evaluations: nScreen },
    ...(o.resume?.screen ? { resume: o.resume.screen } : {}),
    onEvent: (e) => o.onEvent?.({ ...e, stage: 'screen' }),
  });
  if (screen.status === 'cancelled') return { screen, record: o.resume?.search ?? screen };
  // The screen's best distinct configurations, best first (acceptable ones before the rest).
  const k = o.confirm ?? Math.min(6, Math.max(2, Math.floor(whole / 4)));
  const ranked = screen.evaluations
    .filter((e) => e.status === 'ok' && e.index > 0)
    .sort((a, b) => Number(b.acceptable) - Number(a.acceptable) || b.objective! - a.objective!)
    .slice(0, k)
    .map((e) => e.config);
  const record = await runSearch(new PlannedSearch(new AdaptiveSearch({ ...o.adaptive, start: ranked }), o.batch ?? 1), {
    ...base,
    workload: o.workload,
    ...(o.others ? { others: o.others } : {}),
    budget: { evaluations: whole },
    ...(o.resume?.search ? { resume: o.resume.search } : {}),
    onEvent: (e) => o.onEvent?.({ ...e, stage: 'search' }),
  });
  return { screen, record };
}
