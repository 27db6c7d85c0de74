import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineSpace, isFeasible } from '../src/space/space.js';
import type { Configuration } from '../src/space/types.js';
import type { Evaluator, Metrics, WorkloadRef } from '../src/evaluators/types.js';
import { AnalyticEvaluator, analyticWorkload, braninProblem, hartmann6Problem, metricsFromValue } from '../src/search/analytic.js';
import {
  CoordinateDescent,
  GridSearch,
  LearnedSsdSearch,
  RandomSearch,
  grade,
  objective,
  parseRecord,
  runSearch,
  makeSearcher,
  type SearchEvent,
  type SearchRecord,
} from '../src/search/search.js';
import { ERR_SSDSIM_DEVICE_FULL, isSsdtuneError } from '../src/errors.js';
import { evaluationRecords } from '../src/service/tune.js';

const W = analyticWorkload('w');
const m = (lat: number, thr: number): Metrics => ({ latencyMeanUs: lat, throughputBps: thr, iops: 1 });

function noNaN(rec: SearchRecord): void {
  const json = JSON.stringify(rec);
  assert.ok(!/:null/.test(json), 'no NaN (JSON null) stored');
  for (const e of parseRecord(JSON.parse(json)).evaluations) if (e.status === 'ok') assert.ok(Number.isFinite(e.grade));
}

test('grade: ln speedups weighted 0.5/0.5 against the baseline; non-target shortfall is penalised', () => {
  const base = m(100, 1000);
  assert.equal(grade(base, base), 0);
  assert.ok(Math.abs(grade(m(50, 2000), base) - Math.log(2)) < 1e-12);
  assert.ok(Math.abs(grade(m(50, 1000), base) - 0.5 * Math.log(2)) < 1e-12);
  assert.ok(Math.abs(grade(m(50, 1000), base, 1) - 0) < 1e-12, 'a = 1 counts throughput only');
  assert.equal(objective(0.3, 0.95), 0.3);
  assert.ok(objective(0.3, 0.8) < 0.3 - 1);
});

test("LearnedSSD finds Branin's optimum region within 40 evaluations, recording everything", async () => {
  const p = braninProblem();
  const events: SearchEvent[] = [];
  const rec = await runSearch(new LearnedSsdSearch(), {
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 40 },
    seed: 1,
    onEvent: (e) => events.push(e),
  });
  const best = rec.evaluations[rec.best!]!;
  assert.ok(p.f(best.config) < 0.6, `best f ${p.f(best.config)} at ${JSON.stringify(best.config)}`);
  assert.equal(rec.evaluations[0]!.phase, 'baseline');
  assert.equal(rec.evaluations[0]!.grade, 0);
  assert.ok(rec.evaluations.length <= 40);
  assert.ok(['budget', 'converged'].includes(rec.status));
  for (const e of rec.evaluations) {
    assert.equal(e.status, 'ok');
    assert.equal(e.evaluator, 'analytic:branin');
    assert.ok(e.ms >= 0 && !Number.isNaN(Date.parse(e.startedAt)));
  }
  assert.equal(events.filter((e) => e.type === 'evaluation').length, rec.evaluations.length);
  assert.equal(events.at(-1)!.type, 'done');
  assert.ok(events.some((e) => e.type === 'improved'));
  noNaN(rec);
});

test('LearnedSSD beats random search at equal budget on Hartmann-6 (seeded)', async () => {
  const p = hartmann6Problem();
  const bestF = async (s: LearnedSsdSearch | RandomSearch): Promise<number> => {
    const rec = await runSearch(s, { space: p.space, evaluator: new AnalyticEvaluator(p), workload: W, budget: { evaluations: 40 }, seed: 3 });
    return p.f(rec.evaluations[rec.best!]!.config);
  };
  const ours = await bestF(new LearnedSsdSearch());
  const rnd = await bestF(new RandomSearch());
  assert.ok(ours < rnd, `learnedssd ${ours} vs random ${rnd}`);
  assert.ok(ours < -2.5, `learnedssd best ${ours}`);
});

