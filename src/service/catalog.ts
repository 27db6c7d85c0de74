/**
 * The catalogue of configuration spaces and their evaluators: the one place
 * that knows which spaces exist, how each builds its parameters, which
 * evaluators score it (and which is the default), which replay modes each
 * evaluator honours, and whether and how a space's configurations reach a
 * device. Front ends generate their choices, help, REST enums and defaults
 * from it; tune() refuses any combination it does not list.
 *
 * It lives in the service layer, above sim/, host/ and evaluators/, so every
 * import points down. Adding an evaluator is one entry in EVALUATORS plus its
 * module, and its name in the `evaluators` of the space(s) it scores; adding a
 * space is one entry in SPACES plus its module.
 */
import type { Settings } from '../config.js';
import { aboutField, ERR_USAGE, isSsdtuneError } from '../errors.js';
import { replayDevice } from '../blockdev/safety.js';
import { LiveEvaluator } from '../evaluators/live/live-evaluator.js';
import { ReadaheadModelEvaluator } from '../evaluators/readahead/readahead-model.js';
import type { Evaluator, EvaluatorOptions, Replay, ReplayMode } from '../evaluators/types.js';
import { applyHostConfig, revertHostConfig, type ApplyOptions, type ApplyResult, type RevertOptions, type RevertResult } from '../host/applier.js';
import { buildHostSpace, readaheadModelSpace } from '../host/host-space.js';
import { builtMqsim, createMqsimEvaluator } from '../sim/mqsim.js';
import { ssdSpace } from '../sim/ssd-space.js';
import { PRECONDITION_DEFAULTS, createSsdsimEvaluator } from '../sim/ssdsim.js';
import { DEFAULT_LBA_POLICY } from '../sim/lba-fold.js';
import type { ConfigSpace } from '../space/types.js';
import type { StateStore } from '../host/state.js';
import { CONFIRM_ROUNDS } from '../search/confirm.js';
import { splitBudget } from '../search/fidelity.js';

/** What is known once the trace has been read, and where device changes are recorded. */
export interface EvaluatorRun {
  /** Requests in the trace (ssdsim reports progress against it). */
  totalRequests?: number;
  /** The way back of any device the evaluator changes (the ConfDB's device records), written before it writes. */
  deviceState?: StateStore;
}

/** Makes the evaluator once the trace has been read. */
export type EvaluatorMaker = (run: EvaluatorRun) => Evaluator;

export interface EvaluatorEntry {
  /** One line for help texts and the OpenAPI description. */
  summary: string;
  /** Replay modes it honours; any other is refused before the trace is read. */
  replayModes: readonly ReplayMode[];
  /** It maps addresses beyond the simulated capacity as told (lbaPolicy). */
  lbaPolicy: boolean;
  /** It works on a block device (--device): required, or not used at all. */
  device: 'required' | 'unused';
  /**
   * Its scores are measurements, different from run to run (live replay): a
   * search's best is measured again against the baseline before it is kept
   * (confirmRounds, src/search/confirm.ts). The others are deterministic.
   */
  measured: boolean;
  /**
   * The revision of its model, raised whenever its outcome for some input changes (a model mended, a trace read
   * otherwise). Outcomes of two revisions are not compared: a stored configuration answers only a request of its
   * own revision (gradeScope), and a fleet worker runs only evaluations of its own (EvaluationSpec.revision).
   * History: readahead-model 2 (3d56dbe: pages dirty for more than 30 s are written back, so long traces with
   * writes grade otherwise).
   */
  revision: number;
  /**
   * The options that decide its grades besides the replay intensity, as stored with a
   * configuration (ConfigRecord.evaluatorOptions): a stored grade answers only a request with
   * the same ones. Only those that differ from the evaluator's defaults (gradeOptions).
   */
  gradedWith(o: EvaluatorOptions, settings: Pick<Settings, 'ssdsim'>): Record<string, unknown>;
  /**
   * Checks what the evaluator needs (an MQSim binary, a device) and returns its
   * maker. Two steps because a wrong request must fail before the trace is
   * read, not after minutes of it.
   */
  prepare(o: EvaluatorOptions, settings: Pick<Settings, 'mqsimPath' | 'ssdsim'>): EvaluatorMaker;
  /**
   * What it needs of this host that the request names and that may change before it runs (the live evaluator's
   * device): checked when the request is submitted (TunePlan.checkHost) by the check the evaluator makes again when it
   * starts. Reads the host (sysfs, the device's first bytes), so it is not part of planTune.
   */
  checkHost?(o: EvaluatorOptions): void;
}

