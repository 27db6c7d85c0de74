/**
 * `npm run bench screen`: how small a screening prefix (`tune
 * --screen-fraction`, src/search/fidelity.ts) still ranks configurations the
 * way the whole trace does.
 *
 * For each problem a fixed set of configurations is graded on the whole
 * trace and on its leading prefixes (250 ... 20,000 requests, and fractions
 * of the trace), each prefix cut as the tune cuts it (`prefixWorkload`) and
 * graded against the baseline on the same prefix, as a screen grades. The
 * reference, measured in the same invocation, is the whole trace's own
 * ranking of the same configurations. Per prefix:
 *  - Spearman's rank correlation of its grades with the whole-trace grades
 *    (average ranks for ties; "-" when every grade ties);
 *  - the whole trace's best configuration's place in the prefix's ranking,
 *    counted pessimistically (1 + the others grading at least as high on the
 *    prefix), and whether that is within the top 3 / top 5; where several
 *    configurations share the whole trace's best grade (parameters the
 *    workload does not exercise), the best placed of them;
 *  - the prefix's best configuration's grade on the whole trace as a share of
 *    the whole trace's best (of the tied prefix bests, the worst);
 *  - the prefix's replayed span, and how far its window descriptors lie from
 *    the whole trace's (`prefixShift`, what `tune` warns on: per device, in
 *    the shipped model's windows of 64 requests; "-" when the prefix holds
 *    no full window);
 *  - CPU milliseconds per evaluation (mean over the configurations;
 *    evaluations run one at a time, so the process's CPU time is theirs).
 *
 * Problems (the search bench's, plus a trace the similarity model never saw):
 *  - ssd:msnfs-50x, ssd:oltp-10x: as in the search bench (bench/search.bench.ts);
 *  - ssd:wsrch: the WebSearch trace the tune test screens, as recorded;
 *  - ssd:mssql, ssd:vscsi: production loads whose first part is another
 *    phase (a quiet start, then a burst), as recorded;
 *  - ssd:web-tail and ssd:web-tail-100x: the production Linux web server's
 *    load (/work/shared/traces, `blkreplay_linux-webserver-2.load.gz`) after
 *    the 54,251 requests traces/ holds (its first 80,000 lines, on which the
 *    model was trained): 124,027 requests over 2,500 s, as recorded and 100x
 *    faster;
 *  - host:seqread-8x (as in the search bench) and host:web-tail: the host
 *    space's readahead model; its 56 configurations are all graded.
 * The ssd configurations: the baseline, SCREEN_BENCH_RANDOM (30) random
 * feasible draws, a good configuration (the search bench's reference, or the
 * best draw on the whole trace) and SCREEN_BENCH_NEIGHBOURS (9) of its
 * LearnedSSD neighbours, so that the top is crowded and ranking it matters.
 * Seeded (SCREEN_BENCH_SEED, 1) and deterministic: the figures but the CPU
 * time do not depend on load.
 *
 * Knobs: SCREEN_BENCH_PROBLEMS (comma list), SCREEN_BENCH_PREFIXES
 * (250,500,1000,2000,5000,10000,20000), SCREEN_BENCH_FRACTIONS
 * (0.01,0.02,0.05,0.1,0.25,0.5), SCREEN_BENCH_RANDOM, SCREEN_BENCH_NEIGHBOURS,
 * SCREEN_BENCH_SEED.
 */