test('an evaluator that throws or returns NaN gives failed evaluations, a coded error with its code; the search goes on', async () => {
  const p = braninProblem();
  const flaky: Evaluator = {
    name: 'flaky',
    space: 'branin',
    async evaluate(c: Configuration): Promise<Metrics> {
      const i = c.i1 as number;
      if (i % 3 === 1) throw i % 2 ? ERR_SSDSIM_DEVICE_FULL(`simulator crashed at i1=${i}`) : new Error(`simulator crashed at i1=${i}`);
      if (i % 3 === 2) return { ...metricsFromValue(p.f(c), p.fmin), latencyMeanUs: NaN };
      return metricsFromValue(p.f(c), p.fmin);
    },
  };
  for (const s of [new LearnedSsdSearch(), new RandomSearch(), new CoordinateDescent()]) {
    const rec = await runSearch(s, { space: p.space, evaluator: flaky, workload: W, budget: { evaluations: 30 }, seed: 2 });
    const failed = rec.evaluations.filter((e) => e.status === 'failed');
    assert.ok(failed.length > 0, `${s.name}: some failures`);
    assert.ok(
      rec.evaluations.some((e) => e.status === 'ok' && e.index > 0),
      `${s.name}: some successes after the baseline`,
    );
    for (const f of failed) {
      assert.match(f.message!, /simulator crashed at i1=|latencyMeanUs is NaN, expected a positive finite number/);
      assert.equal(f.grade, undefined);
      assert.equal(f.code, f.message!.startsWith('SSD simulation: ') ? 'SSDTUNE_SSDSIM_DEVICE_FULL' : undefined);
    }
    assert.ok(
      failed.some((f) => f.code),
      `${s.name}: some coded failures`,
    );
    assert.equal(rec.evaluations[rec.best!]!.status, 'ok');
    noNaN(rec);
    // The ConfDB keeps each failure's message and code (service/tune.ts).
    const stored = evaluationRecords(rec, { workloadId: 'w', configId: 'c', bestIndex: rec.best! });
    assert.deepEqual(
      stored.map((e) => [e.status, e.error, e.errorCode]),
      rec.evaluations.map((e) => [e.status, e.message, e.code]),
    );
  }
  // A baseline that cannot be evaluated is an error: nothing could be graded.
  const dead: Evaluator = {
    name: 'dead',
    space: 'branin',
    evaluate: async () => {
      throw new Error('no device');
    },
  };
  await assert.rejects(
    runSearch(new RandomSearch(), { space: p.space, evaluator: dead, workload: W, budget: { evaluations: 5 } }),
    (e) => isSsdtuneError(e, 'SSDTUNE_SEARCH') && /baseline configuration could not be evaluated.*no device/.test(e.message),
  );
});

test('cancellation through an AbortSignal stops the search with what it has', async () => {
  const p = braninProblem();
  const ac = new AbortController();
  const rec = await runSearch(new LearnedSsdSearch(), {
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 100 },
    signal: ac.signal,
    onEvent: (e) => {
      if (e.type === 'evaluation' && e.count === 7) ac.abort();
    },
  });
  assert.equal(rec.status, 'cancelled');
  assert.equal(rec.evaluations.length, 7);
});

test('a stopped search resumed from its JSON record continues exactly where it stopped', async () => {
  const p = hartmann6Problem();
  const full = await runSearch(new LearnedSsdSearch(), {
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 24 },
    seed: 5,
  });
  const part = await runSearch(new LearnedSsdSearch(), {
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: W,
    budget: { evaluations: 10 },
    seed: 5,
  });
  assert.equal(part.status, 'budget');
  const ev = new AnalyticEvaluator(p);
  const resumed = await runSearch(new LearnedSsdSearch(), {
    space: p.space,
    evaluator: ev,
    workload: W,
    budget: { evaluations: 24 },
    resume: JSON.parse(JSON.stringify(part)),
  });
  assert.equal(ev.calls, full.evaluations.length - 10, 'recorded evaluations are not repeated');
  assert.deepEqual(
    resumed.evaluations.map((e) => e.config),
    full.evaluations.map((e) => e.config),
  );
  assert.equal(resumed.best, full.best);
  // A record from another searcher or space is refused.
  await assert.rejects(
    runSearch(new RandomSearch(), { space: p.space, evaluator: ev, workload: W, budget: { evaluations: 30 }, resume: part }),
    /cannot resume: the record's searcher is "learnedssd"/,
  );
  await assert.rejects(
    runSearch(new RandomSearch(), {
      space: p.space,
      evaluator: ev,
      workload: W,
      budget: { evaluations: 30 },
      resume: { ...part, evaluations: [{ index: 3 }] } as unknown as SearchRecord,
    }),
    /field evaluations\[0\]\.index: expected 0/,
  );
});

test('wall-time budget', async () => {
  const p = braninProblem();
  const slow: Evaluator = {
    name: 'slow',
    space: 'branin',
    evaluate: async (c) => {
      await new Promise((r) => setTimeout(r, 20));
      return metricsFromValue(p.f(c), p.fmin);
    },
  };
  const rec = await runSearch(new RandomSearch(), { space: p.space, evaluator: slow, workload: W, budget: { timeMs: 150 } });
  assert.equal(rec.status, 'time');
  assert.ok(rec.evaluations.length >= 2 && rec.evaluations.length <= 9, `${rec.evaluations.length}`);
  await assert.rejects(runSearch(new RandomSearch(), { space: p.space, evaluator: slow, workload: W, budget: {} }), /give a budget/);
});

