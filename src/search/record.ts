/**
 * The record of a search: every evaluation (configuration, metrics, grade,
 * time, evaluator, status) in plain JSON, so a search can be stored (ConfDB,
 * a file), shown, and resumed. No NaN is ever stored: an evaluation whose
 * metrics cannot be graded is a failed one with a message.
 */
import { ERR_SEARCH, errorFromCode, type SsdtuneError } from '../errors.js';
import type { Metrics } from '../evaluators/types.js';
import type { Configuration } from '../space/types.js';
import { grade, objective, otherRatio } from './grade.js';

export type EvaluationStatus = 'ok' | 'failed';

export interface EvaluationRecord {
  /** Position in the record (0 = the baseline). */
  index: number;
  config: Configuration;
  status: EvaluationStatus;
  /** Metrics on the target workload (ok only). */
  metrics?: Metrics;
  /** Metrics on each non-target workload, in the record's `others` order (ok only). */
  others?: Metrics[];
  /** Grade on the target workload relative to the baseline (ok only; always finite). */
  grade?: number;
  /** Worst non-target speedup (1 with no non-target workloads). */
  otherRatio?: number;
  /** Non-target workloads kept >= minOtherRatio of baseline. */
  acceptable?: boolean;
  /** What the search maximises: the grade, penalised when not acceptable. */
  objective?: number;
  /** Why it failed. */
  message?: string;
  /** The failure's SSDTUNE_* code, when it had one (a queued evaluation no worker finished: SSDTUNE_EVAL_UNFINISHED). */
  code?: string;
  evaluator: string;
  workload: string;
  /** ISO time the evaluation started. */
  startedAt: string;
  /** Wall time of the evaluation. */
  ms: number;
  /** Which part of the search proposed it ('baseline', 'initial', 'step', ...). */
  phase: string;
}

export type SearchStatus = 'running' | 'budget' | 'time' | 'cancelled' | 'converged' | 'exhausted';

export interface SearchRecord extends RecordIdentity {
  version: 1;
  createdAt: string;
  updatedAt: string;
  /** Wall time spent over all runs. */
  elapsedMs: number;
  status: SearchStatus;
  evaluations: EvaluationRecord[];
  /** Index of the best evaluation: highest objective among acceptable ones (any ok one if none is acceptable). */
  best?: number;
  /** Per parameter, how much it mattered for this workload (most relevant 1, flat near 0), when the searcher learns it. */
  relevance?: Record<string, number>;
}

export function bestOf(evals: readonly EvaluationRecord[]): EvaluationRecord | undefined {
  let best: EvaluationRecord | undefined;
  for (const e of evals) {
    if (e.status !== 'ok') continue;
    if (!best) best = e;
    else if (e.acceptable && !best.acceptable) best = e;
    else if (e.acceptable === best.acceptable && e.objective! > best.objective!) best = e;
  }
  return best;
}

/** Checks the shape of a stored record (from JSON) before resuming from it. */
export function parseRecord(json: unknown, where = 'search record'): SearchRecord {
  const bad = (field: string, expected: string): never => {
    throw ERR_SEARCH(`${where}: field ${field}: expected ${expected}`);
  };
  if (typeof json !== 'object' || json === null) bad('(root)', 'an object');
  const r = json as Record<string, unknown>;
  if (r.version !== 1) bad('version', '1');
  for (const k of ['searcher', 'space', 'evaluator', 'workload', 'createdAt', 'status'] as const) if (typeof r[k] !== 'string') bad(k, 'a string');
  for (const k of ['seed', 'gradeAlpha', 'minOtherRatio', 'elapsedMs'] as const)
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) bad(k, 'a finite number');
  if (!Array.isArray(r.others)) bad('others', 'an array of workload names');
  if (!Array.isArray(r.evaluations)) bad('evaluations', 'an array');
  (r.evaluations as unknown[]).forEach((e, i) => {
    if (typeof e !== 'object' || e === null) bad(`evaluations[${i}]`, 'an object');
    const ev = e as Record<string, unknown>;
    if (ev.index !== i) bad(`evaluations[${i}].index`, String(i));
    if (typeof ev.config !== 'object' || ev.config === null) bad(`evaluations[${i}].config`, 'an object');
    if (ev.status !== 'ok' && ev.status !== 'failed') bad(`evaluations[${i}].status`, '"ok" or "failed"');
    if (ev.status === 'ok') {
      for (const k of ['grade', 'objective', 'otherRatio'] as const)
        if (typeof ev[k] !== 'number' || !Number.isFinite(ev[k])) bad(`evaluations[${i}].${k}`, 'a finite number');
      if (typeof ev.metrics !== 'object' || ev.metrics === null) bad(`evaluations[${i}].metrics`, 'an object');
    }
  });
  return r as unknown as SearchRecord;
}

