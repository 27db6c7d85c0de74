/**
 * `npm run bench search`: how fast the searches find good configurations,
 * the adaptive search beside random search and LearnedSSD in the same run,
 * median over seeds, on analytic functions with a known optimum and on real
 * workloads where the configuration space matters:
 *  - branin, hartmann6: int/ordinal grids (src/search/analytic.ts), the best
 *    grade known exactly (enumerated);
 *  - ssd:msnfs-50x: the `ssd` space, ssdsim, the first 30k requests of the MSN
 *    file-server trace replayed 50x faster (its 143 s of requests in ~3 s:
 *    the device is loaded and its internals matter);
 *  - ssd:oltp-10x: the TPC-C-like fio oltp trace (8 KiB random 70/30) 10x
 *    faster, the issue's example;
 *  - host:seqread-8x: the `host` space, readahead model, the fio buffered
 *    sequential-read trace 8x faster.
 * For each: the best grade known (exact for the analytic grids; on the ssd
 * problems the best of the reference configurations long searches found,
 * which every run evaluates, and of every evaluation of the run), then per
 * searcher and seed the evaluations needed to reach 90% and 98% of it and
 * the fraction reached within 20; random search's expected evaluations to
 * 98% from all its draws pooled, with the 95% range of its hit rate; batches
 * of 2, 4 and 8 (constant liar) beside batches of 1; and for the ssd
 * workloads the multi-fidelity search (screen on 10% of the trace, confirm
 * on the whole).
 *
 * A model-guided search (adaptive, LearnedSSD) that has not reached 98% of
 * the best known (before the run: the references) after its budget goes on
 * until it does or reaches the cap: one search given the cap as its budget,
 * stopped at the first evaluation past the budget where it has reached 98%.
 * So "evaluations to 98%" is a count for every seed that gets there within
 * the cap, and the median a number when more than half do.
 *
 * Evaluations are deterministic, so each problem keeps an in-memory cache:
 * a configuration evaluated by several searches (the baseline, screening
 * points) is simulated once. Counts of evaluations do not depend on load;
 * CPU seconds are given for the cost.
 *
 * The adaptive search knows its budget (it exploits more as the end nears),
 * so "within 20" is measured on adaptive searches GIVEN a budget of 20 (what
 * `--budget 20` gets), not read from the first 20 evaluations of a budget-60
 * run; the budget-60 runs give the evaluations to 90% and 98%.
 *
 * Each problem ends with the issue's goals, met or MISSED, for the adaptive
 * search: median >= 90% of the best grade within 20 evaluations (budget-20
 * runs), >= 3x fewer evaluations than random search to 98% (the budget-60
 * runs, gone on to the cap, against random's pooled expectation), and for
 * Hartmann-6 98% within 20 (budget-20 runs: the median of the evaluations to
 * 98%, ∞ where not reached). The 3x goal is met only when it holds at the
 * low end of random's 95% range and MISSED when it fails at the high end;
 * otherwise the verdict says which knob would decide it.
 *
 * Knobs: SEARCH_BENCH_SEEDS (10), SEARCH_BENCH_PROBLEMS (comma list),
 * SEARCH_BENCH_BUDGET (60, model-guided), SEARCH_BENCH_CAP (150: where a
 * search short of 98% stops), SEARCH_BENCH_RANDOM_BUDGET (300),
 * SEARCH_BENCH_LONG (0: long runs off; n: long searches of n evaluations,
 * SEARCH_BENCH_LONG_SEEDS (1000) of SEARCH_BENCH_LONG_SEARCHERS (adaptive),
 * each printing its best configuration: how references are found; with
 * SEARCH_BENCH_SEEDS=0 nothing else runs), SEARCH_BENCH_BATCHES (2,4,8),
 * SEARCH_BENCH_BATCH_SEEDS and SEARCH_BENCH_MF_SEEDS (default: the seeds;
 * fewer make a loaded machine's run fit: on the ssd problems an adaptive
 * search of 60 costs about 14 CPU-s, most of it refitting its model).
 */
