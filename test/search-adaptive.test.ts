import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, configKey, defineSpace, indexOf, isFeasible, levelCount, sampleFeasible } from '../src/space/space.js';
import { ssdSpace } from '../src/sim/ssd-space.js';
import type { Configuration } from '../src/space/types.js';
import type { Evaluator, Metrics } from '../src/evaluators/types.js';
import {
  AnalyticEvaluator,
  analyticWorkload,
  braninProblem,
  hartmann6,
  hartmann6Point,
  hartmann6Problem,
  HARTMANN6_MIN,
  metricsFromValue,
} from '../src/search/analytic.js';
import {
  AdaptiveSearch,
  PlannedSearch,
  RandomSearch,
  SearchCoordinator,
  grade,
  makeSearcher,
  runSearch,
  type Planner,
  type SearchRecord,
} from '../src/search/search.js';
import { isSsdtuneError } from '../src/errors.js';
import { runMultiFidelity, splitBudget } from '../src/search/fidelity.js';
import { Surrogate, robustScale } from '../src/search/surrogate.js';
import { MODEL_POINTS, modelRows } from '../src/search/model-points.js';
import { GradeModel } from '../src/search/model.js';
import type { EvaluationRecord } from '../src/search/record.js';
import { Op, TraceBuilder, emptyMeta, limitSource, sourceFromBatches } from '../src/trace/model.js';

const W = analyticWorkload('w');
const m = (lat: number): Metrics => ({ latencyMeanUs: lat, throughputBps: 1e6 / lat, iops: 1e6 / lat });

/**
 * Hartmann-6 in a 12-parameter space whose other six parameters do nothing,
 * in groups the way real spaces come: the search should learn that the
 * `dead` ones are flat and spend its moves on the `live` ones.
 */
function embedded() {
  const levels = Array.from({ length: 21 }, (_, i) => i);
  const live = [1, 2, 3, 4, 5, 6].map((k) => ({ name: `x${k}`, kind: 'ordinal' as const, values: levels, default: 10, group: k <= 3 ? 'liveA' : 'liveB' }));
  const dead = [1, 2, 3, 4, 5, 6].map((k) => ({ name: `d${k}`, kind: 'ordinal' as const, values: levels, default: 10, group: k <= 3 ? 'deadA' : 'deadB' }));
  const space = defineSpace({ name: 'embedded', params: [...live, ...dead] });
  const f = (c: Configuration): number => hartmann6([1, 2, 3, 4, 5, 6].map((k) => (c[`x${k}`] as number) / 20));
  const ev: Evaluator = { name: 'embedded', space: 'embedded', evaluate: async (c) => metricsFromValue(f(c), HARTMANN6_MIN) };
  return { space, f, ev };
}

test('adaptive search: screening by groups, then the model learns which parameters matter', async () => {
  const { space, f, ev } = embedded();
  const rec = await runSearch(makeSearcher('adaptive'), { space, evaluator: ev, workload: W, budget: { evaluations: 40 }, seed: 1 });
  assert.equal(rec.searcher, 'adaptive');
  assert.equal(rec.evaluations.length, 40);
  // One screening configuration per group, each moving only that group's parameters.
  const screens = rec.evaluations.filter((e) => e.phase.startsWith('screen:'));
  assert.deepEqual(screens.map((e) => e.phase).sort(), ['screen:deadA', 'screen:deadB', 'screen:liveA', 'screen:liveB']);
  for (const e of screens) {
    const g = e.phase.slice('screen:'.length);
    const moved = space.params.filter((p) => e.config[p.name] !== space.baseline[p.name]).map((p) => p.group);
    assert.ok(moved.length > 0 && moved.every((x) => x === g), `${e.phase} moved ${moved.join(',')}`);
  }
  const rel = new AdaptiveSearch().parameterRelevance({ space, evaluations: rec.evaluations, pending: [], seed: 1 })!;
  const liveRel = [1, 2, 3, 4, 5, 6].map((k) => rel.get(`x${k}`)!);
  const deadRel = [1, 2, 3, 4, 5, 6].map((k) => rel.get(`d${k}`)!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(deadRel) < mean(liveRel) / 3, `live ${liveRel.map((v) => v.toFixed(2))} dead ${deadRel.map((v) => v.toFixed(2))}`);
  // After screening, evaluations are spent on the live parameters: hardly any model proposal differs from the
  // best configuration so far in dead parameters alone (such an evaluation could teach nothing).
  let incumbent = rec.evaluations[0]!;
  let deadOnly = 0;
  let modelled = 0;
  for (const e of rec.evaluations) {
    if (e.phase.startsWith('model')) {
      modelled++;
      const changed = space.params.filter((p) => e.config[p.name] !== incumbent.config[p.name]);
      if (changed.every((p) => p.name.startsWith('d'))) deadOnly++;
    }
    if (e.objective! > incumbent.objective!) incumbent = e;
  }
  assert.ok(modelled >= 30 && deadOnly <= 2, `${deadOnly} of ${modelled} model proposals moved dead parameters only`);
  const best = rec.evaluations[rec.best!]!;
  assert.ok(f(best.config) < -3, `best f ${f(best.config)}`);
});