/** How a space's configurations reach a device (today: sysfs, through the applier). */
export interface SpaceApplier {
  how: string;
  apply(device: string, values: Record<string, string | number>, o: ApplyOptions): Promise<ApplyResult>;
  revert(device: string, o: RevertOptions): Promise<RevertResult>;
}

export interface SpaceEntry<E extends string = string> {
  summary: string;
  evaluators: readonly E[];
  defaultEvaluator: E;
  /** Its parameters: from the device when the evaluator works on one, else the device-less form. */
  build(o: { evaluator: E; device?: string }): ConfigSpace;
  /** Absent when its configurations cannot be applied; `notApplicable` then says what to do instead. */
  applier?: SpaceApplier;
  notApplicable?: string;
}

/**
 * A simulator's grade-deciding options without those that change nothing: the defaults (lbaPolicy modulo, a fresh
 * drive) and the age of a drive that is not filled (only a filled drive is aged). So `{}`, `{lbaPolicy: 'modulo'}`
 * and `{preconditionFill: 0, preconditionAge: 0}` are stored alike and answer each other; keys in one order.
 */
function gradeOptions(o: { lbaPolicy?: string; preconditionFill?: number; preconditionAge?: number }): Record<string, unknown> {
  const fill = o.preconditionFill ?? PRECONDITION_DEFAULTS.preconditionFill;
  const age = o.preconditionAge ?? PRECONDITION_DEFAULTS.preconditionAge;
  return {
    ...(o.lbaPolicy !== undefined && o.lbaPolicy !== DEFAULT_LBA_POLICY ? { lbaPolicy: o.lbaPolicy } : {}),
    ...(fill !== PRECONDITION_DEFAULTS.preconditionFill ? { preconditionFill: fill } : {}),
    ...(fill > 0 && age !== PRECONDITION_DEFAULTS.preconditionAge ? { preconditionAge: age } : {}),
  };
}

const EVALUATORS_TABLE = {
  ssdsim: {
    revision: 1,
    summary: 'the native SSD simulator',
    replayModes: ['recorded', 'scaled', 'closed'],
    lbaPolicy: true,
    device: 'unused',
    measured: false,
    gradedWith: (o, settings) => gradeOptions({ lbaPolicy: o.lbaPolicy, ...settings.ssdsim }),
    prepare: (o, settings) => (run) =>
      createSsdsimEvaluator({
        ...settings.ssdsim,
        replay: o.replay,
        ...(o.lbaPolicy ? { lbaPolicy: o.lbaPolicy } : {}),
        ...(run.totalRequests ? { totalRequests: run.totalRequests } : {}),
      }),
  },
  mqsim: {
    revision: 1,
    summary: 'MQSim, the reference simulator (built by scripts/build-mqsim.sh, or SSDTUNE_MQSIM)',
    // MQSim replays traces open loop only.
    replayModes: ['recorded', 'scaled'],
    lbaPolicy: true,
    device: 'unused',
    measured: false,
    gradedWith: (o) => gradeOptions({ lbaPolicy: o.lbaPolicy }),
    prepare: (o, settings) => {
      const binary = settings.mqsimPath ?? builtMqsim();
      if (!binary) throw ERR_USAGE('the mqsim evaluator needs MQSim: build it with scripts/build-mqsim.sh, or set SSDTUNE_MQSIM or "mqsimPath" in config.json');
      return () => createMqsimEvaluator({ binary, replay: o.replay, ...(o.lbaPolicy ? { lbaPolicy: o.lbaPolicy } : {}) });
    },
  },
  'readahead-model': {
    revision: 2,
    summary: "a model of Linux's page cache and readahead",
    replayModes: ['recorded', 'scaled', 'closed'],
    lbaPolicy: false,
    device: 'unused',
    measured: false,
    gradedWith: () => ({}),
    prepare: (o) => () => new ReadaheadModelEvaluator({ replay: o.replay }),
  },
  live: {
    revision: 1,
    summary: 'replay on a real block device (needs --device; read-only)',
    replayModes: ['recorded', 'scaled', 'closed'],
    lbaPolicy: false,
    device: 'required',
    measured: true,
    // The device is the measurement site (ConfigRecord.measuredOn), compared on its own.
    gradedWith: () => ({}),
    prepare: (o) => {
      const device = o.device;
      if (!device) throw aboutField(ERR_USAGE('the live evaluator replays on a block device: name one (it is only read)'), 'device');
      const r = o.replay;
      const mode =
        r.mode === 'closed'
          ? { mode: 'closed' as const, queueDepth: r.queueDepth }
          : { mode: 'timed' as const, timeScale: r.mode === 'scaled' ? 1 / r.speedup : 1 };
      return (run) => {
        if (!run.deviceState) throw ERR_USAGE('the live evaluator needs a store for the way back to the device (the ConfDB)');
        return new LiveEvaluator({ device, store: run.deviceState, ...mode });
      };
    },
    // The rules LiveEvaluator applies when it starts (no force: a tune never forces).
    checkHost: (o) => void (o.device && replayDevice(o.device, false)),
  },
} satisfies Record<string, EvaluatorEntry>;

