/**
 * One run of a search: owns the record, evaluates configurations (recording
 * failures instead of throwing), grades them against the baseline, enforces
 * the budget and cancellation, and emits progress events. Searchers only
 * propose configurations through `evaluate`.
 *
 * Resuming: the record's evaluations form a cache keyed by configuration.
 * A resumed searcher replays its (seeded, deterministic) decisions; every
 * configuration it proposes that the record already holds is answered from
 * the record without running the evaluator or spending budget, so it
 * arrives where the previous run stopped and carries on.
 */
import { ERR_SEARCH, isSsdtuneError } from '../errors.js';
import type { Evaluator, Metrics, WorkloadRef } from '../evaluators/types.js';
import { configKey, isFeasible, validateConfig } from '../space/space.js';
import type { ConfigSpace, Configuration } from '../space/types.js';
import { badMetrics } from './grade.js';
import { bestOf, gradeEvaluation, type EvaluationRecord, type SearchRecord, type SearchStatus } from './record.js';

export interface SearchBudget {
  /** Total evaluations in the record (the baseline included); a resumed search continues up to it. */
  evaluations?: number;
  /** Wall time for this run. */
  timeMs?: number;
}

export type SearchEvent =
  /**
   * A new evaluation was recorded; `count` of `limit` (the evaluation budget, when there is one).
   * `record` is the live record so far, for checkpoints (copy it; do not mutate).
   */
  | { type: 'evaluation'; evaluation: EvaluationRecord; count: number; limit?: number; best?: EvaluationRecord; record: SearchRecord }
  | { type: 'improved'; best: EvaluationRecord }
  | { type: 'evaluator-progress'; fraction: number; count: number }
  | { type: 'done'; status: SearchStatus; best?: EvaluationRecord; count: number };

/** Thrown through the searcher to end the run; never escapes runSearch. */
export class StopSearch extends Error {
  constructor(readonly status: SearchStatus) {
    super(`search stopped: ${status}`);
  }
}

export interface SessionInit {
  space: ConfigSpace;
  evaluator: Evaluator;
  workload: WorkloadRef;
  others: readonly WorkloadRef[];
  budget: SearchBudget;
  record: SearchRecord;
  signal?: AbortSignal;
  onEvent?: (e: SearchEvent) => void;
}

/** Cache answers in a row after which a searcher is taken to be going round in circles. */
const MAX_CACHE_STREAK = 10000;

export class SearchSession {
  readonly space: ConfigSpace;
  readonly record: SearchRecord;
  private readonly byKey = new Map<string, EvaluationRecord>();
  /**
   * What the searcher has been told so far, in order. On a resumed run the
   * record holds more; the searcher must only see what it would have seen
   * at this point of the original run, or its replay would diverge.
   */
  private readonly visible: EvaluationRecord[] = [];
  private readonly visibleKeys = new Set<string>();
  private readonly started = Date.now();
  private readonly elapsedBefore: number;
  private cacheStreak = 0;

  constructor(private readonly init: SessionInit) {
    this.space = init.space;
    this.record = init.record;
    this.elapsedBefore = init.record.elapsedMs;
    for (const e of this.record.evaluations) this.byKey.set(configKey(this.space, e.config), e);
  }

  /** Evaluations the searcher has seen (all of them, except while a resumed run replays). */
  get evaluations(): readonly EvaluationRecord[] {
    return this.visible;
  }
  /** Successful evaluations seen: what the model learns from. */
  get learned(): EvaluationRecord[] {
    return this.visible.filter((e) => e.status === 'ok');
  }
  get best(): EvaluationRecord | undefined {
    return this.record.best === undefined ? undefined : this.record.evaluations[this.record.best];
  }
  has(c: Configuration): boolean {
    return this.visibleKeys.has(configKey(this.space, c));
  }
  lookup(c: Configuration): EvaluationRecord | undefined {
    const k = configKey(this.space, c);
    return this.visibleKeys.has(k) ? this.byKey.get(k) : undefined;
  }

  /** Shows the searcher every recorded evaluation at once: for stateless planners, which need no replay to resume. */
  revealAll(): void {
    for (const e of this.record.evaluations) this.show(configKey(this.space, e.config), e);
  }

  private show(k: string, e: EvaluationRecord): EvaluationRecord {
    if (!this.visibleKeys.has(k)) {
      this.visibleKeys.add(k);
      this.visible.push(e);
    }
    return e;
  }
  /** The evaluation budget: evaluations in the record in all, the baseline included (undefined for a time-only budget). */
  get evaluationBudget(): number | undefined {
    return this.init.budget.evaluations;
  }
  /** Evaluations still allowed by the evaluation budget (Infinity without one). */
  get remaining(): number {
    const lim = this.init.budget.evaluations;
    return lim === undefined ? Infinity : Math.max(0, lim - this.record.evaluations.length - this.inFlight);
  }
  /** Evaluations started and not yet recorded (a batch evaluates several at once). */
  private inFlight = 0;