test('adaptive search beats random search on Hartmann-6 at 30 evaluations over three seeds', async () => {
  const { space, f, ev } = embedded();
  let wins = 0;
  for (const seed of [1, 2, 3]) {
    const ours = await runSearch(makeSearcher('adaptive'), { space, evaluator: ev, workload: W, budget: { evaluations: 30 }, seed });
    const rnd = await runSearch(new RandomSearch(), { space, evaluator: ev, workload: W, budget: { evaluations: 30 }, seed });
    if (f(ours.evaluations[ours.best!]!.config) < f(rnd.evaluations[rnd.best!]!.config)) wins++;
  }
  assert.equal(wins, 3);
});

test('adaptive search: a small space is searched exhaustively, then the search converges', async () => {
  const p = braninProblem();
  const tiny = defineSpace({
    name: 'branin',
    params: [
      { name: 'i1', kind: 'int', min: 20, max: 25, default: 22 },
      { name: 'x2', kind: 'ordinal', values: [0, 2.5, 5, 7.5], default: 7.5 },
    ],
  });
  const rec = await runSearch(makeSearcher('adaptive'), {
    space: tiny,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 100 },
    seed: 1,
  });
  assert.equal(rec.status, 'converged');
  assert.equal(rec.evaluations.length, 24);
  assert.equal(new Set(rec.evaluations.map((e) => configKey(tiny, e.config))).size, 24);
});

test('batches: k configurations are evaluated at once, all distinct and feasible; resume continues from the record', async () => {
  const space = defineSpace({
    name: 'c',
    params: [
      { name: 'a', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 2, group: 'g' },
      { name: 'b', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 2, group: 'g' },
      { name: 'u', kind: 'int', min: 0, max: 40, default: 20, group: 'h' },
      { name: 'mode', kind: 'categorical', values: ['p', 'q', 'r'], default: 'p', group: 'h' },
    ],
    constraints: [{ name: 'budget', description: 'a*b <= 16', check: (c) => (c.a as number) * (c.b as number) <= 16 }],
  });
  let inFlight = 0;
  let maxInFlight = 0;
  const ev: Evaluator = {
    name: 'slowprod',
    space: 'c',
    async evaluate(c) {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return m(100 / ((c.a as number) * (c.b as number)) + ((c.u as number) - 31) ** 2 / 10 + (c.mode === 'q' ? 0 : 3));
    },
  };
  const rec = await runSearch(new PlannedSearch(new AdaptiveSearch(), 4), { space, evaluator: ev, workload: W, budget: { evaluations: 25 }, seed: 4 });
  assert.equal(maxInFlight, 4);
  assert.equal(rec.evaluations.length, 25);
  assert.equal(new Set(rec.evaluations.map((e) => configKey(space, e.config))).size, 25);
  rec.evaluations.forEach((e, i) => {
    assert.equal(e.index, i);
    assert.ok(isFeasible(space, e.config));
  });
  const best = rec.evaluations[rec.best!]!;
  assert.ok(best.grade! > 1, `best grade ${best.grade}`);
  // Resumed with a larger budget: the recorded evaluations are not repeated.
  let calls = 0;
  const counting: Evaluator = { ...ev, evaluate: (c, w, o) => (calls++, ev.evaluate(c, w, o)) };
  const more = await runSearch(new PlannedSearch(new AdaptiveSearch(), 4), {
    space,
    evaluator: counting,
    workload: W,
    budget: { evaluations: 33 },
    resume: JSON.parse(JSON.stringify(rec)),
  });
  assert.equal(calls, 8);
  assert.deepEqual(
    more.evaluations.slice(0, 25).map((e) => e.config),
    rec.evaluations.map((e) => e.config),
  );
});