export type EvaluatorName = keyof typeof EVALUATORS_TABLE;
export const EVALUATORS: Readonly<Record<EvaluatorName, EvaluatorEntry>> = EVALUATORS_TABLE;
export const EVALUATOR_NAMES = Object.keys(EVALUATORS) as EvaluatorName[];

const SPACES_TABLE = {
  ssd: {
    summary: 'SSD internals (channels, dies, caches, FTL), simulated',
    evaluators: ['ssdsim', 'mqsim'],
    defaultEvaluator: 'ssdsim',
    build: () => ssdSpace,
    notApplicable: 'device internals, which sysfs cannot set; print it as an MQSim ssdconfig.xml instead: `ssdtune db show configs ID --mqsim`',
  },
  host: {
    summary: 'readahead and block layer (read_ahead_kb, max_sectors_kb, scheduler ...)',
    evaluators: ['readahead-model', 'live'],
    defaultEvaluator: 'readahead-model',
    build: (o) => (o.evaluator === 'live' && o.device ? buildHostSpace(o.device) : readaheadModelSpace()),
    applier: { how: 'sysfs (block queue attributes), all or nothing, previous values recorded first', apply: applyHostConfig, revert: revertHostConfig },
  },
} satisfies Record<string, SpaceEntry<EvaluatorName>>;

export type SpaceName = keyof typeof SPACES_TABLE;
export const SPACES: Readonly<Record<SpaceName, SpaceEntry<EvaluatorName>>> = SPACES_TABLE;
export const SPACE_NAMES = Object.keys(SPACES) as SpaceName[];
export const REPLAY_MODES: readonly ReplayMode[] = ['recorded', 'scaled', 'closed'];

export function isSpace(s: string): s is SpaceName {
  return Object.hasOwn(SPACES, s);
}

export function isEvaluator(s: string): s is EvaluatorName {
  return Object.hasOwn(EVALUATORS, s);
}

/** The space's default evaluator, or the configured one (settings.evaluator) when it belongs to the space. */
export function defaultEvaluator(space: SpaceName, settings: Pick<Settings, 'evaluator'>): EvaluatorName {
  const s = SPACES[space];
  return (s.evaluators as readonly string[]).includes(settings.evaluator) ? (settings.evaluator as EvaluatorName) : s.defaultEvaluator;
}

/** What tune() needs from the catalogue for one request. */
export interface TunePlan {
  space: SpaceName;
  evaluator: EvaluatorName;
  makeEvaluator: EvaluatorMaker;
  buildSpace(): ConfigSpace;
  /** Rounds that confirm the search's best against the baseline: 0 unless the evaluator measures (EvaluatorEntry.measured). */
  confirmRounds: number;
  /** The evaluator's revision (EvaluatorEntry.revision). */
  revision: number;
  /** What decides its grades: its options and, from revision 2 on, its revision (gradeScope). */
  gradedWith: Record<string, unknown>;
  /**
   * Checks what the request names on this host (EvaluatorEntry.checkHost: the live evaluator's device); its errors
   * keep their code and name the request's field. Called when a tune is submitted and when its job starts.
   */
  checkHost(): void;
}

/**
 * What decides an evaluator's grades, as stored with a configuration (ConfigRecord.evaluatorOptions) and compared
 * when a stored grade may answer a request: its options (EvaluatorEntry.gradedWith) and its revision. Revision 1 is
 * left out, so grades stored before revisions were kept answer revision 1's requests (they are its grades).
 */
export function gradeScope(evaluator: EvaluatorName, options: EvaluatorOptions, settings: Pick<Settings, 'ssdsim'>): Record<string, unknown> {
  const entry = EVALUATORS[evaluator];
  return { ...entry.gradedWith(options, settings), ...(entry.revision > 1 ? { revision: entry.revision } : {}) };
}

/**
 * Checks a space/evaluator pair and the evaluator's options against the
 * catalogue (a usage error for anything it does not list), refuses a device's
 * evaluator in fleet mode (settings.queue), and prepares the evaluator. Cheap: nothing is read yet.
 */
