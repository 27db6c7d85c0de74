/**
 * The LearnedSSD flow as one service call (docs/architecture.md, "Data flow of a tune"):
 * trace -> window descriptors -> identify against the ConfDB ->
 *   known workload with a stored configuration for this space: recommend it;
 *   otherwise: search one within the budget with the chosen evaluator (a
 *   measured evaluator's best confirmed against the baseline), store
 *   workload + configuration + every evaluation in one batch, recommend it.
 * The CLI `tune`, the REST job and `retune` all call `tune`.
 */
import path from 'node:path';
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { ConfigRecord, EvaluationRecord, WorkloadRecord } from '../confdb/records.js';
import type { Metrics, WorkloadRef } from '../evaluators/types.js';
import type { Configuration } from '../space/types.js';
import { clusterLabelOffThread } from '../ml/worker.js';
import { prefixShift } from '../ml/characterise.js';
import { profileWorkload, type Identification } from '../ml/identify.js';
import { openTraceOffThread } from '../readers/off-thread.js';
import { makeSearcher, parseRecord, runSearch, type SearchRecord } from '../search/search.js';
import { percentOf, runMultiFidelity, splitBudget } from '../search/fidelity.js';
import { confirmGain, type Confirmation } from '../search/confirm.js';
import { progressText, type ProgressParts } from './progress-text.js';
import { speedups } from '../search/grade.js';
import { planTune } from './catalog.js';
import type { Service } from './context.js';
import { identifyTrace } from './identify.js';
import type { ResolvedTuneArgs } from './tune-spec.js';
import { workloadRecord } from './workload-store.js';
import { measurementSite } from './measurement-site.js';
import { ConfDbStateStore } from '../host/confdb-state.js';
import { at } from '../util/at.js';
import { ERR_SEARCH, ERR_TRACE_UNTIMED, ERR_USAGE } from '../errors.js';
import { describeHeld, type Held } from '../blockdev/sysfs.js';

/**
 * A resolved tune request and where its trace is: the job handler looks the
 * path up from the spec's traceId; retune tunes a capture it never stores.
 */
export interface TuneInput {
  spec: ResolvedTuneArgs;
  tracePath: string;
  /** The trace's SHA-256 when the ConfDB keeps its bytes: in fleet mode evaluations then run as jobs that fetch it by digest. */
  traceSha256?: string;
  /** Learn for this stored workload, on this device class (a fleet search for an agent's workload), whatever the trace identifies as. */
  fleet?: { workloadId: string; deviceClass: string };
}

export interface TuneControl {
  signal?: AbortSignal;
  progress?: (done: number, total: number, message: string, info?: TuneProgressInfo) => void;
  /** Persist the search state so an interrupted search resumes. */
  checkpoint?: (state: TuneCheckpoint) => Promise<void> | void;
  /** A TuneCheckpoint from an interrupted run. */
  resumeFrom?: unknown;
  /** The job this search runs in (recorded on its evaluations). */
  jobId?: string;
  /** Decide and report, store nothing (retune --dry-run). */
  dryRun?: boolean;
}

/**
 * What a tune job persists while it searches: the workload id it will store
 * under, and the search so far (with multi-fidelity, the screen's record too;
 * `search` is absent while the screen runs).
 */
export interface TuneCheckpoint {
  workloadId: string;
  search?: SearchRecord;
  screen?: SearchRecord;
}

/** Progress details beside the message: the phase and the best grade so far. */
export type TuneProgressInfo = ProgressParts;