test('coordinator: proposals with evaluations pending, results in any order, held until the baseline, resumed mid-flight', () => {
  const p = braninProblem();
  const fOf = (c: Configuration) => metricsFromValue(p.f(c), p.fmin);
  const opts = { planner: new AdaptiveSearch(), space: p.space, evaluator: 'analytic', workload: 'branin', budget: 14, seed: 7 };
  const c = new SearchCoordinator(opts);
  const first = c.propose(3);
  assert.equal(first.length, 3);
  assert.equal(first[0]!.phase, 'baseline');
  assert.deepEqual(first[0]!.config, p.space.baseline);
  // A screening result before the baseline's is held, then recorded right after it.
  assert.equal(c.complete(first[2]!.config, { metrics: fOf(first[2]!.config) }, { worker: 'w3' }), undefined);
  assert.equal(c.record.evaluations.length, 0);
  const base = c.complete(first[0]!.config, { metrics: fOf(first[0]!.config) })!;
  assert.equal(base.index, 0);
  assert.equal(c.record.evaluations.length, 2);
  assert.equal(c.record.evaluations[1]!.phase, `${first[2]!.phase}@w3`);
  assert.ok(Number.isFinite(c.record.evaluations[1]!.grade));
  // One still pending: new proposals avoid it.
  const second = c.propose(4);
  assert.equal(second.length, 4);
  const keys = new Set([...c.record.evaluations, ...second].map((e) => configKey(p.space, e.config)));
  keys.add(configKey(p.space, first[1]!.config));
  assert.equal(keys.size, 2 + 4 + 1);
  assert.equal(c.pending.length, 5);
  // A worker fails one, another is lost (released and proposed again later).
  c.complete(second[0]!.config, { error: 'worker ran out of memory' });
  c.release(second[1]!.config);
  assert.equal(c.record.evaluations.at(-1)!.status, 'failed');
  assert.throws(
    () => c.complete(second[0]!.config, { metrics: fOf(second[0]!.config) }),
    (e) => isSsdtuneError(e, 'SSDTUNE_SEARCH') && /already recorded/.test(e.message),
  );
  assert.throws(() => c.complete({ i1: 0, x2: 0 }, { metrics: fOf({ i1: 0, x2: 0 }) }), /never proposed/);

  // The coordinator restarts: from the stored record and the configurations still out, it proposes what the original would.
  const stored = JSON.parse(JSON.stringify(c.record)) as SearchRecord;
  const resumed = new SearchCoordinator({ ...opts, resume: stored, pending: c.pending });
  assert.deepEqual(resumed.propose(2), c.propose(2));
  // Budget: 14 in all, pending ones counted.
  for (const x of c.pending) c.complete(x, { metrics: fOf(x) });
  let guard = 0;
  while (c.status === 'running' && guard++ < 50) for (const q of c.propose(3)) c.complete(q.config, { metrics: fOf(q.config) });
  assert.equal(c.status, 'budget');
  assert.equal(c.record.evaluations.length, 14);
  assert.deepEqual(c.propose(3), []);
  // A resumed record must come from the same planner, space and names.
  assert.throws(() => new SearchCoordinator({ ...opts, workload: 'other', resume: stored }), /cannot resume: the record's workload is "branin"/);
});

test('the planner is told the evaluation budget: by a search (resumed too) and by the coordinator; a time-only budget has none', async () => {
  // A planner that notes what it is told, planning with the adaptive search on the event loop.
  const seen: (number | undefined)[] = [];
  const inner = new AdaptiveSearch();
  const noting: Planner = {
    name: 'adaptive',
    propose(input, k) {
      seen.push(input.budget);
      return inner.propose(input, k);
    },
  };
  const p = braninProblem();
  const ev = new AnalyticEvaluator(p);
  const rec = await runSearch(new PlannedSearch(noting), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 6 }, seed: 3 });
  assert.equal(rec.evaluations.length, 6);
  assert.deepEqual([...new Set(seen)], [6]);
  seen.length = 0;
  await runSearch(new PlannedSearch(noting), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 9 }, seed: 3, resume: rec });
  assert.deepEqual([...new Set(seen)], [9]);
  seen.length = 0;
  await runSearch(new PlannedSearch(noting), { space: p.space, evaluator: ev, workload: W, budget: { timeMs: 300 }, seed: 3 });
  assert.ok(seen.length > 0);
  assert.deepEqual([...new Set(seen)], [undefined]);
  seen.length = 0;
  const c = new SearchCoordinator({ planner: noting, space: p.space, evaluator: 'analytic', workload: 'branin', budget: 5 });
  c.propose(2);
  assert.deepEqual(seen, [5]);
});

