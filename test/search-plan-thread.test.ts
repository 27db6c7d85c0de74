/**
 * The search's model fits on their thread (src/search/plan-thread.ts): the
 * same proposals bit for bit as on the event loop, the model fits off the loop,
 * cancellation that reaches it, coded errors that cross back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { isSsdtuneError } from '../src/errors.js';
import type { Evaluator } from '../src/evaluators/types.js';
import { analyticWorkload, metricsFromValue } from '../src/search/analytic.js';
import { proposeOffThread, relevanceOffThread, stopPlanThread } from '../src/search/plan-thread.js';
import type { PlanInput, Planner } from '../src/search/planner.js';
import { AdaptiveSearch, LearnedSsdSearch, PlannedSearch, runSearch, type SearchRecord } from '../src/search/search.js';
import { GaussianProcess } from '../src/gpr/gpr.js';
import { autobloxKernel } from '../src/gpr/kernels.js';
import { StopSearch } from '../src/search/session.js';
import { Surrogate } from '../src/search/surrogate.js';
import { ssdSpace } from '../src/sim/ssd-space.js';
import { indexOf, levelCount } from '../src/space/params.js';
import type { Configuration } from '../src/space/types.js';
import { loopCpuMs } from './helpers/cpu.js';

after(() => stopPlanThread());

/** A smooth function over the ssd space's level positions, with its optimum inside: cheap, so the planner's cost shows. */
function ssdObjective(c: Configuration): number {
  return ssdSpace.params.reduce((s, p, i) => {
    const n = levelCount(p);
    const x = n > 1 ? indexOf(p, c[p.name]) / (n - 1) : 0;
    return s + (1 + (i % 3)) * (x - 0.3 - 0.05 * (i % 5)) ** 2;
  }, 0);
}
const evaluator: Evaluator = { name: 'ssd-analytic', space: 'ssd', evaluate: async (c) => metricsFromValue(ssdObjective(c), 0) };
const W = analyticWorkload('w');

/** The same planner, kept on the event loop: a planner the thread does not know is planned where it is. */
function onLoop(a: AdaptiveSearch): Planner {
  return { name: a.name, propose: (i, k) => a.propose(i, k), parameterRelevance: (i) => a.parameterRelevance(i) };
}

/** Fit calls made on this thread (the event loop) while `f` runs. */
async function fitsHere<T>(f: () => Promise<T>): Promise<{ value: T; fits: number }> {
  const orig = Surrogate.prototype.fit;
  let fits = 0;
  Surrogate.prototype.fit = function (this: Surrogate, ...a: Parameters<Surrogate['fit']>) {
    fits++;
    return orig.apply(this, a);
  };
  try {
    return { value: await f(), fits };
  } finally {
    Surrogate.prototype.fit = orig;
  }
}

const strip = (r: SearchRecord) => ({
  evaluations: r.evaluations.map((e) => ({ config: e.config, phase: e.phase, status: e.status, objective: e.objective, grade: e.grade })),
  best: r.best,
  relevance: r.relevance,
  status: r.status,
});

let record: SearchRecord | undefined;

test('plan thread: a search on the ssd space gives the same record as planning on the event loop, bit for bit, and fits nothing on the loop', async () => {
  for (const seed of [3, 11]) {
    const o = { space: ssdSpace, evaluator, workload: W, budget: { evaluations: 10 }, seed };
    const off = await fitsHere(() => runSearch(new PlannedSearch(new AdaptiveSearch(), 2), o));
    const here = await fitsHere(() => runSearch(new PlannedSearch(onLoop(new AdaptiveSearch()), 2), o));
    assert.deepEqual(strip(off.value), strip(here.value));
    assert.ok(
      off.value.evaluations.some((e) => e.phase.startsWith('model')),
      'the model proposed some configurations',
    );
    assert.ok(off.value.relevance, 'relevance stored');
    assert.equal(off.fits, 0, 'no surrogate fit on the event loop');
    assert.ok(here.fits > 0, 'the loop-side run fits on the loop (the count can fail)');
    record = off.value;
  }
});