export interface TuneResult {
  workload: {
    id: string;
    name: string;
    known: boolean;
    identification: Identification;
    clusters?: number[];
    /** A new workload's spread in units of the typical radius (see KnownWorkload.spreadRatio). */
    spreadRatio?: number;
  };
  /** 'confdb': a stored configuration was recommended; 'search': one was learned now. */
  source: 'confdb' | 'search';
  /**
   * A known workload searched although a configuration is stored for it in the space: the best
   * stored, graded another way (evaluator, device or intensity), so it could not answer.
   */
  notComparable?: Pick<ConfigRecord, 'id' | 'evaluator' | 'replay' | 'measuredOn' | 'evaluatorOptions'>;
  config: ConfigRecord;
  /** The space's baseline the configuration is graded against (what the device has now, for the host space on a device). */
  baseline?: Configuration;
  gain?: { grade: number; throughputSpeedup: number; latencySpeedup: number };
  search?: {
    status: string;
    searcher?: string;
    /** Evaluations on the whole trace (the baseline included). */
    evaluations: number;
    failed: number;
    elapsedMs: number;
    /**
     * Multi-fidelity: evaluations on the leading fraction of the trace before the search on the whole, and how far
     * that prefix's window descriptors lie from the whole trace's (`prefixShift`; absent when it holds no full window).
     */
    screened?: { evaluations: number; fraction: number; shift?: number };
    /** How much each parameter mattered for this workload (most relevant 1), when the searcher learns it. */
    relevance?: Record<string, number>;
    /**
     * What the kernel changed beside the configurations' writes and ssdtune held for the measurements (a live
     * trial's holds: each evaluation's metrics.held), each with how many evaluations it happened in. Absent: none.
     */
    held?: HeldIn[];
  };
}

/** A hold and the number of a search's evaluations it happened in. */
export interface HeldIn extends Held {
  evaluations: number;
}

/** The progress details of a recorded evaluation: the phase, the best grade so far, and what the evaluation held. */
function progressInfo(phase: string, e: { evaluation: { metrics?: Metrics }; best?: { grade?: number } }): TuneProgressInfo {
  const held = e.evaluation.metrics?.held;
  return {
    phase,
    ...(e.best?.grade !== undefined ? { best: e.best.grade } : {}),
    unit: 'evaluations',
    ...(held?.length ? { held: held.map(describeHeld).join(', ') } : {}),
  };
}

/**
 * Each distinct hold of a search's evaluations (the screen's too) with the evaluations it happened in: what the
 * kernel changed beside the configurations' writes and ssdtune held for the measurements (a live trial's).
 */
export function searchHolds(records: readonly (SearchRecord | undefined)[]): HeldIn[] {
  const out = new Map<string, HeldIn>();
  for (const e of records.flatMap((r) => r?.evaluations ?? []))
    for (const h of e.metrics?.held ?? []) {
      const seen = out.get(describeHeld(h)) ?? { key: h.key, from: h.from, to: h.to, by: h.by, evaluations: 0 };
      seen.evaluations++;
      out.set(describeHeld(h), seen);
    }
  return [...out.values()];
}

function gainOf(c: ConfigRecord): TuneResult['gain'] {
  if (c.grade === undefined || !c.metrics || !c.baselineMetrics) return undefined;
  const s = speedups(c.metrics, c.baselineMetrics);
  return { grade: c.grade, throughputSpeedup: s.throughput, latencySpeedup: s.latency };
}

/**
 * A screen on fewer requests than this ranks configurations unlike the whole trace, and a trace that short is cheap
 * to evaluate whole. Measured (`npm run bench screen`, BENCHMARKS.md): on oltp-10x a prefix of 500 requests ranks
 * with Spearman 0.91 (250: 0.84, and its best reaches 63% of the whole trace's best), one of 800 with 0.97, of 1,000
 * with 0.98; msnfs-50x and the readahead model's seqread rank right from a few hundred.
 */
export const MIN_SCREEN_REQUESTS = 1000;