test('coordinator: a failed baseline is an error', () => {
  const p = braninProblem();
  const c = new SearchCoordinator({ planner: new AdaptiveSearch(), space: p.space, evaluator: 'analytic', workload: 'b' });
  const [b] = c.propose(1);
  assert.throws(() => c.complete(b!.config, { error: 'device missing' }), /baseline configuration could not be evaluated.*device missing/);
});

test('limitSource: the first n requests of a trace, across batch boundaries, the rest never read', async () => {
  const b1 = new TraceBuilder();
  for (let i = 0; i < 5; i++) b1.push(i, i, 4096, Op.READ);
  const b2 = new TraceBuilder();
  for (let i = 5; i < 10; i++) b2.push(i, i, 4096, Op.READ);
  let pulled = 0;
  const batches = [b1.take(), b2.take(), b1.take()];
  const src = {
    meta: emptyMeta('x', 'test'),
    async *[Symbol.asyncIterator]() {
      for (const b of batches) {
        pulled++;
        yield b;
      }
    },
  };
  const got: number[] = [];
  for await (const b of limitSource(src, 7)) got.push(...b.timeNs);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(pulled, 2, 'the third batch is never read');
});

test('multi-fidelity: screen on a prefix, confirm the best screened on the whole, budget in whole-trace evaluations; resumable', async () => {
  // A workload whose first 10% already shows where the good configurations are (a little noisier).
  const p = braninProblem();
  const calls = { prefix: 0, whole: 0 };
  const ev: Evaluator = {
    name: 'prefix-aware',
    space: 'branin',
    async evaluate(c, w) {
      const src = await w.open();
      let n = 0;
      for await (const b of src) n += b.length;
      const prefix = n < 1000;
      calls[prefix ? 'prefix' : 'whole']++;
      const f = p.f(c) + (prefix ? 0.3 * Math.sin(7 * (c.i1 as number)) : 0);
      return metricsFromValue(f, p.fmin - 0.5);
    },
  };
  const tb = new TraceBuilder();
  for (let i = 0; i < 1000; i++) tb.push(i * 1000, i * 8, 4096, Op.READ);
  const whole = tb.take();
  const workload = { name: 'trace', open: async () => sourceFromBatches(emptyMeta('trace', 'test'), [whole]) };
  assert.deepEqual(splitBudget(20, 0.1), { screen: 100, whole: 10 });
  assert.throws(() => splitBudget(3, 0.1), /cannot be split/);
  const events: string[] = [];
  const r = await runMultiFidelity({
    space: p.space,
    evaluator: ev,
    workload,
    budget: 20,
    fraction: 0.1,
    totalRequests: 1000,
    seed: 3,
    onEvent: (e) => e.type === 'evaluation' && events.push(e.stage),
  });
  assert.equal(r.screen.evaluations.length, 100);
  assert.match(r.screen.workload, /\[first 10%\]/);
  assert.equal(r.record.evaluations.length, 10);
  assert.equal(calls.whole, 10);
  assert.equal(r.record.evaluations[0]!.phase, 'baseline');
  // The whole-trace search starts from the screen's best distinct configurations (2..6 of them).
  const confirmed = r.record.evaluations.filter((e) => e.phase === 'confirm');
  assert.ok(confirmed.length >= 2, `${confirmed.length} confirmed`);
  const screenBest = [...r.screen.evaluations].sort((a, b) => b.objective! - a.objective!)[0]!;
  assert.deepEqual(confirmed[0]!.config, screenBest.config);
  assert.equal(events.filter((s) => s === 'screen').length, 100);
  const bestWhole = r.record.evaluations[r.record.best!]!;
  assert.ok(p.f(bestWhole.config) < 1, `best on the whole trace f = ${p.f(bestWhole.config)}`);
  // Resume: a stopped run with both records continues without repeating an evaluation.
  const before = { ...calls };
  const again = await runMultiFidelity({
    space: p.space,
    evaluator: ev,
    workload,
    budget: 20,
    fraction: 0.1,
    totalRequests: 1000,
    seed: 3,
    resume: { screen: JSON.parse(JSON.stringify(r.screen)), search: JSON.parse(JSON.stringify(r.record)) },
  });
  assert.deepEqual(calls, before);
  assert.deepEqual(
    again.record.evaluations.map((e) => e.config),
    r.record.evaluations.map((e) => e.config),
  );
});

