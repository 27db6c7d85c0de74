/**
 * A search driven from outside: for a coordinator that hands configurations
 * to workers (the fleet) and collects their metrics in any order. It owns the
 * search record and the set of pending configurations; it never evaluates
 * anything itself.
 *
 *   const c = new SearchCoordinator({ planner: new AdaptiveSearch(), space, evaluator: 'ssdsim', workload: 'oltp', budget: 40 });
 *   for (const p of c.propose(idleWorkers)) send(p.config);       // marks them pending
 *   ... c.complete(config, { metrics }) or c.complete(config, { error }) as results arrive;
 *   ... c.release(config) when a worker is lost (the configuration may be proposed again);
 *   store c.record after each completion; c.status says when to stop.
 *
 * Resuming after the coordinator itself restarts: construct it with the
 * stored record as `resume` and the configurations still out on workers as
 * `pending`. The planner is stateless, so the next proposals are those the
 * interrupted coordinator would have made from the same state.
 *
 * Results that arrive before the baseline's are held and recorded right after
 * it: every grade is relative to the baseline, which is index 0.
 */
import { ERR_SEARCH } from '../errors.js';
import type { Metrics } from '../evaluators/types.js';
import { configKey, validateConfig, validateSpace } from '../space/space.js';
import type { ConfigSpace, Configuration } from '../space/types.js';
import { DEFAULT_GRADE_ALPHA, DEFAULT_MIN_OTHER_RATIO, badMetrics } from './grade.js';
import type { PlanInput, Planner, Proposal } from './planner.js';
import { baselineFailure, bestOf, checkResumable, gradeEvaluation, newRecord, parseRecord, type EvaluationRecord, type SearchRecord } from './record.js';

export interface CoordinatorOptions {
  planner: Planner;
  space: ConfigSpace;
  /** Names recorded with every evaluation (the record resumes only under the same ones). */
  evaluator: string;
  workload: string;
  others?: string[];
  seed?: number;
  /** Evaluations in the record, the baseline included, after which nothing more is proposed. */
  budget?: number;
  gradeAlpha?: number;
  minOtherRatio?: number;
  /** A stored record to continue. */
  resume?: SearchRecord;
  /** With `resume`: configurations still being evaluated by workers. */
  pending?: readonly Configuration[];
}

/** What a worker reports for one configuration: its metrics (and each non-target workload's, in `others` order), or why it failed. */
export type Outcome = { metrics: Metrics; others?: Metrics[] } | { error: string };

export interface OutcomeTiming {
  /** ISO time the worker started (default: when the configuration was proposed). */
  startedAt?: string;
  /** Evaluation time in ms (default: since it was proposed). */
  ms?: number;
  /** Which worker ran it, kept in the phase for the record ("model@w3"). */
  worker?: string;
}

interface Out {
  config: Configuration;
  phase: string;
  proposedAt: number;
}

export class SearchCoordinator {
  readonly record: SearchRecord;
  private readonly pendingByKey = new Map<string, Out>();
  /** Results that arrived before the baseline's, recorded right after it. */
  private held: Array<{ out: Out; outcome: Outcome; timing: OutcomeTiming }> = [];
  private converged = false;
  private readonly started = Date.now();
  private readonly elapsedBefore: number;

  constructor(private readonly o: CoordinatorOptions) {
    validateSpace(o.space);
    const id = {
      searcher: o.planner.name,
      space: o.space.name,
      evaluator: o.evaluator,
      workload: o.workload,
      others: o.others ?? [],
      seed: o.seed ?? 1,
      gradeAlpha: o.gradeAlpha ?? DEFAULT_GRADE_ALPHA,
      minOtherRatio: o.minOtherRatio ?? DEFAULT_MIN_OTHER_RATIO,
    };
    if (o.resume) {
      this.record = parseRecord(structuredClone(o.resume));
      checkResumable(this.record, id);
      this.record.status = 'running';
    } else this.record = newRecord(id);
    this.elapsedBefore = this.record.elapsedMs;
    if (o.budget !== undefined && !(Number.isInteger(o.budget) && o.budget >= 1))
      throw ERR_SEARCH(`budget ${o.budget}: expected an integer >= 1 (the baseline)`);
    for (const c of o.pending ?? []) {
      const cfg = validateConfig(o.space, c, { unknown: 'ignore' });
      this.pendingByKey.set(configKey(o.space, cfg), { config: cfg, phase: 'resumed', proposedAt: Date.now() });
    }
  }

  /** Configurations handed out and not yet completed or released. */
  get pending(): Configuration[] {
    return [...this.pendingByKey.values()].map((p) => p.config);
  }

  /** 'running' while there is something to propose or wait for; 'budget' or 'converged' when done. */
  get status(): 'running' | 'budget' | 'converged' {
    if (this.pendingByKey.size > 0) return 'running';
    if (this.o.budget !== undefined && this.record.evaluations.length >= this.o.budget) return 'budget';
    return this.converged ? 'converged' : 'running';
  }

