/**
 * Evaluations needed to reach 98% of the best-known grade on Branin and
 * Hartmann-6 (mapped onto int/ordinal spaces), LearnedSSD search vs random
 * search, median over seeds. Goal: <= 20 evaluations and >= 3x fewer than
 * random. The baseline evaluation counts as the first.
 *
 * Best-known grade: Branin's grid is enumerated (3721 points); Hartmann-6's
 * grid optimum is found by enumerating the 5^6 grid points around the
 * continuous optimiser.
 */
import { levelCount, valueAt } from '../src/space/space.js';
import type { Configuration } from '../src/space/types.js';
import { AnalyticEvaluator, analyticWorkload, braninProblem, hartmann6Problem, metricsFromValue, type AnalyticProblem } from '../src/search/analytic.js';
import { grade } from '../src/search/grade.js';
import { LearnedSsdSearch, RandomSearch, runSearch, type Searcher } from '../src/search/search.js';

function bestGridValue(p: AnalyticProblem, around?: Configuration, radius = 2): number {
  const ps = p.space.params;
  const ranges = ps.map((q) => {
    const n = levelCount(q);
    if (!around) return Array.from({ length: n }, (_, i) => i);
    const c = Array.from({ length: n }, (_, i) => i).find((i) => valueAt(q, i) === around[q.name])!;
    return Array.from({ length: 2 * radius + 1 }, (_, k) => c - radius + k).filter((i) => i >= 0 && i < n);
  });
  let best = Infinity;
  const pos = ranges.map(() => 0);
  for (;;) {
    const c: Configuration = {};
    ps.forEach((q, i) => (c[q.name] = valueAt(q, ranges[i]![pos[i]!]!)));
    best = Math.min(best, p.f(c));
    let i = pos.length - 1;
    while (i >= 0 && ++pos[i]! === ranges[i]!.length) pos[i--] = 0;
    if (i < 0) return best;
  }
}

export interface Problem {
  name: string;
  problem: AnalyticProblem;
  /** Grade needed: 98% of the best-known. */
  target: number;
  best: number;
}

export function problems(): Problem[] {
  const br = braninProblem();
  const h6 = hartmann6Problem();
  const hStar: Configuration = { i1: 4, i2: 3, i3: 10, x4: 0.3, x5: 0.3, x6: 0.65 };
  const out: Problem[] = [];
  for (const [name, p, fBest] of [['branin', br, bestGridValue(br)], ['hartmann6', h6, bestGridValue(h6, hStar)]] as const) {
    const base = metricsFromValue(p.f(p.space.baseline), p.fmin);
    const best = grade(metricsFromValue(fBest, p.fmin), base);
    out.push({ name, problem: p, best, target: 0.98 * best });
  }
  return out;
}

/** Evaluations until the first grade >= target (Infinity if never within the budget). */
export async function evaluationsToTarget(searcher: Searcher, pr: Problem, seed: number, budget: number): Promise<number> {
  const rec = await runSearch(searcher, { space: pr.problem.space, evaluator: new AnalyticEvaluator(pr.problem), workload: analyticWorkload(pr.name), budget: { evaluations: budget }, seed });
  const hit = rec.evaluations.findIndex((e) => e.status === 'ok' && e.grade! >= pr.target - 1e-12);
  return hit < 0 ? Infinity : hit + 1;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(): Promise<void> {
  const seeds = Number(process.env.SEARCH_BENCH_SEEDS ?? 10);
  const budgetModel = Number(process.env.SEARCH_BENCH_BUDGET ?? 150);
  const budgetRandom = Number(process.env.SEARCH_BENCH_RANDOM_BUDGET ?? 3000);
  console.log(`seeds ${seeds}; budget ${budgetModel} (learnedssd), ${budgetRandom} (random); Infinity = target not reached within the budget`);
  for (const pr of problems()) {
    const ours: number[] = [];
    const rnd: number[] = [];
    const t0 = performance.now();
    for (let s = 1; s <= seeds; s++) ours.push(await evaluationsToTarget(new LearnedSsdSearch(), pr, s, budgetModel));
    const tOurs = performance.now() - t0;
    for (let s = 1; s <= seeds; s++) rnd.push(await evaluationsToTarget(new RandomSearch(), pr, s, budgetRandom));
    const mo = median(ours);
    const mr = median(rnd);
    console.log(`${pr.name.padEnd(10)} best-known grade ${pr.best.toFixed(4)}, target ${pr.target.toFixed(4)}`);
    console.log(`  learnedssd: median ${mo} evaluations  [${ours.join(' ')}]  (${(tOurs / seeds / 1000).toFixed(2)} s per search)`);
    console.log(`  random    : median ${mr} evaluations  [${rnd.join(' ')}]`);
    console.log(`  ratio random/learnedssd: ${(mr / mo).toFixed(1)}x`);
  }
}