test('plan thread: the event loop stays free while a proposal is planned', async () => {
  assert.ok(record);
  const input: PlanInput = { space: ssdSpace, evaluations: record.evaluations, pending: [], seed: record.seed };
  const a = new AdaptiveSearch();
  // The event loop's own CPU time: waiting on the thread costs it none. (Its wall-clock busy time, perf_hooks'
  // utilisation, also counts the time a loaded machine keeps it from a CPU.)
  const { value: off, ms: offCpu } = await loopCpuMs(() => proposeOffThread(a, input, 2));
  const { value: here, ms: hereCpu } = await loopCpuMs(() => a.propose(input, 2));
  assert.deepEqual(off, here);
  const what = `event loop CPU ${offCpu.toFixed(1)} ms planning off the loop, ${hereCpu.toFixed(1)} ms planning on it (load ${os.loadavg()[0]!.toFixed(2)})`;
  console.log(`# ${what}`);
  assert.ok(offCpu < 50 && offCpu * 4 < hereCpu, what);
  assert.deepEqual(await relevanceOffThread(a, input), a.parameterRelevance(input));
});

test('plan thread: cancelling ends only that proposal; the thread carries on', async () => {
  assert.ok(record);
  const input: PlanInput = { space: ssdSpace, evaluations: record.evaluations, pending: [], seed: record.seed };
  const a = new AdaptiveSearch();
  const expected = a.propose(input, 1);
  // Cancel the running one: it rejects at once as a cancelled search; the one queued behind it still answers.
  const running = new AbortController();
  const p1 = proposeOffThread(a, input, 1, running.signal);
  const p2 = proposeOffThread(a, input, 1);
  const queued = new AbortController();
  const p3 = proposeOffThread(a, input, 1, queued.signal);
  running.abort();
  queued.abort();
  await assert.rejects(p1, (e) => e instanceof StopSearch && e.status === 'cancelled');
  await assert.rejects(p3, (e) => e instanceof StopSearch && e.status === 'cancelled');
  assert.deepEqual(await p2, expected);
  // Already cancelled: nothing is started.
  await assert.rejects(proposeOffThread(a, input, 1, AbortSignal.abort()), StopSearch);
});

test('plan thread: errors cross back coded; constraints the thread cannot rebuild are refused', async () => {
  const extra = {
    ...ssdSpace,
    constraints: [...ssdSpace.constraints, { name: 'small', description: 'at most 4 channels', check: (c: Configuration) => Number(c.channels) <= 4 }],
  };
  await assert.rejects(proposeOffThread(new AdaptiveSearch(), { space: extra, evaluations: [], pending: [], seed: 1 }, 1), (e) => {
    assert.ok(isSsdtuneError(e) && e.code === 'SSDTUNE_SEARCH', String(e));
    assert.match(e.message, /small: at most 4 channels/);
    return true;
  });
  // Without an origin, such a space is planned on the loop (tests' own spaces).
  const { origin: _, ...bare } = extra;
  const props = await proposeOffThread(new AdaptiveSearch(), { space: bare, evaluations: [], pending: [], seed: 1 }, 1);
  assert.equal(props[0]?.phase, 'baseline');
});

test('plan thread: the learnedssd model is optimised off the loop and ends where an optimisation on the loop would, bit for bit', async () => {
  const orig = GaussianProcess.prototype.fit;
  let optimisedHere = 0;
  GaussianProcess.prototype.fit = function (this: GaussianProcess, ...a: Parameters<GaussianProcess['fit']>) {
    const r = orig.apply(this, a);
    if (this.theta) optimisedHere++;
    return r;
  };
  try {
    const o = { space: ssdSpace, evaluator, workload: W, budget: { evaluations: 10 }, seed: 5 };
    const off = await runSearch(new LearnedSsdSearch(), o);
    const offOptimised = optimisedHere;
    // A kernel given explicitly (the same default) is one the thread does not rebuild: optimised on the loop.
    const here = await runSearch(new LearnedSsdSearch({ model: { gpr: { kernel: autobloxKernel() } } }), o);
    assert.deepEqual(strip(off), strip(here));
    assert.equal(offOptimised, 0, 'no optimiser run on the event loop');
    assert.ok(optimisedHere > 0, 'the loop-side run optimises on the loop (the count can fail)');
  } finally {
    GaussianProcess.prototype.fit = orig;
  }
});
