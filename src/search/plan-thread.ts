/**
 * The search's model fits on a worker thread (a TaskThread,
 * src/util/task-thread.ts): the adaptive planner, and the optimiser of the
 * learnedssd searcher's Gaussian process (model.ts).
 * Each proposal fits a Gaussian process with one length scale per parameter
 * (surrogate.ts): about 200 ms of CPU on the ssd space, which on the event
 * loop held every request a server answered meanwhile (/v1/health p99 207.7 ms
 * during an ssd job). The planner is a pure function of its input, and the
 * thread runs the same code on an exact copy of it, so the proposals are the
 * ones the event loop would have made, bit for bit.
 *
 * A space crosses as data: its parameters and baseline as they are, its
 * constraints (functions) rebuilt on the thread from the space's `origin`
 * and checked to be the same rules by name and description. A planner or a
 * space the thread cannot rebuild (a test's own) is planned where it is.
 * The learnedssd model sends its data and options; the thread returns the
 * hyper-parameters exactly as its optimiser found them, and the model is
 * factorised with them on the loop (milliseconds), ending where a fit there
 * would have.
 */
import { ERR_SEARCH } from '../errors.js';
import { GaussianProcess, type GprOptions } from '../gpr/gpr.js';
import type { ConfigSpace, SpaceOrigin } from '../space/types.js';
import { isTaskThread, serveTasks, TaskThread } from '../util/task-thread.js';
import { AdaptiveSearch, type AdaptiveOptions } from './adaptive.js';
import type { PlanInput, Planner, Proposal } from './planner.js';
import { StopSearch } from './session.js';

/** A space without its constraints' functions: what crosses to the thread. */
interface SpaceData {
  name: string;
  params: ConfigSpace['params'];
  baseline: ConfigSpace['baseline'];
  /** Name and description of each constraint, in order: the thread's rebuilt ones must match. */
  rules: string[];
  origin?: SpaceOrigin;
}

type Input = Omit<PlanInput, 'space'> & { space: SpaceData };
/** A Gaussian process's options that cross as data: the default kernel (the thread builds its own), no prior function. */
export type GprData = Omit<GprOptions, 'kernel' | 'prior' | 'theta' | 'optimize'>;

type Task =
  | { op: 'propose'; adaptive: AdaptiveOptions; input: Input; k: number }
  | { op: 'relevance'; adaptive: AdaptiveOptions; input: Input }
  | { op: 'gpr-theta'; opts: GprData; X: Float64Array[]; y: number[] };

const MARK = 'ssdtune-plan-thread';

const rulesOf = (s: ConfigSpace): string[] => s.constraints.map((c) => `${c.name}: ${c.description}`);

async function rebuild(d: SpaceData): Promise<ConfigSpace> {
  let constraints: ConfigSpace['constraints'] = [];
  if (d.origin) {
    const mod = (await import(d.origin.module)) as Record<string, unknown>;
    const made = mod[d.origin.export];
    const built = (typeof made === 'function' ? (made as (...a: unknown[]) => ConfigSpace)(...(d.origin.args ?? [])) : made) as ConfigSpace | undefined;
    if (!built?.constraints) throw ERR_SEARCH(`space ${d.name}: ${d.origin.export} of ${d.origin.module} builds no space`);
    constraints = built.constraints;
  }
  const got = constraints.map((c) => `${c.name}: ${c.description}`);
  if (JSON.stringify(got) !== JSON.stringify(d.rules))
    throw ERR_SEARCH(`space ${d.name}: the planner thread rebuilt the constraints [${got.join('; ')}], the search has [${d.rules.join('; ')}]`);
  return { name: d.name, params: d.params, baseline: d.baseline, constraints, ...(d.origin ? { origin: d.origin } : {}) };
}

if (isTaskThread(MARK)) {
  serveTasks<Task>(async (t) => {
    if (t.op === 'gpr-theta') return new GaussianProcess({ ...t.opts, optimize: true }).fit(t.X, t.y).theta;
    const input: PlanInput = { ...t.input, space: await rebuild(t.input.space) };
    const planner = new AdaptiveSearch(t.adaptive);
    return t.op === 'propose' ? planner.propose(input, t.k) : planner.parameterRelevance(input);
  });
}

// Ended after 5 s without a fit (a search's evaluations are seconds apart): an idle server keeps no
// planner heap (about 15 MiB of RSS, which the 256 MiB bound of `npm run bench abuse` counts).
const thread = new TaskThread<Task>(new URL(import.meta.url), MARK, 'the planner thread', 5000);

/** The task's planner and space as data, or undefined when the thread cannot rebuild them. */
function crossing(planner: Planner, input: PlanInput): { adaptive: AdaptiveOptions; input: Input } | undefined {
  if (!(planner instanceof AdaptiveSearch)) return undefined;
  const s = input.space;
  if (s.constraints.length > 0 && !s.origin) return undefined;
  const space: SpaceData = { name: s.name, params: s.params, baseline: s.baseline, rules: rulesOf(s), ...(s.origin ? { origin: s.origin } : {}) };
  const { evaluations, pending, seed, budget } = input;
  return { adaptive: planner.opts, input: { evaluations, pending, seed, ...(budget !== undefined ? { budget } : {}), space } };
}

const cancelled = (signal: AbortSignal | undefined) => signal && { signal, error: () => new StopSearch('cancelled') };

/** `planner.propose(input, k)` off the event loop; `signal` cancels it (rejecting with StopSearch('cancelled')). */
export async function proposeOffThread(planner: Planner, input: PlanInput, k: number, signal?: AbortSignal): Promise<Proposal[]> {
  const c = crossing(planner, input);
  if (!c) return planner.propose(input, k);
  return thread.run({ op: 'propose', ...c, k }, cancelled(signal));
}

/** `planner.parameterRelevance(input)` off the event loop. */
export async function relevanceOffThread(planner: Planner, input: PlanInput): Promise<Map<string, number> | undefined> {
  const c = crossing(planner, input);
  if (!c) return planner.parameterRelevance?.(input);
  return thread.run({ op: 'relevance', ...c });
}

/**
 * The log hyper-parameters an optimising fit of a Gaussian process with the
 * default kernel finds on (X, y), exactly, found off the event loop; undefined
 * when the kernel has none. Pass them as `theta` to fit the same model here.
 */
export function fitThetaOffThread(opts: GprData, X: Float64Array[], y: number[]): Promise<Float64Array | undefined> {
  return thread.run({ op: 'gpr-theta', opts, X, y });
}

/** Stop the thread (a process that ends on its own need not). */
export function stopPlanThread(): Promise<void> {
  return thread.stop();
}