  /** The run's cancellation. */
  get signal(): AbortSignal | undefined {
    return this.init.signal;
  }

  /** Throws StopSearch when cancelled or out of budget. */
  checkStop(): void {
    if (this.init.signal?.aborted) throw new StopSearch('cancelled');
    if (this.remaining <= 0) throw new StopSearch('budget');
    const t = this.init.budget.timeMs;
    if (t !== undefined && Date.now() - this.started >= t) throw new StopSearch('time');
  }

  /**
   * Evaluates `config` on the target (and non-target) workloads and records
   * it. Already-recorded configurations are answered from the record. An
   * evaluator that throws, or returns metrics that cannot be graded, gives a
   * failed evaluation; the caller goes on.
   */
  async evaluate(config: Configuration, phase: string): Promise<EvaluationRecord> {
    // Searchers start from the baseline, which may carry fixed non-parameter settings: only parameters are recorded.
    const cfg = validateConfig(this.space, config, { constraints: false, unknown: 'ignore' });
    if (!isFeasible(this.space, cfg))
      throw ERR_SEARCH(`searcher proposed a configuration that violates the constraints of space ${this.space.name}: ${configKey(this.space, cfg)}`);
    const key = configKey(this.space, cfg);
    const cached = this.byKey.get(key);
    if (cached) {
      if (++this.cacheStreak > MAX_CACHE_STREAK) throw new StopSearch('converged');
      return this.show(key, cached);
    }
    this.checkStop();
    this.cacheStreak = 0;
    const startedAt = new Date();
    const t0 = performance.now();
    const { evaluator, workload, others } = this.init;
    // The index is the position at which the result is recorded: concurrent evaluations finish in any order.
    const base: Omit<EvaluationRecord, 'status' | 'ms'> = {
      index: -1,
      config: cfg,
      evaluator: evaluator.name,
      workload: workload.name,
      startedAt: startedAt.toISOString(),
      phase,
    };
    let ev: EvaluationRecord;
    this.inFlight++;
    try {
      const opts = {
        signal: this.init.signal,
        onProgress: (fraction: number) => this.init.onEvent?.({ type: 'evaluator-progress', fraction, count: this.record.evaluations.length }),
      };
      const metrics = await evaluator.evaluate(cfg, workload, opts);
      const why = badMetrics(metrics);
      if (why) throw new Error(`${evaluator.name} on ${workload.name}: ${why}`);
      const otherMetrics: Metrics[] = [];
      for (const w of others) {
        const m = await evaluator.evaluate(cfg, w, opts);
        const whyOther = badMetrics(m);
        if (whyOther) throw new Error(`${evaluator.name} on non-target ${w.name}: ${whyOther}`);
        otherMetrics.push(m);
      }
      base.index = this.record.evaluations.length;
      ev = gradeEvaluation(this.record, base, metrics, otherMetrics, performance.now() - t0);
    } catch (e) {
      // A cancelled evaluation is not a result: stop without recording it.
      if (this.init.signal?.aborted) throw new StopSearch('cancelled');
      // Nor is one that failed for the evaluator's own reason (a live device busy or left changed).
      if (evaluator.stopsSearch?.(e)) throw e;
      ev = {
        ...base,
        index: this.record.evaluations.length,
        status: 'failed',
        message: e instanceof Error ? e.message : String(e),
        ...(isSsdtuneError(e) ? { code: e.code } : {}),
        ms: performance.now() - t0,
      };
    } finally {
      this.inFlight--;
    }
    this.record.evaluations.push(ev);
    this.byKey.set(key, ev);
    this.show(key, ev);
    this.record.updatedAt = new Date().toISOString();
    this.record.elapsedMs = this.elapsedBefore + (Date.now() - this.started);
    const before = this.best;
    const best = bestOf(this.record.evaluations);
    this.record.best = best?.index;
    const lim = this.init.budget.evaluations;
    this.init.onEvent?.({
      type: 'evaluation',
      evaluation: ev,
      count: this.record.evaluations.length,
      ...(lim !== undefined ? { limit: lim } : {}),
      ...(best ? { best } : {}),
      record: this.record,
    });
    if (best && best !== before) this.init.onEvent?.({ type: 'improved', best });
    return ev;
  }
}
