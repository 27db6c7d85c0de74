/**
 * The one tune request: its TypeScript type is inferred from its JSON schema
 * (TypeBox), so the two cannot drift. The CLI builds one from its flags, the
 * REST API validates its body against the same schema (fastify type provider),
 * and a tune job stores it as-is (defaults filled in) in its record.
 *
 * The schema checks shapes and ranges; which space takes which evaluator,
 * replay mode, device or lbaPolicy is the catalogue's business (planTune).
 */
import { Ajv, type ErrorObject } from 'ajv';
import Type, { type Static, type TSchema } from 'typebox';
import type { Settings } from '../config.js';
import { ERR_USAGE, type SsdtuneError } from '../errors.js';
import type { LbaPolicy, Replay } from '../evaluators/types.js';
import { SEARCHERS, type SearcherName } from '../search/search.js';
import { CONFIRM_ROUNDS } from '../search/confirm.js';

export { SEARCHERS, CONFIRM_ROUNDS };
import {
  defaultEvaluator,
  EVALUATOR_NAMES,
  EVALUATORS,
  isEvaluator,
  planTune,
  REPLAY_MODES,
  SPACE_NAMES,
  describeCatalog,
  type EvaluatorName,
  type SpaceName,
  type TunePlan,
} from './catalog.js';

/** A string enum the OpenAPI document shows as one `enum` (a union of literals would be an anyOf). */
export const StringEnum = <T extends string>(values: readonly T[], opts: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });

const ReplayForms = Type.Union([
  Type.Object({ mode: Type.Literal('recorded') }, { additionalProperties: false }),
  Type.Object(
    { mode: Type.Literal('scaled'), speedup: Type.Number({ exclusiveMinimum: 0, description: 'arrival times are divided by it' }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { mode: Type.Literal('closed'), queueDepth: Type.Integer({ minimum: 1, maximum: 65536, description: 'requests kept outstanding' }) },
    { additionalProperties: false },
  ),
]);
/**
 * One form per mode, chosen by `mode` (a discriminator: ajv validates only the form the mode names), so an error
 * names that form's field ("replay.speedup must be > 0") or the mode itself. As a plain union, every form's first
 * error came back and the first form's was reported: scaled:0 failed "must NOT have additional properties (speedup)".
 */
export const ReplaySchema = Type.Unsafe<Static<typeof ReplayForms>>({
  type: 'object',
  oneOf: ReplayForms.anyOf,
  discriminator: { propertyName: 'mode' },
  description: `replay intensity (${REPLAY_MODES.join(', ')}); default recorded`,
});

export const BUDGET = { min: 2, max: 10_000, default: 30 } as const;
export const DEFAULT_SEED = 1;

/** Everything a tune request says but which trace (the CLI knows a path before it has a trace id). */
const argProperties = {
  space: Type.Optional(StringEnum<SpaceName>(SPACE_NAMES, { description: `${describeCatalog()} (default ssd)` })),
  evaluator: Type.Optional(StringEnum<EvaluatorName>(EVALUATOR_NAMES, { description: "default: the space's default evaluator" })),
  budget: Type.Optional(
    Type.Integer({
      minimum: BUDGET.min,
      maximum: BUDGET.max,
      description: `evaluations for a search, the baseline included (default ${BUDGET.default}, or the server's SSDTUNE_BUDGET)`,
    }),
  ),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: `search seed (default ${DEFAULT_SEED})` })),
  format: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'force the trace format instead of sniffing' })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "name for a new workload (default: the trace's name)" })),
  forceSearch: Type.Optional(Type.Boolean({ description: 'search even when a stored configuration matches' })),
  device: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'block device the live evaluator replays on (read-only)' })),
  replay: Type.Optional(ReplaySchema),
  lbaPolicy: Type.Optional(
    StringEnum<LbaPolicy>(['reject', 'modulo'], {
      description:
        'requests beyond the simulated capacity: modulo (default; folded onto it as MQSim folds, the count reported in the metrics as foldedRequests and foldedShare) or reject (a coded error naming the request)',
    }),
  ),
  searcher: Type.Optional(
    StringEnum<SearcherName>(SEARCHERS, {
      description: 'search strategy (default adaptive: learns which parameters matter; learnedssd: the LearnedSSD/AutoBlox search)',
    }),
  ),
  batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'configurations proposed and evaluated together per round (default 1)' })),
  screenFraction: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'multi-fidelity: screen on this leading fraction of the trace, then confirm on the whole (default 1: off)',
    }),
  ),
  confirmRounds: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: CONFIRM_ROUNDS.max,
      description: `measured evaluators (live): rounds that measure the search's best against the baseline again, in alternating order, before it is kept; it is kept only if its gain's 95% lower bound is above 0 (default ${CONFIRM_ROUNDS.default}; 0: off; else ${CONFIRM_ROUNDS.min}..${CONFIRM_ROUNDS.max})`,
    }),
  ),
};