import { levelCount, valueAt, configKey } from '../src/space/space.js';
import type { ConfigSpace, Configuration } from '../src/space/types.js';
import { AnalyticEvaluator, analyticWorkload, braninProblem, hartmann6Problem, metricsFromValue, type AnalyticProblem } from '../src/search/analytic.js';
import { grade } from '../src/search/grade.js';
import { LearnedSsdSearch, RandomSearch, bestOf, makeSearcher, runSearch, type Searcher, type SearchEvent, type SearchRecord } from '../src/search/search.js';
import { runMultiFidelity } from '../src/search/fidelity.js';
import type { Evaluator, Metrics, WorkloadRef } from '../src/evaluators/types.js';
import { openTrace } from '../src/readers/registry.js';
import { batchRows, limitSource, type TraceSource } from '../src/trace/model.js';
import { ssdSpace } from '../src/sim/ssd-space.js';
import { createSsdsimEvaluator } from '../src/sim/ssdsim.js';
import { ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import { readaheadModelSpace } from '../src/host/host-space.js';
import { PROJECT_ROOT } from '../src/native.js';
import path from 'node:path';
import { loadavg } from 'node:os';

/** f over the whole grid, or over the box of +-radius levels around a configuration. */
function enumerate(p: AnalyticProblem, around?: Configuration, radius = 3): number[] {
  const ps = p.space.params;
  const ranges = ps.map((q) => {
    const n = levelCount(q);
    if (!around) return Array.from({ length: n }, (_, i) => i);
    const c = Array.from({ length: n }, (_, i) => i).find((i) => valueAt(q, i) === around[q.name])!;
    return Array.from({ length: 2 * radius + 1 }, (_, k) => c - radius + k).filter((i) => i >= 0 && i < n);
  });
  const out: number[] = [];
  const pos = ranges.map(() => 0);
  for (;;) {
    const c: Configuration = {};
    ps.forEach((q, i) => (c[q.name] = valueAt(q, ranges[i]![pos[i]!]!)));
    out.push(p.f(c));
    let i = pos.length - 1;
    while (i >= 0 && ++pos[i]! === ranges[i]!.length) pos[i--] = 0;
    if (i < 0) return out;
  }
}

/**
 * A reference configuration: the best a long search found on a problem whose
 * best grade cannot be enumerated. Every bench run evaluates it (once,
 * cached), so the best grade known, and with it the 90% and 98% targets, is
 * at least its grade whatever the run's own searches happen to find.
 */
export interface Reference {
  /** The parameters it sets away from the space's baseline. */
  set: Configuration;
  /** Its grade when it was found (the bench re-evaluates it and says when the evaluator now disagrees). */
  grade: number;
  /** Where it came from: the command, seed and evaluation index. */
  from: string;
}

export interface Problem {
  name: string;
  space: ConfigSpace;
  evaluator: Evaluator;
  workload: WorkloadRef;
  /** Exactly known best grade (analytic problems); otherwise from the references and the bench's evaluations. */
  knownBest?: number;
  /** The best configurations long searches found (problems whose best is not known exactly). */
  references?: readonly Reference[];
  /** Requests of the trace (multi-fidelity needs them). */
  requests?: number;
}

/**
 * Best grades of the analytic problems. Branin: the whole 61x61 grid.
 * Hartmann-6 (21^6 = 85.8M points): the 7^6 box around the continuous
 * optimiser; every point within 2% of the best grade lies there, since
 * Hartmann-6's next-best local minimum (-3.2032) is far worse than the
 * target (about -3.29).
 */
function analytic(name: string, p: AnalyticProblem, fs: number[]): Problem {
  const base = metricsFromValue(p.f(p.space.baseline), p.fmin);
  return {
    name,
    space: p.space,
    evaluator: new AnalyticEvaluator(p),
    workload: analyticWorkload(name),
    knownBest: grade(metricsFromValue(Math.min(...fs), p.fmin), base),
  };
}

/**
 * A trace (a file of traces/, or an absolute path), cut to its first `limit`
 * requests and replayed `speedup` times faster. With `skip`, the requests
 * after the first `skip` (the part of a file traces/ does not hold), their
 * times moved so the first starts at 0.
 */
export function traceWorkload(name: string, file: string, speedup: number, limit = Infinity, skip = 0): WorkloadRef {
  const open = async (): Promise<TraceSource> => {
    const whole = await openTrace(path.resolve(PROJECT_ROOT, 'traces', file));
    const src = limitSource(skip > 0 ? skipSource(whole, skip) : whole, limit);
    if (speedup === 1 && skip === 0) return src;
    return {
      meta: src.meta,
      async *[Symbol.asyncIterator]() {
        let t0: number | undefined;
        for await (const b of src) {
          t0 ??= skip > 0 ? b.timeNs[0] : 0;
          yield { ...b, timeNs: Float64Array.from(b.timeNs, (t) => (t - t0!) / speedup) };
        }
      },
    };
  };
  return { name, open };
}

/** A source without its first `n` requests. */
function skipSource(src: TraceSource, n: number): TraceSource {
  return {
    meta: src.meta,
    async *[Symbol.asyncIterator]() {
      let left = n;
      for await (const b of src) {
        if (left >= b.length) {
          left -= b.length;
          continue;
        }
        yield left > 0 ? batchRows(b, left, b.length) : b;
        left = 0;
      }
    },
  };
}

export async function countRequests(w: WorkloadRef): Promise<number> {
  let n = 0;
  for await (const b of await w.open()) n += b.length;
  return n;
}

/** Every evaluation of a problem goes through here: configurations already simulated are answered from memory. */
class CachedEvaluator implements Evaluator {
  readonly name: string;
  readonly space: string;
  private readonly cache = new Map<string, Promise<Metrics>>();
  /** Distinct configurations simulated and their CPU time. */
  simulated = 0;
  cpuSeconds = 0;
  constructor(
    private readonly inner: Evaluator,
    private readonly configSpace: ConfigSpace,
  ) {
    this.name = inner.name;
    this.space = inner.space;
  }
  evaluate(c: Configuration, w: WorkloadRef): Promise<Metrics> {
    const key = `${w.name}|${configKey(this.configSpace, c)}`;
    let m = this.cache.get(key);
    if (!m) {
      const c0 = process.cpuUsage();
      m = this.inner.evaluate(c, w).then((r) => {
        const d = process.cpuUsage(c0);
        this.cpuSeconds += (d.user + d.system) / 1e6;
        return r;
      });
      this.simulated++;
      this.cache.set(key, m);
    }
    return m;
  }
  /** Best grade of any configuration evaluated on `w`, relative to the baseline's metrics there. */
  async bestGrade(w: WorkloadRef, base: Metrics): Promise<number> {
    let best = 0;
    for (const [k, m] of this.cache) if (k.startsWith(`${w.name}|`)) best = Math.max(best, grade(await m.catch(() => base), base));
    return best;
  }
}

/**
 * The best configurations known on the ssd problems, from long searches
 * (2026-12-06; reproduce one with SEARCH_BENCH_PROBLEMS=<problem>
 * SEARCH_BENCH_SEEDS=0 SEARCH_BENCH_LONG=<n> SEARCH_BENCH_LONG_SEEDS=<seed>;
 * evaluation numbers count the baseline as 1). Both are local optima: none of
 * their LearnedSSD neighbours (every one-parameter move and every two-parameter
 * move within a group, 244 and 239 configurations) grades higher.
 *  - oltp: runs of 150-250 evaluations (adaptive seeds 1, 2, 4; LearnedSSD
 *    seeds 1-6 up to 300) found nothing above 0.0961. Every configuration
 *    found within 98% of it has 20 channels of 4 chips and 16 KiB pages; the
 *    next best, 16 x 5, grades 0.0941.
 *  - msnfs: adaptive runs of 200 (seeds 1, 2) found nothing above 2.0598;
 *    26 channels of 3 chips, 16 KiB pages.
 */
const SSD_REFERENCES: Record<'oltp' | 'msnfs', Reference[]> = {
  oltp: [
    {
      set: {
        channels: 20,
        chipsPerChannel: 4,
        diesPerChip: 1,
        planesPerDie: 16,
        blocksPerPlane: 416,
        pagesPerBlock: 64,
        pageBytes: 16384,
        planeAllocation: 'CDPW',
      },
      grade: 0.0961,
      from: 'adaptive seed 2, evaluation 55 of a long run of 150 on c7275e6; since cf9624b seed 9 finds the same grade at evaluation 48 (SEARCH_BENCH_LONG=80 SEARCH_BENCH_LONG_SEEDS=9)',
    },
  ],
  msnfs: [
    {
      set: {
        channels: 26,
        chipsPerChannel: 3,
        diesPerChip: 1,
        planesPerDie: 16,
        blocksPerPlane: 192,
        pagesPerBlock: 128,
        pageBytes: 16384,
        gcPolicy: 'RANDOM_P',
        planeAllocation: 'CPDW',
      },
      grade: 2.0598,
      from: 'adaptive seed 2, evaluation 75 of a long run of 200 on c7275e6; evaluation 73 since cf9624b (SEARCH_BENCH_LONG=100 SEARCH_BENCH_LONG_SEEDS=2)',
    },
  ],
};

export async function problems(only?: readonly string[]): Promise<Problem[]> {
  const want = (n: string) => !only || only.includes(n);
  const out: Problem[] = [];
  if (want('branin')) {
    const p = braninProblem();
    out.push(analytic('branin', p, enumerate(p)));
  }
  if (want('hartmann6')) {
    const p = hartmann6Problem();
    out.push(analytic('hartmann6', p, enumerate(p, { i1: 4, i2: 3, i3: 10, x4: 0.3, x5: 0.3, x6: 0.65 })));
  }
  const ssd = createSsdsimEvaluator({ lbaPolicy: 'modulo' });
  for (const [name, file, speed, limit, references] of [
    ['ssd:msnfs-50x', 'msps_msnfs_30s.trace', 50, 30_000, SSD_REFERENCES.msnfs],
    ['ssd:oltp-10x', 'fio_oltp.trace.xz', 10, Infinity, SSD_REFERENCES.oltp],
  ] as const) {
    if (!want(name)) continue;
    const w = traceWorkload(name, file, speed, limit);
    out.push({ name, space: ssdSpace, evaluator: ssd, workload: w, requests: await countRequests(w), references });
  }
  if (want('host:seqread-8x')) {
    const w = traceWorkload('host:seqread-8x', 'fio_buffered-seqread.trace.xz', 8);
    out.push({
      name: 'host:seqread-8x',
      space: readaheadModelSpace(),
      evaluator: new ReadaheadModelEvaluator({ replay: { mode: 'recorded' } }),
      workload: w,
      requests: await countRequests(w),
    });
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** 1-based index of the first evaluation reaching `target`, Infinity if none. */
function reach(rec: SearchRecord, target: number): number {
  const i = rec.evaluations.findIndex((e) => e.status === 'ok' && e.grade! >= target - 1e-12);
  return i < 0 ? Infinity : i + 1;
}

function bestWithin(rec: SearchRecord, n: number): number {
  let b = 0;
  for (const e of rec.evaluations.slice(0, n)) if (e.status === 'ok') b = Math.max(b, e.grade!);
  return b;
}

const fmt = (x: number): string => (Number.isFinite(x) ? String(x) : '∞');

/** The parameters `c` sets away from the space's baseline. */
function awayFromBaseline(space: ConfigSpace, c: Configuration): Configuration {
  return Object.fromEntries(space.params.filter((p) => c[p.name] !== space.baseline[p.name]).map((p) => [p.name, c[p.name]!]));
}

/** P(X <= k) for X ~ Binomial(n, p), summed in log space. */
function binomialCdf(k: number, n: number, p: number): number {
  if (p <= 0) return 1;
  if (p >= 1) return k >= n ? 1 : 0;
  let logTerm = n * Math.log(1 - p); // P(X = 0)
  let sum = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((n - i + 1) / i) + Math.log(p / (1 - p));
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

/**
 * Clopper-Pearson bounds of a hit rate from `hits` of `n` independent draws,
 * each one-sided at 97.5% (together a 95% interval): the random search's
 * expected evaluations to a target are 1 + 1 / rate, so a rare target's
 * expectation from a thousand draws is a range, and the verdict must hold at
 * both its ends.
 */
export function hitRateBounds(hits: number, n: number): { lo: number; hi: number } {
  const solve = (f: (p: number) => boolean): number => {
    let [a, b] = [0, 1];
    for (let i = 0; i < 60; i++) {
      const m = (a + b) / 2;
      if (f(m)) a = m;
      else b = m;
    }
    return (a + b) / 2;
  };
  // hi: the largest p under which seeing `hits` or fewer still has probability >= 2.5%.
  const hi = hits >= n ? 1 : solve((p) => binomialCdf(hits, n, p) >= 0.025);
  // lo: the smallest p under which seeing `hits` or more has probability >= 2.5%.
  const lo = hits === 0 ? 0 : solve((p) => 1 - binomialCdf(hits - 1, n, p) < 0.025);
  return { lo, hi };
}

export async function run(): Promise<void> {
  const seeds = Number(process.env.SEARCH_BENCH_SEEDS ?? 10);
  const budget = Number(process.env.SEARCH_BENCH_BUDGET ?? 60);
  const cap = Math.max(budget, Number(process.env.SEARCH_BENCH_CAP ?? 150));
  const randomBudget = Number(process.env.SEARCH_BENCH_RANDOM_BUDGET ?? 300);
  const longBudget = Number(process.env.SEARCH_BENCH_LONG ?? 0);
  const longSeeds = (process.env.SEARCH_BENCH_LONG_SEEDS ?? '1000').split(',').filter(Boolean).map(Number);
  const longSearchers = (process.env.SEARCH_BENCH_LONG_SEARCHERS ?? 'adaptive').split(',').filter(Boolean);
  const batches = (process.env.SEARCH_BENCH_BATCHES ?? '2,4,8').split(',').filter(Boolean).map(Number);
  const batchSeeds = Number(process.env.SEARCH_BENCH_BATCH_SEEDS ?? seeds);
  const mfSeeds = Number(process.env.SEARCH_BENCH_MF_SEEDS ?? seeds);
  const only = process.env.SEARCH_BENCH_PROBLEMS?.split(',');
  console.log(
    `seeds ${seeds} (batches ${batchSeeds}, multi-fidelity ${mfSeeds}); budget ${budget} (adaptive, learnedssd; a run short of 98% of the best known goes on to ${cap}), ${randomBudget} (random); long runs ${longBudget ? `of ${longBudget} (${longSearchers.join(', ')}, seeds ${longSeeds.join(' ')})` : 'off'}; ∞ = not reached within the cap; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const pr of await problems(only)) {
    const ev = new CachedEvaluator(pr.evaluator, pr.space);
    const c0 = process.cpuUsage();
    const baseMetrics = await ev.evaluate(pr.space.baseline, pr.workload);
    // The references first: the best grade known is at least theirs, whatever this run's searches find.
    const refs: string[] = [];
    let refBest = -Infinity;
    for (const r of pr.references ?? []) {
      const g = grade(await ev.evaluate({ ...pr.space.baseline, ...r.set }, pr.workload), baseMetrics);
      refBest = Math.max(refBest, g);
      refs.push(`${g.toFixed(4)}${Math.abs(g - r.grade) > 1e-4 ? ` (recorded ${r.grade.toFixed(4)}: the evaluator changed)` : ''} from ${r.from}`);
    }
    // 98% of what is known before the searches run: a model-guided search short of it after its budget goes on
    // until it reaches it or the cap, so that "evaluations to 98%" is a count for most seeds, not "more than 60".
    const known = pr.knownBest ?? (Number.isFinite(refBest) ? refBest : undefined);
    const search = (s: Searcher, seed: number, n: number, stopAt?: number) => {
      const stop = new AbortController();
      const n0 = stopAt === undefined ? n : Math.max(n, cap);
      return runSearch(s, {
        space: pr.space,
        evaluator: ev,
        workload: pr.workload,
        budget: { evaluations: n0 },
        seed,
        signal: stop.signal,
        ...(stopAt !== undefined && {
          onEvent: (e: SearchEvent) => {
            if (e.type === 'evaluation' && e.count >= n && (e.best?.grade ?? -Infinity) >= stopAt - 1e-12) stop.abort();
          },
        }),
      });
    };
    const stopAt = known === undefined ? undefined : 0.98 * known;
    const recs: Record<string, SearchRecord[]> = { adaptive: [], learnedssd: [], random: [], adaptive20: [] };
    const searchCpu: Record<string, number> = { adaptive: 0, learnedssd: 0, random: 0, adaptive20: 0 };
    for (let s = 1; s <= seeds; s++) {
      for (const [name, make, n, until] of [
        ['adaptive', () => makeSearcher('adaptive'), budget, stopAt],
        ['learnedssd', () => new LearnedSsdSearch(), budget, stopAt],
        ['random', () => new RandomSearch(), randomBudget, undefined],
        ['adaptive20', () => makeSearcher('adaptive'), 20, undefined],
      ] as const) {
        const t = process.cpuUsage();
        recs[name]!.push(await search(make(), s, n, until));
        const d = process.cpuUsage(t);
        searchCpu[name]! += (d.user + d.system) / 1e6;
      }
    }
    const batchRecs = new Map<number, SearchRecord[]>();
    for (const k of batches) {
      const rs: SearchRecord[] = [];
      for (let s = 1; s <= batchSeeds; s++) rs.push(await search(makeSearcher('adaptive', { batch: k }), s, budget));
      batchRecs.set(k, rs);
    }
    // Long runs: how references are found (each prints its best configuration, to be recorded in problems()).
    const longs: string[] = [];
    if (pr.knownBest === undefined && longBudget > 0)
      for (const name of longSearchers)
        for (const seed of longSeeds) {
          const t = process.cpuUsage();
          const r = await search(name === 'learnedssd' ? new LearnedSsdSearch() : makeSearcher(name), seed, longBudget);
          const d = process.cpuUsage(t);
          const b = bestOf(r.evaluations);
          longs.push(
            `  long ${name} seed ${seed}: ${r.evaluations.length} evaluations, ${((d.user + d.system) / 1e6).toFixed(0)} CPU-s; best ${b?.grade?.toFixed(4) ?? '-'} at evaluation ${b ? b.index + 1 : '-'}: ${b ? JSON.stringify(awayFromBaseline(pr.space, b.config)) : '-'}`,
          );
        }
    const runBest = await ev.bestGrade(pr.workload, baseMetrics);
    const best = pr.knownBest ?? runBest;
    const t90 = 0.9 * best;
    const t98 = 0.98 * best;
    const cpu = process.cpuUsage(c0);
    // The searches stopped at 98% of `known`; a grade above it that moves the target makes their counts too short.
    const moved = known !== undefined && pr.knownBest === undefined && 0.98 * runBest > (stopAt ?? 0) + 1e-12;
    console.log(
      `\n${pr.name}: best grade known ${best.toFixed(4)} (${pr.knownBest !== undefined ? 'exact' : `${refs.length ? `references ${refs.join('; ')}` : 'no references'}; best of all ${ev.simulated} configurations evaluated ${runBest.toFixed(4)}`}); ${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU-s, of which evaluations ${ev.cpuSeconds.toFixed(0)}`,
    );
    if (longs.length) console.log(longs.join('\n'));
    if (seeds === 0) continue;
    if (moved) {
      const all = Object.values(recs)
        .flat()
        .flatMap((r) => r.evaluations);
      const top = bestOf(all)!;
      console.log(
        `  a search went above the references: ${top.grade!.toFixed(4)} ${JSON.stringify(awayFromBaseline(pr.space, top.config))}; record it as a reference`,
      );
    }
    if (best <= 1e-3) {
      console.log('  the space does not matter for this workload (no configuration beats the baseline): skipped');
      continue;
    }
    const table: string[] = [];
    for (const name of ['adaptive', 'learnedssd', 'random'] as const) {
      const rs = recs[name]!;
      const e90 = rs.map((r) => reach(r, t90));
      const e98 = rs.map((r) => reach(r, t98));
      const at20 = rs.map((r) => bestWithin(r, 20) / best);
      table.push(
        `  ${name.padEnd(10)} budget ${name === 'random' ? randomBudget : stopAt !== undefined ? `${budget} (on to ${cap} short of 98%)` : budget}: to 90%: median ${fmt(median(e90))} [${e90.map(fmt).join(' ')}]; to 98%: median ${fmt(median(e98))} [${e98.map(fmt).join(' ')}]; first 20: median ${(100 * median(at20)).toFixed(1)}% of best; ${(searchCpu[name]! / seeds).toFixed(1)} CPU-s per search (cached evaluations not counted again)`,
      );
    }
    // The budget a user gives: adaptive searches given 20 evaluations (LearnedSSD and random do not look at their budget,
    // so their first 20 evaluations above are what a budget of 20 gives them).
    const r20 = recs.adaptive20!;
    const at20Given = r20.map((r) => bestWithin(r, 20) / best);
    const e98Given = r20.map((r) => reach(r, t98));
    table.push(
      `  adaptive, given a budget of 20: within 20: median ${(100 * median(at20Given)).toFixed(1)}% of best [${at20Given.map((x) => (100 * x).toFixed(0)).join(' ')}]; to 98%: median ${fmt(median(e98Given))} [${e98Given.map(fmt).join(' ')}], ${e98Given.filter(Number.isFinite).length} of ${seeds} reach it; ${(searchCpu.adaptive20! / seeds).toFixed(1)} CPU-s per search`,
    );
    // Random search's expectation from all its draws pooled (distinct configurations, the baseline first): 1 + 1 / the
    // hit rate, with the rate's 95% interval (Clopper-Pearson), since a rare target gives few or no hits.
    const draws = recs.random!.flatMap((r) => r.evaluations.slice(1));
    const hits = draws.filter((e) => e.status === 'ok' && e.grade! >= t98 - 1e-12).length;
    const { lo, hi } = hitRateBounds(hits, draws.length);
    const expected = hits > 0 ? 1 + draws.length / hits : Infinity;
    const [expLo, expHi] = [1 + 1 / hi, lo > 0 ? 1 + 1 / lo : Infinity];
    const ours98 = median(recs.adaptive!.map((r) => reach(r, t98)));
    const range = `95% ${expLo.toFixed(0)}-${fmt(Math.round(expHi))}`;
    table.push(
      `  random, pooled: ${hits} of ${draws.length} draws reach 98%: expected ${hits ? expected.toFixed(0) : `> ${expLo.toFixed(0)}`} evaluations (${range})`,
    );
    for (const [k, rs] of [[1, recs.adaptive!] as const, ...batchRecs]) {
      const e98 = rs.map((r) => reach(r, t98));
      const at20 = rs.map((r) => bestWithin(r, 20) / best);
      table.push(
        `  adaptive, batches of ${k}: to 98% median ${fmt(median(e98))} evaluations (${Number.isFinite(median(e98)) ? Math.ceil(median(e98) / k) : '∞'} rounds); first 20 evaluations ${(100 * median(at20)).toFixed(1)}% of best`,
      );
    }
    // The issue's goals for the adaptive search: "within 20" from the searches given a budget of 20.
    const at20 = median(at20Given);
    const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    const goals = [
      `>= 90% of best within 20 (budget 20): ${(100 * at20).toFixed(1)}% ${verdict(at20 >= 0.9)}`,
      `>= 3x fewer evaluations than random to 98%: ${ratioVerdict(ours98, cap, hits, expected, expLo, expHi, moved)}`,
    ];
    if (pr.name === 'hartmann6') goals.push(`98% within 20 (budget 20): median ${fmt(median(e98Given))} ${verdict(median(e98Given) <= 20)}`);
    table.push(`  goals (adaptive, ${seeds} seeds): ${goals.join('; ')}; load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(table.join('\n'));
    if (pr.requests && pr.name.startsWith('ssd:') && mfSeeds > 0) {
      // Multi-fidelity: budgets counted in whole-trace evaluations; a screening evaluation on 10% counts 0.1.
      const mf: number[] = [];
      for (let s = 1; s <= mfSeeds; s++) {
        const r = await runMultiFidelity({
          space: pr.space,
          evaluator: ev,
          workload: pr.workload,
          budget: 20,
          fraction: 0.1,
          totalRequests: pr.requests,
          seed: s,
        });
        mf.push(bestWithin(r.record, Infinity) / best);
      }
      console.log(
        `  multi-fidelity (budget 20 whole-trace evaluations: 100 on the first 10%, then 10 on the whole): median ${(100 * median(mf)).toFixed(1)}% of best [${mf.map((x) => (100 * x).toFixed(0)).join(' ')}]`,
      );
    }
  }
}

/**
 * The 3x goal: random search's expected evaluations to 98% over the adaptive
 * search's median, met only when it holds at the low end of random's 95%
 * range, MISSED when it fails at the high end; otherwise the figures do not
 * decide it and the verdict says which knob would.
 */
function ratioVerdict(ours: number, cap: number, hits: number, expected: number, expLo: number, expHi: number, moved: boolean): string {
  if (moved) return 'undecided (a search went above the references, which stopped the searches too early: record it as a reference)';
  if (!Number.isFinite(ours)) {
    // Fewer than half the seeds reached 98% within the cap: the median is beyond it, so the ratio is below random's over the cap.
    if (expHi / cap < 3)
      return `< ${(expHi / cap).toFixed(1)}x (adaptive median beyond the cap of ${cap}; random ${hits ? expected.toFixed(0) : `> ${expLo.toFixed(0)}`}) MISSED`;
    return `undecided (adaptive median beyond the cap of ${cap}: raise SEARCH_BENCH_CAP)`;
  }
  const figure = `${hits ? `${(expected / ours).toFixed(1)}x, 95% ` : '> '}${(expLo / ours).toFixed(1)}x${hits ? `-${fmt(Number((expHi / ours).toFixed(1)))}x` : ''} (random ${hits ? expected.toFixed(0) : `> ${expLo.toFixed(0)}`} / adaptive ${ours})`;
  if (expLo / ours >= 3) return `${figure} met`;
  if (expHi / ours < 3) return `${figure} MISSED`;
  return `${figure} undecided (raise SEARCH_BENCH_RANDOM_BUDGET)`;
}