export async function tune(svc: Service, input: TuneInput, ctl: TuneControl = {}): Promise<TuneResult> {
  const { spec: req, tracePath } = input;
  // Catalogue and requirements first: reading a large trace only to reject a misspelt evaluator wastes minutes.
  const plan = planTune(req, svc.settings);
  // The device may have changed since the request was submitted: refused before the trace is read.
  plan.checkHost();
  // A device-backed evaluator's grades hold for the disk they were measured on (planTune refuses a device to the others).
  const site = req.device ? measurementSite(req.device) : undefined;
  ctl.progress?.(0, req.budget, 'characterising', { phase: 'characterising' });
  // The job's signal reaches the reader: a cancelled job stops reading, however large or slow the input.
  const readOpts = { ...(req.format ? { format: req.format } : {}), ...(ctl.signal ? { signal: ctl.signal } : {}) };
  const {
    model,
    described,
    format,
    timed,
    passedOver,
    streams,
    embeddings,
    identification: ident,
  } = await identifyTrace(svc, tracePath, { ...readOpts, purpose: 'tuning needs at least one' });
  // Every evaluator would pass over every request: the search's baseline would measure nothing (a latency of 0, no
  // grade), and a stored configuration recommended for it would answer a question the trace does not ask.
  if (timed === 0)
    throw ERR_TRACE_UNTIMED(
      tracePath,
      `none of its ${described.requests} requests is a read or write that moves data; passed over: ${passedOver}`,
      'the evaluators replay reads and writes of at least one byte and pass over the rest',
    );
  const windowSize = model.meta.windowSize;
  // Cluster labels need PCA + k-means over at least two windows (on the ML worker, off the event loop).
  const clusters = described.windows.length >= 2 ? (await clusterLabelOffThread(described)).clusters : undefined;
  // A device-backed evaluator records each device's way back in the ConfDB before it writes.
  const local = plan.makeEvaluator({ totalRequests: described.requests, deviceState: new ConfDbStateStore(svc.db, 'live-evaluator') });
  const evaluator =
    svc.evaluations && input.traceSha256
      ? svc.evaluations.evaluator(
          local,
          {
            space: req.space,
            evaluator: req.evaluator,
            replay: req.replay,
            ...(req.lbaPolicy ? { lbaPolicy: req.lbaPolicy } : {}),
            ...(req.device ? { device: req.device } : {}),
            ...(req.format ? { format: req.format } : {}),
            ssdsim: svc.settings.ssdsim,
            ...(plan.revision > 1 ? { revision: plan.revision } : {}),
            trace: { sha256: input.traceSha256, name: path.basename(tracePath) },
          },
          described.requests,
        )
      : local;
  const space = plan.buildSpace();

  const known = input.fleet
    ? await svc.db.require('workloads', input.fleet.workloadId)
    : ident.kind === 'known' && ident.nearest
      ? await svc.db.get('workloads', ident.nearest.id)
      : undefined;
  let notComparable: TuneResult['notComparable'];
  if (known && !req.forceSearch) {
    // Only a grade taken the way this request would take it answers it: by the same evaluator, on the same
    // device, at the same intensity (a busy-hour request searches anew).
    const classScope = input.fleet ? { deviceClass: input.fleet.deviceClass } : {};
    const stored = await svc.db.bestConfig(known.id, space.name, {
      ...classScope,
      evaluator: req.evaluator,
      ...(site ? { measuredOn: site.key } : {}),
      replay: req.replay,
      evaluatorOptions: plan.gradedWith,
    });
    if (!stored) {
      // Said in the result: a known workload's search is otherwise a surprise.
      const other = await svc.db.bestConfig(known.id, space.name, classScope);
      if (other) {
        const { id, evaluator, replay, measuredOn, evaluatorOptions } = other;
        notComparable = {
          id,
          ...(evaluator ? { evaluator } : {}),
          ...(replay ? { replay } : {}),
          ...(measuredOn ? { measuredOn } : {}),
          ...(evaluatorOptions ? { evaluatorOptions } : {}),
        };
      }
    }
    if (stored) {
      ctl.progress?.(req.budget, req.budget, 'recommended a stored configuration');
      return {
        workload: { id: known.id, name: known.name, known: true, identification: ident, ...(clusters ? { clusters } : {}) },
        source: 'confdb',
        config: stored,
        baseline: space.baseline,
        gain: gainOf(stored),
      };
    }
  }

  const checkpoint = ctl.resumeFrom as TuneCheckpoint | undefined;
  const resume = checkpoint?.search ? parseRecord(checkpoint.search, 'job checkpoint') : undefined;
  const workloadId = known?.id ?? checkpoint?.workloadId ?? newId();
  const name = known?.name ?? req.name ?? path.basename(tracePath);
  // Each evaluation reads the trace on a reader thread: parsing it on the event loop held up every request meanwhile.
  const ref: WorkloadRef = { name: `${name} (${workloadId})`, open: () => openTraceOffThread(tracePath, readOpts) };
  const common = { space, evaluator, seed: req.seed, ...(ctl.signal ? { signal: ctl.signal } : {}) };
  const fraction = req.screenFraction;
  let screened: SearchRecord | undefined;
  let shift: number | undefined;
  let record: SearchRecord;
  if (fraction !== undefined && fraction < 1) {
    // Multi-fidelity: screen on the trace's leading fraction, confirm on the whole; both records checkpointed.
    const prefix = Math.round(described.requests * fraction);
    if (prefix < MIN_SCREEN_REQUESTS)
      throw ERR_USAGE(
        `screenFraction ${fraction} screens on ${prefix} of the trace's ${described.requests} requests; a screen needs at least ${MIN_SCREEN_REQUESTS}` +
          (described.requests > MIN_SCREEN_REQUESTS
            ? ` (a fraction of at least ${Math.ceil((MIN_SCREEN_REQUESTS / described.requests) * 1000) / 1000} for this trace)`
            : ': this trace is too short to screen, and cheap to evaluate whole') +
          '; screenFraction 1 turns screening off',
      );
    shift = prefixShift(described, prefix);
    let screen = checkpoint?.screen ? parseRecord(checkpoint.screen, 'job checkpoint (screen)') : undefined;
    const { screen: nScreen, whole } = splitBudget(req.budget, fraction);
    const mf = await runMultiFidelity({
      ...common,
      workload: ref,
      budget: req.budget,
      fraction,
      totalRequests: described.requests,
      batch: req.batch,
      resume: { ...(screen ? { screen } : {}), ...(resume ? { search: resume } : {}) },
      onEvent: (e) => {
        if (e.type !== 'evaluation') return;
        const stage = e.stage === 'screen' ? `screening on ${percentOf(fraction)} of the trace` : 'search on the whole trace';
        const total = e.stage === 'screen' ? nScreen : whole;
        ctl.progress?.(e.count, total, progressText(stage, e.count, total, e.best?.grade, e.evaluation.metrics?.held), progressInfo(stage, e));
        if (e.stage === 'screen') screen = e.record;
        void ctl.checkpoint?.({
          workloadId,
          ...(e.stage === 'search' ? { search: structuredClone(e.record) } : {}),
          ...(screen ? { screen: structuredClone(screen) } : {}),
        } as TuneCheckpoint);
      },
    });
    screened = mf.screen;
    record = mf.record;
  } else {
    record = await runSearch(makeSearcher(req.searcher, { batch: req.batch }), {
      ...common,
      workload: ref,
      budget: { evaluations: req.budget },
      ...(resume ? { resume } : {}),
      onEvent: (e) => {
        if (e.type !== 'evaluation') return;
        ctl.progress?.(e.count, req.budget, progressText('search', e.count, req.budget, e.best?.grade, e.evaluation.metrics?.held), progressInfo('search', e));
        void ctl.checkpoint?.({ workloadId, search: structuredClone(e.record) });
      },
    });
  }
  if (ctl.signal?.aborted) throw new Error('tune cancelled');

  const now = new Date().toISOString();
  // The search records the baseline first and throws when it fails; without it nothing was graded.
  const [baseline] = record.evaluations;
  if (!baseline) throw ERR_SEARCH('no evaluation was recorded, not even the baseline: give a larger budget');
  const found = record.best !== undefined ? at(record.evaluations, record.best, 'evaluations') : baseline;
  // A measured evaluator's best is measured again against the baseline, and kept only if its gain holds
  // (search/confirm.ts). On the local evaluator: the queued one runs a configuration asked twice once.
  let confirmation: Confirmation | undefined;
  if (plan.confirmRounds > 0 && found !== baseline && found.grade !== undefined && found.grade > 0) {
    const total = 2 * plan.confirmRounds;
    const stage = 'confirming the best against the baseline';
    ctl.progress?.(0, total, progressText(stage, 0, total), { phase: stage, unit: 'evaluations' });
    confirmation = await confirmGain(local, ref, baseline.config, found.config, plan.confirmRounds, {
      ...(ctl.signal ? { signal: ctl.signal } : {}),
      onRound: (done) => ctl.progress?.(2 * done, total, progressText(stage, 2 * done, total), { phase: stage, unit: 'evaluations' }),
    });
  }
  const best = confirmation && !confirmation.holds ? baseline : found;
  const measured: Pick<ConfigRecord, 'grade' | 'metrics' | 'baselineMetrics'> = confirmation
    ? {
        grade: confirmation.holds ? confirmation.grade : 0,
        metrics: confirmation.holds ? confirmation.candidate : confirmation.baseline,
        baselineMetrics: confirmation.baseline,
      }
    : {
        ...(best.grade !== undefined ? { grade: best.grade } : {}),
        ...(best.metrics ? { metrics: best.metrics } : {}),
        ...(baseline.metrics ? { baselineMetrics: baseline.metrics as Metrics } : {}),
      };
  const configId = newId();
  const config: ConfigRecord = {
    id: configId,
    space: space.name,
    values: best.config,
    createdAt: now,
    workloadId,
    ...(input.fleet ? { deviceClass: input.fleet.deviceClass } : {}),
    evaluator: evaluator.name,
    replay: req.replay,
    ...(site ? { measuredOn: site } : {}),
    ...(Object.keys(plan.gradedWith).length ? { evaluatorOptions: plan.gradedWith } : {}),
    ...measured,
    ...(confirmation
      ? {
          confirmation: {
            rounds: confirmation.rounds,
            grades: confirmation.grades,
            low: confirmation.low,
            holds: confirmation.holds,
            searchGrade: found.grade!,
            ...(confirmation.holds ? {} : { candidate: found.config }),
          },
        }
      : {}),
  };
  const held = searchHolds([screened, record]);
  const evaluations = evaluationRecords(record, { workloadId, configId, bestIndex: best.index, ...(ctl.jobId ? { jobId: ctl.jobId } : {}) });
  const prof = known ? undefined : profileWorkload(model, workloadId, name, streams, embeddings);
  const workload: WorkloadRecord | undefined =
    prof &&
    workloadRecord(prof, {
      name,
      source: { paths: [path.resolve(tracePath)], format, requests: described.requests },
      windowSize,
      ...(model.id ? { modelId: model.id } : {}),
      ...(clusters ? { clusters } : {}),
    });
  if (!ctl.dryRun)
    await svc.db.batch([
      ...(workload ? [{ kind: 'workloads' as const, type: 'put' as const, value: workload }] : []),
      { kind: 'configs', type: 'put', value: config },
      ...evaluations.map((value) => ({ kind: 'evaluations' as const, type: 'put' as const, value })),
      ConfDB.audit('service', 'tune', { workloadId, configId, evaluator: evaluator.name, evaluations: evaluations.length, status: record.status }),
    ]);
  return {
    workload: {
      id: workloadId,
      name,
      known: !!known,
      identification: ident,
      ...(clusters ? { clusters } : {}),
      ...(prof?.spreadRatio !== undefined ? { spreadRatio: prof.spreadRatio } : {}),
    },
    source: 'search',
    ...(notComparable ? { notComparable } : {}),
    config,
    baseline: baseline.config,
    gain: gainOf(config),
    search: {
      status: record.status,
      searcher: record.searcher,
      evaluations: record.evaluations.length,
      failed: record.evaluations.filter((e) => e.status === 'failed').length,
      elapsedMs: record.elapsedMs + (screened?.elapsedMs ?? 0),
      ...(screened && fraction ? { screened: { evaluations: screened.evaluations.length, fraction, ...(shift !== undefined ? { shift } : {}) } } : {}),
      ...(record.relevance ? { relevance: record.relevance } : {}),
      ...(held.length ? { held } : {}),
    },
  };
}

/** A search's evaluations as the ConfDB stores them; the recommended one names its configuration record. */
export function evaluationRecords(record: SearchRecord, o: { workloadId: string; configId: string; bestIndex: number; jobId?: string }): EvaluationRecord[] {
  return record.evaluations.map((e) => ({
    id: newId(),
    workloadId: o.workloadId,
    ...(e.index === o.bestIndex ? { configId: o.configId } : {}),
    values: e.config,
    evaluator: e.evaluator,
    status: e.status,
    ...(e.metrics ? { metrics: e.metrics } : {}),
    ...(e.grade !== undefined ? { grade: e.grade } : {}),
    ...(e.message ? { error: e.message } : {}),
    ...(e.code ? { errorCode: e.code } : {}),
    at: e.startedAt,
    durationMs: e.ms,
    ...(o.jobId ? { jobId: o.jobId } : {}),
  }));
}