test('robustScale: repeated values (parameters with no effect) do not let one catastrophe set the model scale', () => {
  // Ten grades of an ssd search: six configurations changed only parameters with no effect on this
  // workload (the baseline's grade 0 again), one screening move overloaded the device.
  const ys = [0, -4.568, 0, 0, 0, 0, 0.0006, -0.02, 0, 0];
  const { z, toZ } = robustScale(ys);
  // The catastrophe is clipped a few interquartile ranges below the rest, still the worst...
  assert.ok(z[1]! < Math.min(...z.filter((_, i) => i !== 1)));
  assert.ok(z[1]! > -4, `the catastrophe at ${z[1]} standard deviations`);
  // ...and the good configurations keep differences the model can see (unclipped: 0.013 of the scale).
  assert.ok(toZ(0.0006) - toZ(-0.02) > 0.3, `spread among good grades ${toZ(0.0006) - toZ(-0.02)}`);
  // Distinct values only: with no ties the scale is what it was (nothing clipped in a tight cluster).
  const { z: z2 } = robustScale([1, 2, 3, 4, 5]);
  assert.deepEqual(
    Array.from(z2, (v) => +v.toFixed(6)),
    [-1.414214, -0.707107, 0, 0.707107, 1.414214],
  );
});

test('screening on the ssd space: each group moves towards the middle of its ranges and repairs capacity itself', () => {
  const ordered = (p: (typeof ssdSpace.params)[number]): boolean => p.kind === 'int' || (p.kind === 'ordinal' && levelCount(p) > 2);
  let outward = 0;
  let moved = 0;
  let foreign = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const design = new AdaptiveSearch().screeningDesign(ssdSpace, seed);
    assert.equal(design.length, 5, 'one screen per group: parallelism, geometry, gc, dram, host');
    for (const { config, phase } of design) {
      assert.ok(isFeasible(ssdSpace, config), `${phase} feasible`);
      const g = phase.slice('screen:'.length);
      const groupOutward: string[] = [];
      for (const p of ssdSpace.params) {
        const from = indexOf(p, ssdSpace.baseline[p.name]);
        const to = indexOf(p, config[p.name]);
        if (from === to) continue;
        if (p.group !== g) {
          foreign++;
          continue;
        }
        if (!ordered(p)) continue;
        moved++;
        const mid = (levelCount(p) - 1) / 2;
        // A default in the very middle has no inward side: it moves either way.
        if (from !== mid && Math.sign(to - from) !== Math.sign(mid - from)) groupOutward.push(p.name);
      }
      // At most one parameter of the group moves outwards: the one that repairs the constraint the others broke.
      assert.ok(groupOutward.length <= 1, `seed ${seed} ${phase} moved ${groupOutward.join(', ')} outwards`);
      outward += groupOutward.length;
    }
  }
  // Channels 12 -> 1 (a 5,000x slower device on a busy trace) is the kind of move this rules out; and the
  // screen of a group says what that group does: parameters of other groups stay at the baseline.
  assert.ok(outward <= moved / 5, `${outward} of ${moved} moves outwards`);
  assert.equal(foreign, 0, 'screens that moved another group to repair a constraint');
});