export function planTune(
  r: {
    space: string;
    evaluator: string;
    replay: Replay;
    lbaPolicy?: EvaluatorOptions['lbaPolicy'];
    device?: string;
    confirmRounds?: number;
    batch?: number;
    budget?: number;
    searcher?: string;
    screenFraction?: number;
  },
  settings: Pick<Settings, 'mqsimPath' | 'ssdsim' | 'queue'>,
): TunePlan {
  if (!isSpace(r.space)) throw ERR_USAGE(`unknown space "${r.space}"; known: ${SPACE_NAMES.join(', ')}`);
  if (!isEvaluator(r.evaluator)) throw ERR_USAGE(`unknown evaluator "${r.evaluator}"; known: ${EVALUATOR_NAMES.join(', ')}`);
  const space = SPACES[r.space];
  const entry = EVALUATORS[r.evaluator];
  if (!space.evaluators.includes(r.evaluator)) {
    throw ERR_USAGE(`the ${r.evaluator} evaluator does not score the ${r.space} space; its evaluators: ${space.evaluators.join(', ')}`);
  }
  if (!entry.replayModes.includes(r.replay.mode)) {
    throw ERR_USAGE(`the ${r.evaluator} evaluator cannot replay in "${r.replay.mode}" mode; it honours ${entry.replayModes.join(', ')}`);
  }
  if (r.lbaPolicy && !entry.lbaPolicy)
    throw ERR_USAGE(`the ${r.evaluator} evaluator maps no addresses onto a simulated capacity: lbaPolicy does not apply to it`);
  if (r.device && entry.device === 'unused')
    throw aboutField(
      ERR_USAGE(`the ${r.evaluator} evaluator works from the trace alone: a device does not apply to it (the live evaluator replays on one)`),
      'device',
    );
  // A measurement on a device happens on the host that names it. A fleet's tune jobs and their evaluations run on
  // whichever worker takes them, on any host, where the name is another disk or none: refused, not queued.
  if (settings.queue && entry.device === 'required')
    throw ERR_USAGE(
      `the ${r.evaluator} evaluator measures ${r.device ?? 'a device'} on the host that runs it, and with a fleet queue (SSDTUNE_QUEUE) tune jobs and evaluations run on any worker's host: tune on the device's host without SSDTUNE_QUEUE (SSDTUNE_STORE may stay: the result is stored in the shared ConfDB)`,
    );
  if ((r.batch ?? 1) > 1 && entry.device === 'required')
    throw ERR_USAGE(
      `the ${r.evaluator} evaluator measures on one device, one configuration at a time: a batch of ${r.batch} would measure them over each other (batches are for evaluators that run in parallel)`,
    );
  if (r.confirmRounds === 1)
    throw ERR_USAGE(`confirmRounds 1: one round gives no spread to judge a gain by; give 0 (off) or ${CONFIRM_ROUNDS.min}..${CONFIRM_ROUNDS.max}`);
  if (r.confirmRounds && !entry.measured)
    throw ERR_USAGE(
      `the ${r.evaluator} evaluator is deterministic: its grades need no confirmation, so confirmRounds does not apply to it (the live evaluator's do)`,
    );
  if (r.screenFraction !== undefined && r.screenFraction < 1) {
    // Multi-fidelity is the adaptive search's: its search on the whole trace starts from the screen's best.
    if (r.searcher !== undefined && r.searcher !== 'adaptive')
      throw ERR_USAGE(
        `screenFraction ${r.screenFraction} screens with the adaptive searcher (its search on the whole trace starts from the screen's best); the ${r.searcher} searcher cannot screen: drop one of the two`,
      );
    // A budget too small to split fails now, before the trace is read.
    if (r.budget !== undefined) splitBudget(r.budget, r.screenFraction);
  }
  const options: EvaluatorOptions = { replay: r.replay, ...(r.lbaPolicy ? { lbaPolicy: r.lbaPolicy } : {}), ...(r.device ? { device: r.device } : {}) };
  const makeEvaluator = entry.prepare(options, settings);
  const evaluator = r.evaluator;
  return {
    space: r.space,
    evaluator,
    makeEvaluator,
    buildSpace: () => space.build({ evaluator, ...(r.device ? { device: r.device } : {}) }),
    confirmRounds: entry.measured ? (r.confirmRounds ?? CONFIRM_ROUNDS.default) : 0,
    revision: entry.revision,
    gradedWith: gradeScope(evaluator, options, settings),
    checkHost: () => {
      try {
        entry.checkHost?.(options);
      } catch (e) {
        // Only the device is read from the host today.
        throw isSsdtuneError(e) ? aboutField(e, 'device') : e;
      }
    },
  };
}

/** For help texts: "ssd: ssdsim (default), mqsim; host: ..." */
export function describeCatalog(): string {
  return SPACE_NAMES.map((s) => `${s}: ${SPACES[s].evaluators.map((e) => (e === SPACES[s].defaultEvaluator ? `${e} (default)` : e)).join(', ')}`).join('; ');
}