  /** How much each parameter matters for this workload so far (most relevant 1), when the planner learns it. */
  relevance(): Map<string, number> | undefined {
    return this.o.planner.parameterRelevance?.(this.input(this.pending));
  }

  get best(): EvaluationRecord | undefined {
    return bestOf(this.record.evaluations);
  }

  /**
   * Up to `k` configurations for idle workers, marked pending. Fewer when the
   * budget (counting pending ones) allows fewer, or when the planner has
   * nothing left to try.
   */
  propose(k: number): Proposal[] {
    if (!Number.isInteger(k) || k < 0) throw ERR_SEARCH(`propose(k): expected a non-negative integer, got ${k}`);
    const left = this.o.budget === undefined ? Infinity : this.o.budget - this.record.evaluations.length - this.held.length - this.pendingByKey.size;
    const n = Math.min(k, Math.max(0, left));
    if (n === 0) return [];
    const pending = [...this.pending, ...this.held.map((h) => h.out.config)];
    const props = this.o.planner.propose(this.input(pending), n);
    if (props.length === 0 && pending.length === 0) this.converged = true;
    const now = Date.now();
    for (const p of props) this.pendingByKey.set(configKey(this.o.space, p.config), { config: p.config, phase: p.phase, proposedAt: now });
    return props;
  }

  /** What the planner knows: the record, what is out on workers, and the budget (the fleet's as a user's). */
  private input(pending: readonly Configuration[]): PlanInput {
    const { space, budget } = this.o;
    return { space, evaluations: this.record.evaluations, pending, seed: this.record.seed, ...(budget !== undefined ? { budget } : {}) };
  }

  /** A pending configuration's worker went away: forget it, so it can be proposed again. */
  release(config: Configuration): void {
    this.pendingByKey.delete(this.keyOfPending(config));
  }

  /**
   * Records a worker's result for a pending configuration; returns the
   * evaluation as recorded, or undefined while it is held for the baseline.
   * A failed baseline throws: nothing could be graded.
   */
  complete(config: Configuration, outcome: Outcome, timing: OutcomeTiming = {}): EvaluationRecord | undefined {
    const key = this.keyOfPending(config);
    const out = this.pendingByKey.get(key)!;
    this.pendingByKey.delete(key);
    const isBaseline = key === configKey(this.o.space, this.o.space.baseline);
    if (this.record.evaluations.length === 0 && !isBaseline) {
      this.held.push({ out, outcome, timing });
      return undefined;
    }
    const ev = this.append(out, outcome, timing);
    if (isBaseline && ev.status !== 'ok') throw baselineFailure(ev);
    if (ev.index === 0) {
      const held = this.held;
      this.held = [];
      for (const h of held) this.append(h.out, h.outcome, h.timing);
    }
    return ev;
  }

  private keyOfPending(config: Configuration): string {
    const key = configKey(this.o.space, config);
    if (!this.pendingByKey.has(key)) {
      const done = this.record.evaluations.some((e) => configKey(this.o.space, e.config) === key);
      throw ERR_SEARCH(`configuration ${key} is not pending${done ? ' (its result is already recorded)' : ' (it was never proposed, or was released)'}`);
    }
    return key;
  }

  private append(out: Out, outcome: Outcome, timing: OutcomeTiming): EvaluationRecord {
    const index = this.record.evaluations.length;
    const base = {
      index,
      config: out.config,
      evaluator: this.o.evaluator,
      workload: this.o.workload,
      startedAt: timing.startedAt ?? new Date(out.proposedAt).toISOString(),
      phase: timing.worker ? `${out.phase}@${timing.worker}` : out.phase,
    };
    const ms = timing.ms ?? Date.now() - out.proposedAt;
    let ev: EvaluationRecord;
    const why = 'error' in outcome ? outcome.error : (badMetrics(outcome.metrics) ?? (outcome.others ?? []).map(badMetrics).find((w) => w !== undefined));
    const nOthers = this.record.others.length;
    const othersWrong =
      !('error' in outcome) && (outcome.others ?? []).length !== nOthers
        ? `expected metrics for ${nOthers} non-target workloads, got ${(outcome.others ?? []).length}`
        : undefined;
    if (why || othersWrong || 'error' in outcome) ev = { ...base, status: 'failed', message: why ?? othersWrong!, ms };
    else {
      try {
        ev = gradeEvaluation(this.record, base, outcome.metrics, outcome.others ?? [], ms);
      } catch (e) {
        ev = { ...base, status: 'failed', message: (e as Error).message, ms };
      }
    }
    this.record.evaluations.push(ev);
    this.record.best = bestOf(this.record.evaluations)?.index;
    this.record.updatedAt = new Date().toISOString();
    this.record.elapsedMs = this.elapsedBefore + (Date.now() - this.started);
    this.record.status = this.status === 'running' ? 'running' : this.status;
    return ev;
  }
}