test('after screening, the moves that beat the baseline are tried together before the model guides', async () => {
  // Three groups: `a` and `b` lower the latency as their values grow (their defaults sit low in the range, so
  // the inward screening moves help), `c` does nothing.
  const levels = Array.from({ length: 21 }, (_, i) => i);
  const params = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'].map((name) => ({ name, kind: 'ordinal' as const, values: levels, default: 3, group: name[0]! }));
  const space = defineSpace({ name: 'additive', params });
  const ev: Evaluator = {
    name: 'additive',
    space: 'additive',
    evaluate: async (c) => m(100 - (c.a1 as number) - (c.a2 as number) - (c.b1 as number) - (c.b2 as number)),
  };
  for (const seed of [1, 2, 3]) {
    const rec = await runSearch(makeSearcher('adaptive'), { space, evaluator: ev, workload: W, budget: { evaluations: 6 }, seed });
    assert.deepEqual(
      rec.evaluations.map((e) => e.phase),
      ['baseline', 'screen:a', 'screen:b', 'screen:c', 'combine', rec.evaluations[5]!.phase],
    );
    const [, a, b, c, both] = rec.evaluations;
    for (const p of ['a1', 'a2']) assert.equal(both!.config[p], a!.config[p]);
    for (const p of ['b1', 'b2']) assert.equal(both!.config[p], b!.config[p]);
    // The flat group's move beat nothing: its parameters stay at the baseline.
    assert.equal(c!.grade, 0);
    for (const p of ['c1', 'c2']) assert.equal(both!.config[p], 3);
    assert.ok(both!.grade! > Math.max(a!.grade!, b!.grade!));
  }
});

test('length scales are shared within a parameter group; a space without groups gets one configuration from the whole space, then the model', async () => {
  // Without groups (Hartmann-6): one shared length scale, so the model cannot call a parameter flat merely because
  // the first few points did not vary it; and one design point, not a design around the baseline.
  const p = hartmann6Problem();
  const rec = await runSearch(makeSearcher('adaptive'), {
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 8 },
    seed: 1,
  });
  assert.deepEqual(
    rec.evaluations.slice(0, 3).map((e) => e.phase.split(':')[0]),
    ['baseline', 'screen', 'model'],
  );
  const flat = new AdaptiveSearch().parameterRelevance({ space: p.space, evaluations: rec.evaluations, pending: [], seed: 1 })!;
  assert.deepEqual([...flat.values()], [1, 1, 1, 1, 1, 1]);
  // With groups: the parameters of a group share theirs, the groups differ (the dead ones are flat).
  const { space, ev } = embedded();
  const g = await runSearch(makeSearcher('adaptive'), { space, evaluator: ev, workload: W, budget: { evaluations: 16 }, seed: 2 });
  const s = new Surrogate(space);
  assert.ok(s.fit(g.evaluations.map((e) => ({ config: e.config, y: e.objective! }))));
  const ls = new Map(space.params.map((q, i) => [q.name, s.lengthScales()[i]!]));
  for (const [a, b] of [
    ['x1', 'x3'],
    ['x4', 'x6'],
    ['d1', 'd2'],
    ['d4', 'd6'],
  ] as const)
    assert.equal(ls.get(a), ls.get(b), `${a} and ${b} share a group`);
  assert.ok(ls.get('d1')! > 2 * ls.get('x1')!, `dead group ${ls.get('d1')}, live ${ls.get('x1')}`);
});