/**
 * A successful evaluation of `record`, graded against its baseline (the
 * record's first evaluation; an evaluation at index 0 is the baseline and
 * its own reference). Throws when the grade is not finite.
 */
export function gradeEvaluation(
  record: SearchRecord,
  base: Omit<EvaluationRecord, 'status' | 'ms'>,
  metrics: Metrics,
  others: Metrics[],
  ms: number,
): EvaluationRecord {
  let ref = { target: metrics, others };
  if (base.index !== 0) {
    const b = record.evaluations[0];
    if (!b || b.status !== 'ok') throw ERR_SEARCH('the baseline has not been evaluated');
    ref = { target: b.metrics!, others: b.others ?? [] };
  }
  const g = grade(metrics, ref.target, record.gradeAlpha);
  const ratio = otherRatio(others, ref.others);
  if (!Number.isFinite(g) || !Number.isFinite(ratio)) throw new Error(`grade is not finite (grade ${g}, non-target ratio ${ratio})`);
  return {
    ...base,
    status: 'ok',
    metrics,
    ...(others.length ? { others } : {}),
    grade: g,
    otherRatio: ratio,
    acceptable: ratio >= record.minOtherRatio,
    objective: objective(g, ratio, record.minOtherRatio),
    ms,
  };
}

/** What identifies a search: a record resumes only under the same names. */
export interface RecordIdentity {
  searcher: string;
  space: string;
  evaluator: string;
  workload: string;
  others: string[];
  seed: number;
  gradeAlpha: number;
  minOtherRatio: number;
}

export function newRecord(id: RecordIdentity): SearchRecord {
  const now = new Date().toISOString();
  return { version: 1, ...id, others: [...id.others], createdAt: now, updatedAt: now, elapsedMs: 0, status: 'running', evaluations: [] };
}

/** Throws SSDTUNE_SEARCH naming the first field in which the record differs from the search resuming it. */
export function checkResumable(r: SearchRecord, id: RecordIdentity): void {
  const want: Array<[string, unknown, unknown]> = [
    ['searcher', r.searcher, id.searcher],
    ['space', r.space, id.space],
    ['evaluator', r.evaluator, id.evaluator],
    ['workload', r.workload, id.workload],
    ['others', r.others.join(','), id.others.join(',')],
  ];
  for (const [field, had, now] of want)
    if (had !== now) throw ERR_SEARCH(`cannot resume: the record's ${field} is ${JSON.stringify(had)}, this search's is ${JSON.stringify(now)}`);
}

/**
 * Why a search whose baseline failed ends. A coded failure keeps its code (an address beyond the simulated drive
 * is bad input, a busy device a conflict, a fleet that finished nothing a failure a client may retry): only an
 * uncoded one is the search's own error.
 */
export function baselineFailure(ev: Pick<EvaluationRecord, 'message' | 'code'>): SsdtuneError {
  const why = `the baseline configuration could not be evaluated, so nothing can be graded: ${ev.message}`;
  return ev.code ? errorFromCode(ev.code, `search: ${why}`) : ERR_SEARCH(why);
}