test('non-target workloads must keep >= 0.9x baseline: the best configuration respects them', async () => {
  // Target: lower x is faster. The other workload gets much slower below x = 6.
  const space = defineSpace({ name: 'two', params: [{ name: 'x', kind: 'int', min: 0, max: 10, default: 10 }] });
  const other: WorkloadRef = analyticWorkload('other');
  const ev: Evaluator = {
    name: 'two-workloads',
    space: 'two',
    async evaluate(c, w) {
      const x = c.x as number;
      const lat = w.name === 'other' ? (x < 6 ? 100 - 5 * x : 50) : 10 + x;
      return m(lat, 1e6 / lat);
    },
  };
  const rec = await runSearch(new GridSearch(), { space, evaluator: ev, workload: W, others: [other], budget: { evaluations: 50 } });
  assert.equal(rec.status, 'exhausted');
  assert.equal(rec.evaluations.length, 11);
  const best = rec.evaluations[rec.best!]!;
  assert.equal(best.config.x, 6, 'x = 6 is the fastest target config that keeps the other workload');
  assert.equal(best.acceptable, true);
  const x0 = rec.evaluations.find((e) => e.config.x === 0)!;
  assert.equal(x0.acceptable, false);
  assert.ok(x0.grade! > best.grade! && x0.objective! < best.objective!);
  assert.deepEqual(rec.others, ['other']);
  assert.equal(x0.others!.length, 1);
});

test('constraints: every evaluated configuration is feasible; an infeasible baseline or contradictions are refused', async () => {
  const space = defineSpace({
    name: 'c',
    params: [
      { name: 'a', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 2, group: 'g' },
      { name: 'b', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 2, group: 'g' },
      { name: 'mode', kind: 'categorical', values: ['p', 'q', 'r'], default: 'p' },
    ],
    constraints: [{ name: 'budget', description: 'a*b <= 16', check: (c) => (c.a as number) * (c.b as number) <= 16 }],
  });
  const ev: Evaluator = {
    name: 'prod',
    space: 'c',
    async evaluate(c) {
      const lat = 100 / ((c.a as number) * (c.b as number)) + (c.mode === 'q' ? 0 : 3);
      return m(lat, 1e6 / lat);
    },
  };
  for (const name of ['adaptive', 'learnedssd', 'random', 'grid', 'coordinate']) {
    const rec = await runSearch(makeSearcher(name), { space, evaluator: ev, workload: W, budget: { evaluations: 25 }, seed: 4 });
    for (const e of rec.evaluations) assert.ok(isFeasible(space, e.config), `${name}: ${JSON.stringify(e.config)}`);
    const best = rec.evaluations[rec.best!]!;
    assert.ok((best.config.a as number) * (best.config.b as number) >= 8, `${name}: best ${JSON.stringify(best.config)}`);
  }
  const bad = { ...space, baseline: { a: 16, b: 16, mode: 'p' } };
  await assert.rejects(
    runSearch(new RandomSearch(), { space: bad, evaluator: ev, workload: W, budget: { evaluations: 5 } }),
    /baseline of space c violates budget/,
  );
  const contra = { ...space, constraints: [...space.constraints, { name: 'never', description: 'impossible', check: () => false }] };
  await assert.rejects(runSearch(new RandomSearch(), { space: contra, evaluator: ev, workload: W, budget: { evaluations: 5 } }), (e) =>
    isSsdtuneError(e, 'SSDTUNE_NOTHING_FEASIBLE'),
  );
  await assert.rejects(
    runSearch(new RandomSearch(), { space, evaluator: { ...ev, space: 'ssd' }, workload: W, budget: { evaluations: 5 } }),
    /evaluates space ssd, not c/,
  );
  assert.throws(() => makeSearcher('bayes'), /unknown searcher "bayes"/);
});

test('grid enumerates a small space; coordinate descent converges to the optimum of a separable function', async () => {
  const p = braninProblem();
  const sep = defineSpace({
    name: 'sep',
    params: [
      { name: 'u', kind: 'int', min: 0, max: 8, default: 0 },
      { name: 'v', kind: 'int', min: 0, max: 8, default: 8 },
    ],
  });
  const ev: Evaluator = {
    name: 'sep',
    space: 'sep',
    evaluate: async (c) => {
      const lat = 1 + ((c.u as number) - 3) ** 2 + ((c.v as number) - 5) ** 2;
      return m(lat, 1e6 / lat);
    },
  };
  const grid = await runSearch(new GridSearch(), { space: sep, evaluator: ev, workload: W, budget: { evaluations: 1000 } });
  assert.equal(grid.evaluations.length, 81);
  const cd = await runSearch(new CoordinateDescent(), { space: sep, evaluator: ev, workload: W, budget: { evaluations: 1000 } });
  assert.equal(cd.status, 'converged');
  assert.deepEqual(cd.evaluations[cd.best!]!.config, { u: 3, v: 5 });
  // Grid over a space larger than the budget thins each parameter evenly.
  const g2 = await runSearch(new GridSearch(), { space: p.space, evaluator: new AnalyticEvaluator(p), workload: W, budget: { evaluations: 30 } });
  assert.ok(g2.evaluations.length <= 30);
  assert.ok(new Set(g2.evaluations.map((e) => e.config.i1)).size >= 4);
});