test('Hartmann-6 and its mirror image: within 20 evaluations the adaptive search reaches 90% of the best grade on most seeds', async () => {
  // The goal of issue 13, on the function and on its mirror image (x -> 1 - x: the optimum elsewhere on the same
  // grid, so what is tested is not this grid's luck). Before the best configuration's one- and two-parameter
  // neighbours entered the candidate pool (and with the bound's weight scaled by the exploration width), 6 of these
  // 20 searches reached 90%; now 13.
  const p = hartmann6Problem();
  const xs = hartmann6Point;
  // The best grid value: every point within 10% of the best grade lies within 3 levels of the continuous optimum.
  let fbest = Infinity;
  const centre = [4, 3, 10, 6, 6, 13];
  const box = (k: number, x: number[]): void => {
    if (k === 6) {
      fbest = Math.min(fbest, hartmann6(x.map((i) => i / 20)));
      return;
    }
    for (let i = Math.max(0, centre[k]! - 3); i <= Math.min(20, centre[k]! + 3); i++) box(k + 1, [...x, i]);
  };
  box(0, []);
  const base = metricsFromValue(hartmann6(xs(p.space.baseline)), HARTMANN6_MIN);
  const bestGrade = grade(metricsFromValue(fbest, HARTMANN6_MIN), base);
  let reached = 0;
  const fractions: string[] = [];
  for (const mirror of [false, true]) {
    const f = (c: Configuration): number => hartmann6(xs(c).map((v) => (mirror ? 1 - v : v)));
    const ev = new AnalyticEvaluator({ space: p.space, fmin: HARTMANN6_MIN, f });
    for (let seed = 1; seed <= 10; seed++) {
      const rec = await runSearch(makeSearcher('adaptive'), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 20 }, seed });
      const frac = Math.max(...rec.evaluations.map((e) => e.grade!)) / bestGrade;
      fractions.push(frac.toFixed(2));
      if (frac >= 0.9) reached++;
    }
  }
  assert.ok(reached >= 11, `${reached} of 20 searches reached 90% of the best grade within 20: ${fractions.join(' ')}`);
  // Given a budget of 20, the last evaluation maximises expected improvement rather than the bound: 3 of these 20
  // searches reach 98% of the best grade (1 when the last evaluation explored like the others).
  const at98 = fractions.filter((f) => Number(f) >= 0.98).length;
  assert.ok(at98 >= 2, `${at98} of 20 searches reached 98% of the best grade within 20: ${fractions.join(' ')}`);
});

test('a search that knows its budget spends its last round on expected improvement; without an evaluation budget it never does', async () => {
  const p = hartmann6Problem();
  const ev = new AnalyticEvaluator(p);
  const last = (r: SearchRecord) => r.evaluations.map((e) => e.phase === 'model:last');
  const one = await runSearch(makeSearcher('adaptive'), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 12 }, seed: 2 });
  assert.deepEqual(last(one), [...new Array(11).fill(false), true]);
  // Batches of 3 with a budget of 13: the baseline, then rounds of 3; the fourth (evaluations 11-13) is the last.
  const batched = await runSearch(makeSearcher('adaptive', { batch: 3 }), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 13 }, seed: 2 });
  assert.equal(batched.evaluations.length, 13);
  assert.deepEqual(last(batched).slice(-4), [false, true, true, true]);
  const timed = await runSearch(makeSearcher('adaptive'), { space: p.space, evaluator: ev, workload: W, budget: { timeMs: 1500 }, seed: 2 });
  assert.ok(timed.evaluations.length > 12 && !last(timed).some(Boolean), `${timed.evaluations.length} evaluations`);
});

test('the maximin design with initial > 1 keeps its points away from the baseline as well as from each other', () => {
  // Baseline in a corner of a space without groups. Maximin counts the baseline (evaluated first) as a point
  // already chosen: the first design point is the draw farthest from it, the next ones spread from both. A design
  // that spreads its points among themselves only puts one next to the baseline in a good share of seeds (the
  // first is any draw, the second the draw farthest from it: often the baseline's corner).
  const levels = Array.from({ length: 21 }, (_, i) => i);
  const space = defineSpace({ name: 'corner', params: ['u', 'v'].map((name) => ({ name, kind: 'ordinal' as const, values: levels, default: 0 })) });
  const dist = (a: Configuration, b: Configuration): number =>
    space.params.reduce((s, p) => s + Math.abs((a[p.name] as number) - (b[p.name] as number)) / 20, 0);
  for (let seed = 1; seed <= 20; seed++) {
    const design = new AdaptiveSearch({ initial: 3 }).screeningDesign(space, seed).map((p) => p.config);
    assert.equal(design.length, 3, `seed ${seed}`);
    const points = [space.baseline, ...design];
    const nearest = Math.min(...points.flatMap((a, i) => points.slice(i + 1).map((b) => dist(a, b))));
    // Three points in the far corners of the square (distance 1 or 2 apart, the range 0..2), give or take a draw.
    assert.ok(nearest >= 0.6, `seed ${seed}: the nearest pair of baseline + design ${JSON.stringify(design)} is ${nearest.toFixed(2)} apart`);
  }
});