/** What a tune request is called in its usage errors, from any front end. */
export const TUNE_REQUEST = 'tune request';

export const TuneArgsSchema = Type.Object(argProperties, { additionalProperties: false });
export const TuneSpecSchema = Type.Object(
  { traceId: Type.String({ minLength: 1, maxLength: 200, description: 'a stored trace (POST /v1/traces or /v1/traces/register)' }), ...argProperties },
  { additionalProperties: false },
);

export type TuneSpec = Static<typeof TuneSpecSchema>;
/** A TuneSpec without its trace. */
export type TuneArgs = Static<typeof TuneArgsSchema>;

type Defaults = { space: SpaceName; evaluator: EvaluatorName; budget: number; seed: number; replay: Replay; searcher: SearcherName; batch: number };
/** A validated spec with every default filled in: what a job record stores. */
export type ResolvedTuneSpec = TuneSpec & Defaults;
export type ResolvedTuneArgs = TuneArgs & Defaults;

// The schema's replay type is the evaluators' Replay, exactly (a compile error if either drifts).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const replayMatches: Same<Static<typeof ReplaySchema>, Replay> = true;
void replayMatches;

// Same options as fastify's validator: defaults filled in; unlike fastify's, unknown fields are an error, not dropped.
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false, discriminator: true });
const compiled = new Map<TSchema, ReturnType<typeof ajv.compile>>();

/**
 * A usage error from the first schema violation, naming the field: the same
 * words whether the service or fastify (schemaErrorFormatter) found it.
 */