import { loadavg } from 'node:os';
import type { Evaluator, Metrics, WorkloadRef } from '../src/evaluators/types.js';
import { ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import { readaheadModelSpace } from '../src/host/host-space.js';
import { describeTrace, prefixShift } from '../src/ml/characterise.js';
import { percentOf, prefixWorkload } from '../src/search/fidelity.js';
import { grade } from '../src/search/grade.js';
import { ssdSpace } from '../src/sim/ssd-space.js';
import { createSsdsimEvaluator } from '../src/sim/ssdsim.js';
import { configKey, isFeasible, levelCount, valueAt } from '../src/space/space.js';
import { neighbours } from '../src/space/neighbours.js';
import { Rng } from '../src/space/rng.js';
import { sampleFeasible } from '../src/space/sample.js';
import type { ConfigSpace, Configuration } from '../src/space/types.js';
import { countRequests, problems, traceWorkload, type Problem } from './search.bench.js';
import { spearman } from './ssdsim-vs-mqsim.bench.js';

/** The production web server's load after the part traces/ holds (traces/README.md): never seen by the model. */
const WEB = '/work/shared/traces/blkreplay_linux-webserver-2.load.gz';
const WEB_SEEN = 54_251;

async function screenProblems(only?: readonly string[]): Promise<Problem[]> {
  const want = (n: string) => !only || only.includes(n);
  const out = await problems(['ssd:msnfs-50x', 'ssd:oltp-10x', 'host:seqread-8x'].filter(want));
  const ssd = createSsdsimEvaluator({ lbaPolicy: 'modulo' });
  const host = new ReadaheadModelEvaluator({ replay: { mode: 'recorded' } });
  for (const [name, space, evaluator, file, speed, skip] of [
    ['ssd:wsrch', ssdSpace, ssd, 'mqsim_wsrch-small.trace', 1, 0],
    ['ssd:mssql', ssdSpace, ssd, 'blkreplay_windows-mssql.load.gz', 1, 0],
    ['ssd:vscsi', ssdSpace, ssd, 'cloudphysics_vscsi_sample.csv', 1, 0],
    ['ssd:web-tail', ssdSpace, ssd, WEB, 1, WEB_SEEN],
    ['ssd:web-tail-100x', ssdSpace, ssd, WEB, 100, WEB_SEEN],
    ['host:web-tail', readaheadModelSpace(), host, WEB, 1, WEB_SEEN],
  ] as const) {
    if (!want(name)) continue;
    const workload = traceWorkload(name, file, speed, Infinity, skip);
    out.push({ name, space, evaluator, workload, requests: await countRequests(workload) });
  }
  return out;
}

/** Every configuration of a small space (the host space: 56). */
function allConfigs(space: ConfigSpace): Configuration[] {
  let out: Configuration[] = [{}];
  for (const p of space.params) out = out.flatMap((c) => Array.from({ length: levelCount(p) }, (_, i) => ({ ...c, [p.name]: valueAt(p, i) })));
  return out;
}

/**
 * The configurations a problem's prefixes are compared on, the baseline first:
 * every one of a small space, else random draws, a good one and its neighbours.
 */
async function configurations(pr: Problem, rng: Rng, nRandom: number, nNeighbours: number): Promise<{ configs: Configuration[]; how: string }> {
  const { space } = pr;
  const key = (c: Configuration) => configKey(space, c);
  const seen = new Set([key(space.baseline)]);
  const fresh = (cs: readonly Configuration[]) => cs.filter((c) => !seen.has(key(c)) && seen.add(key(c)));
  if (space.params.reduce((n, p) => n * levelCount(p), 1) <= 64) {
    const all = fresh(allConfigs(space).filter((c) => isFeasible(space, c)));
    return { configs: [space.baseline, ...all], how: 'every feasible configuration' };
  }
  const draws = fresh(sampleFeasible(space, rng, nRandom));
  let good: Configuration;
  if (pr.references?.length) good = { ...space.baseline, ...pr.references[0]!.set };
  else {
    const { grades } = await gradeAll(pr.evaluator, [space.baseline, ...draws], pr.workload);
    const g = grades.slice(1);
    good = draws[g.indexOf(Math.max(...g))]!;
  }
  const goodAlso = fresh([good]);
  const near = fresh(rng.shuffle(neighbours(space, good))).slice(0, nNeighbours);
  return {
    configs: [space.baseline, ...draws, ...goodAlso, ...near],
    how: `the baseline, ${draws.length} random draws, ${pr.references?.length ? "the search bench's reference" : 'the best draw'} and ${near.length} of its neighbours`,
  };
}

interface PrefixRow {
  label: string;
  requests: number;
  spanS: number;
  shift: number | undefined;
  rho: number;
  bestPlace: number;
  share: number;
  cpuMs: number;
}

/** Grades of every configuration on `w` (relative to the baseline, the first, on `w`), with the CPU ms per evaluation. */
async function gradeAll(ev: Evaluator, configs: readonly Configuration[], w: WorkloadRef): Promise<{ grades: number[]; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const ms: Metrics[] = [];
  for (const c of configs) ms.push(await ev.evaluate(c, w));
  const d = process.cpuUsage(c0);
  return { grades: ms.map((m) => grade(m, ms[0]!)), cpuMs: (d.user + d.system) / 1e3 / configs.length };
}

export async function run(): Promise<void> {
  const only = process.env.SCREEN_BENCH_PROBLEMS?.split(',');
  const list = (v: string | undefined, d: string) => (v ?? d).split(',').filter(Boolean).map(Number);
  const prefixes = list(process.env.SCREEN_BENCH_PREFIXES, '250,500,1000,2000,5000,10000,20000');
  const fractions = list(process.env.SCREEN_BENCH_FRACTIONS, '0.01,0.02,0.05,0.1,0.25,0.5');
  const nRandom = Number(process.env.SCREEN_BENCH_RANDOM ?? 30);
  const nNeighbours = Number(process.env.SCREEN_BENCH_NEIGHBOURS ?? 9);
  const seed = Number(process.env.SCREEN_BENCH_SEED ?? 1);
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `prefixes ${prefixes.join(' ')} requests and fractions ${fractions.join(' ')}; seed ${seed}; the reference is the whole trace's ranking of the same configurations, in this run; load average ${load()}`,
  );
  for (const pr of await screenProblems(only)) {
    const total = pr.requests!;
    const c0 = process.cpuUsage();
    const { configs, how } = await configurations(pr, new Rng(seed), nRandom, nNeighbours);
    const whole = await gradeAll(pr.evaluator, configs, pr.workload);
    const g = whole.grades;
    const best = Math.max(...g);
    // The whole trace's best: every configuration at its grade (parameters a workload does not exercise tie).
    const stars = new Set(g.flatMap((x, i) => (x >= best - 1e-9 ? [i] : [])));
    // Replayed times (for the spans) and window descriptors, from one read of the workload.
    const times: number[] = [];
    for await (const b of await pr.workload.open()) for (const t of b.timeNs) times.push(t);
    // Described as the tune describes it: per device, in the shipped model's windows of 64.
    const described = await describeTrace(await pr.workload.open(), { size: 64, splitByDevice: true });
    const cuts = [
      ...prefixes.filter((n) => n < total).map((n) => ({ label: String(n), requests: n, fraction: n / total })),
      ...fractions.map((f) => ({ label: percentOf(f), requests: Math.round(total * f), fraction: f })),
    ]
      .filter((c) => c.requests >= 1)
      .sort((a, b) => a.requests - b.requests);
    const rows: PrefixRow[] = [];
    for (const cut of cuts) {
      const { grades: p, cpuMs } = await gradeAll(pr.evaluator, configs, prefixWorkload(pr.workload, cut.requests, cut.fraction));
      const starTop = Math.max(...[...stars].map((i) => p[i]!));
      const bestPlace = 1 + p.filter((x, i) => !stars.has(i) && x >= starTop).length;
      const top = Math.max(...p);
      const share = Math.min(...g.filter((_, i) => p[i] === top)) / best;
      rows.push({
        label: cut.label,
        requests: cut.requests,
        spanS: (times[cut.requests - 1]! - times[0]!) / 1e9,
        shift: prefixShift(described, cut.requests),
        rho: spearman(p, g),
        bestPlace,
        share,
        cpuMs,
      });
    }
    const cpu = process.cpuUsage(c0);
    console.log(
      `\n${pr.name}: ${total} requests over ${((times.at(-1)! - times[0]!) / 1e9).toFixed(1)} s replayed; ${configs.length} configurations (${how}); whole-trace best grade ${best.toFixed(4)} (${stars.size} configuration${stars.size > 1 ? 's' : ''} at it), ${configs.length - g.filter((x) => x > 0).length} grade <= 0${best <= 1e-3 ? ' (no configuration beats the baseline measurably: what is ranked are near-ties and losses)' : ''}; ${whole.cpuMs.toFixed(0)} CPU-ms per whole evaluation; ${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU-s; load average ${load()}`,
    );
    console.log(
      '  | prefix | requests | span s | descriptor shift | Spearman | whole best: place (top 3 / top 5) | prefix best: share of whole best | CPU ms / evaluation |',
    );
    console.log('  |---|---|---|---|---|---|---|---|');
    for (const r of rows)
      console.log(
        `  | ${r.label} | ${r.requests} | ${r.spanS.toFixed(2)} | ${r.shift?.toFixed(2) ?? '-'} | ${Number.isNaN(r.rho) ? '-' : r.rho.toFixed(2)} | ${r.bestPlace} (${r.bestPlace <= 3 ? 'yes' : 'no'} / ${r.bestPlace <= 5 ? 'yes' : 'no'}) | ${Number.isFinite(r.share) ? `${(100 * r.share).toFixed(1)}%` : '-'} | ${r.cpuMs.toFixed(1)} |`,
      );
    console.log(`  | whole | ${total} | | 0 | 1 | 1 | 100% | ${whole.cpuMs.toFixed(1)} |`);
  }
}