test('past MODEL_POINTS the model fits on the best half and the latest evaluations: a proposal after 1,000 takes seconds, not minutes', () => {
  // modelRows: all up to the cap, in order; past it the best half (the later of equals) and the most recent rest.
  assert.deepEqual(modelRows([3, 1, 2], 4), [0, 1, 2]);
  assert.deepEqual(modelRows([5, 0, 9, 0, 9, 1, 2, 3], 4), [2, 4, 6, 7]);
  const big = Array.from({ length: 1000 }, (_, i) => Math.sin(i));
  const rows = modelRows(big);
  assert.equal(rows.length, MODEL_POINTS);
  assert.ok(
    rows.every((r, j) => j === 0 || r > rows[j - 1]!),
    'ascending',
  );
  const top = [...big.keys()].sort((a, b) => big[b]! - big[a]!).slice(0, MODEL_POINTS / 2);
  assert.ok(
    top.every((i) => rows.includes(i)),
    'the best half kept',
  );
  assert.ok(rows.includes(999) && rows.includes(990), 'the latest kept');

  // 1,000 evaluations of Hartmann-6: the adaptive planner fits on MODEL_POINTS of them. On all of them one fit
  // took about 80 s on this machine, and a proposal makes three (two restarts).
  const p = hartmann6Problem();
  const planner = new AdaptiveSearch();
  const input = (evaluations: EvaluationRecord[]) => ({ space: p.space, evaluations, pending: [], seed: 1, budget: 1010 });
  const evaluated = (config: Configuration, index: number, phase: string): EvaluationRecord => ({
    index,
    config,
    status: 'ok',
    objective: -p.f(config),
    phase,
    evaluator: 'analytic',
    workload: 'h6',
    startedAt: new Date(0).toISOString(),
    ms: 0,
  });
  // The baseline and the screening design, as the planner proposes them, then random configurations.
  const evaluations = planner.propose(input([]), 100).map((q, i) => evaluated(q.config, i, q.phase));
  for (const config of sampleFeasible(p.space, new Rng(7), 1000 - evaluations.length)) evaluations.push(evaluated(config, evaluations.length, 'random'));
  let t0 = performance.now();
  let out = planner.propose(input(evaluations), 1);
  // The screens' combination comes before the model.
  if (out[0]?.phase === 'combine') {
    evaluations.push(evaluated(out[0].config, evaluations.length, 'combine'));
    t0 = performance.now();
    out = planner.propose(input(evaluations), 1);
  }
  const s = (performance.now() - t0) / 1000;
  assert.equal(out.length, 1);
  assert.match(out[0]!.phase, /^model/);
  assert.ok(s < 60, `a proposal after 1,000 evaluations took ${s.toFixed(1)} s`);
});

test("past MODEL_POINTS, learnedssd's exploration bound measures from every evaluation, not only the model's points", async () => {
  const p = hartmann6Problem();
  const configs = sampleFeasible(p.space, new Rng(3), MODEL_POINTS + 100);
  const evaluations: EvaluationRecord[] = configs.map((config, index) => ({
    index,
    config,
    status: 'ok',
    objective: -p.f(config),
    phase: 'random',
    evaluator: 'analytic',
    workload: 'h6',
    startedAt: new Date(0).toISOString(),
    ms: 0,
  }));
  const rows = new Set(modelRows(evaluations.map((e) => e.objective!)));
  const left = evaluations.filter((e) => !rows.has(e.index));
  assert.equal(left.length, 100, 'a hundred evaluations are left out of the fit');
  const model = new GradeModel(p.space, {}, 1);
  assert.ok(await model.fit(evaluations));
  // Each left-out configuration was evaluated: it is at distance 0 from what the search learned. Before, the bound
  // measured from the fitted points only, and a configuration evaluated already could look far from everything.
  assert.deepEqual([...model.minDistances(left.map((e) => e.config))], new Array(left.length).fill(0));
});