export function usageError(errors: readonly Pick<ErrorObject, 'instancePath' | 'keyword' | 'params' | 'message'>[], what: string): SsdtuneError {
  const e = errors[0]!;
  const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : what;
  if (e.keyword === 'discriminator') {
    const { tag, tagValue } = e.params as { tag: string; tagValue: unknown };
    return ERR_USAGE(`${what}: ${field}.${tag} must be one of ${REPLAY_MODES.join(', ')}, got ${JSON.stringify(tagValue) ?? 'nothing'}`);
  }
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})`
      : e.keyword === 'enum'
        ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
        : '';
  return ERR_USAGE(`${what}: ${field} ${e.message ?? 'is invalid'}${extra}`);
}

/** Validate `input` against `schema` (filling defaults in a copy); a usage error names the field. */
export function validate<S extends TSchema>(schema: S, input: unknown, what: string): Static<S> {
  let check = compiled.get(schema);
  if (!check) compiled.set(schema, (check = ajv.compile(schema)));
  const copy = structuredClone(input);
  if (!check(copy)) throw usageError(check.errors!, what);
  return copy as Static<S>;
}

/**
 * Validate a tune request, fill its defaults, and check it against the
 * catalogue: the evaluator must score the space and honour the replay mode.
 * Everything here is a usage error (exit 2, HTTP 400) raised before any trace is read.
 */
export function resolveTuneSpec(input: unknown, settings: TuneSettings): { spec: ResolvedTuneSpec; plan: TunePlan } {
  const s = validate(TuneSpecSchema, input, TUNE_REQUEST);
  return resolve(s, settings);
}

/** resolveTuneSpec for a request whose trace is not stored yet (checked before anything is written). */
export function resolveTuneArgs(input: unknown, settings: TuneSettings): { spec: ResolvedTuneArgs; plan: TunePlan } {
  return resolve(validate(TuneArgsSchema, input, TUNE_REQUEST), settings);
}

type TuneSettings = Pick<Settings, 'evaluator' | 'mqsimPath' | 'ssdsim' | 'queue'> & Partial<Pick<Settings, 'tune'>>;

/**
 * Fills what the request leaves out from the settings' tune defaults
 * (environment, config file), then the built-in defaults. The settings'
 * values are checked like the request's own (a bad SSDTUNE_BUDGET is a usage
 * error naming it). lbaPolicy, device and confirmRounds defaults apply only to
 * evaluators that use them.
 */
function resolve<T extends TuneArgs>(s: T, settings: TuneSettings): { spec: T & Defaults; plan: TunePlan } {
  const d = settings.tune ?? {};
  const fromSettings = validate(
    TuneArgsSchema,
    {
      ...(d.space !== undefined ? { space: d.space } : {}),
      ...(d.budget !== undefined ? { budget: d.budget } : {}),
      ...(d.seed !== undefined ? { seed: d.seed } : {}),
      ...(d.searcher !== undefined ? { searcher: d.searcher } : {}),
      ...(d.batch !== undefined ? { batch: d.batch } : {}),
      ...(d.replay !== undefined ? { replay: parseReplay(d.replay, 'SSDTUNE_REPLAY (or config.json "tune.replay")') } : {}),
      ...(d.screenFraction !== undefined && d.screenFraction < 1 ? { screenFraction: d.screenFraction } : {}),
      ...(d.confirmRounds !== undefined ? { confirmRounds: d.confirmRounds } : {}),
    },
    'tune settings (SSDTUNE_* environment, config.json "tune")',
  );
  const space = s.space ?? fromSettings.space ?? 'ssd';
  // The setting names one evaluator for both spaces, so one outside this space is passed over; a name no space
  // has is a typo, not a choice.
  if (!isEvaluator(settings.evaluator))
    throw ERR_USAGE(`evaluator (SSDTUNE_EVALUATOR or config.json "evaluator") must be one of ${EVALUATOR_NAMES.join(', ')}, got "${settings.evaluator}"`);
  const evaluator = s.evaluator ?? defaultEvaluator(space, settings);
  const uses = isEvaluator(evaluator) ? EVALUATORS[evaluator] : undefined;
  const lbaPolicy = s.lbaPolicy ?? (uses?.lbaPolicy ? d.lbaPolicy : undefined);
  const device = s.device ?? (uses?.device === 'required' ? d.device : undefined);
  const screenFraction = s.screenFraction ?? fromSettings.screenFraction;
  const confirmRounds = s.confirmRounds ?? (uses?.measured ? fromSettings.confirmRounds : undefined);
  const spec = {
    ...s,
    space,
    evaluator,
    budget: s.budget ?? fromSettings.budget ?? BUDGET.default,
    seed: s.seed ?? fromSettings.seed ?? DEFAULT_SEED,
    replay: s.replay ?? fromSettings.replay ?? { mode: 'recorded' as const },
    searcher: s.searcher ?? fromSettings.searcher ?? 'adaptive',
    batch: s.batch ?? fromSettings.batch ?? 1,
    ...(lbaPolicy ? { lbaPolicy } : {}),
    ...(device ? { device } : {}),
    ...(screenFraction !== undefined && screenFraction < 1 ? { screenFraction } : {}),
    ...(confirmRounds !== undefined ? { confirmRounds } : {}),
  };
  return { spec, plan: planTune(spec, settings) };
}

export { describeReplay } from '../sim/replay.js';
/** From this share of folded requests `tune` warns that the replay overlaps addresses the trace kept apart. */
export { FOLD_WARN_SHARE } from '../sim/lba-fold.js';
/** From this descriptor shift of a screened prefix from the whole trace `tune` warns that the screen may mislead. */
export { SCREEN_SHIFT_WARNING } from '../ml/characterise.js';

/** `recorded`, `scaled:<speedup>` or `closed:<queueDepth>` (the CLI's --replay) as a Replay; the schema checks the numbers. */
/** `source` names where the text came from in its errors: the flag, or the setting. */
export function parseReplay(text: string, source = '--replay'): Replay {
  const [mode, arg, ...rest] = text.split(':');
  const num = (what: string) => {
    if (arg === undefined || arg === '' || rest.length)
      throw ERR_USAGE(`${source}: ${mode} takes ${what} after a colon (e.g. ${mode}:${mode === 'scaled' ? '2' : '32'}), got "${text}"`);
    return Number(arg);
  };
  if (mode === 'recorded' && arg === undefined) return { mode };
  if (mode === 'scaled') return { mode, speedup: num('the speedup') };
  if (mode === 'closed') return { mode, queueDepth: num('the queue depth') };
  throw ERR_USAGE(`${source}: expected recorded, scaled:<speedup> or closed:<queueDepth>, got "${text}"`);
}
