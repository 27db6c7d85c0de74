/**
 * `npm run bench ssdsim-vs-mqsim`: ssdsim beside MQSim (the reference; built
 * from ../shared/mqsim/ by scripts/build-mqsim.sh when absent) on real
 * traces x the issue-12 configurations, each trace as recorded and at a busy
 * intensity (time-scaled). Per configuration: both mean latencies and
 * grades; per trace and intensity: Spearman of the grades, the best
 * configuration each picks and what MQSim says of ssdsim's pick; per
 * evaluation: CPU-seconds and peak RSS of both (ssdsim in a process of its
 * own, MQSim under /usr/bin/time). The goals are checked at the end.
 *
 * SSDSIM_VS_MQSIM_TRACES=wsrch,oltp  only these traces (names below)
 * SSDSIM_VS_MQSIM_INTENSITY=busy     only the busy (or recorded) replays
 * SSDSIM_VS_MQSIM_CONFIGS=baseline,chips 2   only these configurations
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { killAtExit } from '../src/util/cleanup.js';
import { grade } from '../src/search/grade.js';
import type { Metrics, Replay } from '../src/evaluators/types.js';
import type { Configuration } from '../src/space/types.js';
import { buildMqsim, builtMqsim, createMqsimEvaluator } from '../src/sim/mqsim.js';
import { describeReplay } from '../src/sim/replay.js';
import { AUTOBLOX_BASELINE, type SsdConfig } from '../src/sim/ssd-space.js';

const MiB = 1 << 20;

/** The baseline and 12 one- or two-parameter variants. */
export const CONFIGS: Record<string, Partial<SsdConfig>> = {
  baseline: {},
  'channels 8': { channels: 8 },
  'channels 16': { channels: 16 },
  'chips 2': { chipsPerChannel: 2 },
  'dies 2': { diesPerChip: 2 },
  'dies 2 x planes 4': { diesPerChip: 2, planesPerDie: 4 },
  'OP 0.07': { overProvisioning: 0.07 },
  RGA: { gcPolicy: 'RGA' },
  'cache 32 MiB': { dataCacheBytes: 32 * MiB },
  'CMT 32 MiB': { cmtBytes: 32 * MiB },
  'QD 16': { queueDepth: 16 },
  DWCP: { planeAllocation: 'DWCP' },
  '8 KiB pages': { pageBytes: 8192 },
};

/** Traces and the speedup that makes each busy (its devices are lightly loaded as recorded). */
const TRACES: { name: string; file: string; busy: number; what: string }[] = [
  { name: 'wsrch', file: 'mqsim_wsrch-small.trace', busy: 100, what: 'WebSearch (UMass/SPC), read-only' },
  { name: 'oltp', file: 'fio_oltp.trace.xz', busy: 10, what: 'fio oltp, 8 KiB 70/30 r/w' },
  { name: 'msr', file: 'msr_hm_0_sample1000.csv', busy: 50, what: 'MSR Cambridge hm_0 sample' },
  { name: 'kvstore', file: 'fio_kvstore-randwrite.trace.xz', busy: 25, what: 'fio kvstore, 4 KiB random writes' },
  { name: 'checkpoint', file: 'fio_checkpoint-burst.trace.xz', busy: 2, what: 'fio checkpoint bursts of 16 KiB writes' },
];

interface Side {
  m: Metrics;
  cpuSeconds: number;
  maxRssBytes: number;
}

/** Spearman's rank correlation (ties take their average rank); NaN when either side has no variation. */
export function spearman(a: number[], b: number[]): number {
  const ranks = (v: number[]): number[] => {
    const idx = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < idx.length;) {
      let j = i;
      while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
      for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const x = ranks(a);
  const y = ranks(b);
  const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Grades rounded to 1e-4: differences below it are simulator noise, and must tie in both. */
const roundGrade = (g: number): number => Math.round(g * 1e4) / 1e4;

async function ssdsimSide(file: string, config: Configuration, replay: Replay): Promise<Side> {
  const child = path.join(PROJECT_ROOT, 'dist', 'bench', 'ssdsim-eval-child.js');
  const run = promisify(execFile)(process.execPath, [child, JSON.stringify({ trace: file, config, replay })], { maxBuffer: 1 << 24 });
  killAtExit(run.child); // should the bench die first (util/cleanup.ts)
  const { stdout } = await run;
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { metrics: Metrics; cpuSeconds: number; maxRssBytes: number };
  return { m: r.metrics, cpuSeconds: r.cpuSeconds, maxRssBytes: r.maxRssBytes };
}

async function mqsimSide(binary: string, file: string, config: Configuration, replay: Replay): Promise<Side> {
  const m = await createMqsimEvaluator({ binary, replay, lbaPolicy: 'modulo', measure: true }).evaluate(config, { name: file, open: () => openTrace(file) });
  return { m, cpuSeconds: m.extra?.cpuSeconds ?? NaN, maxRssBytes: m.extra?.maxRssBytes ?? NaN };
}

const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

export async function run(): Promise<void> {
  const pickTraces = process.env.SSDSIM_VS_MQSIM_TRACES?.split(',');
  const pickIntensity = process.env.SSDSIM_VS_MQSIM_INTENSITY;
  const pickConfigs = process.env.SSDSIM_VS_MQSIM_CONFIGS?.split(',');
  let binary = builtMqsim();
  if (!binary) {
    console.log('MQSim not built: building it with scripts/build-mqsim.sh (a few minutes on 2 cores) ...');
    binary = await buildMqsim();
  }
  console.log(`MQSim: ${binary}; load average at start ${load()}`);
  const configs = Object.entries(CONFIGS).filter(([n]) => !pickConfigs || pickConfigs.includes(n));
  const goals = { spearman: [] as [string, number][], pick: [] as [string, number][], cpu: [] as number[], rss: [] as number[] };
  for (const t of TRACES.filter((x) => !pickTraces || pickTraces.includes(x.name))) {
    const file = path.join(PROJECT_ROOT, 'traces', t.file);
    const replays: Replay[] = [{ mode: 'recorded' }, { mode: 'scaled', speedup: t.busy }].filter(
      (r) => !pickIntensity || (pickIntensity === 'busy' ? r.mode === 'scaled' : r.mode === 'recorded'),
    ) as Replay[];
    for (const replay of replays) {
      const label = `${t.name} ${describeReplay(replay)}`;
      console.log(`\n--- ${label}: ${t.what} ---`);
      console.log(
        `${'configuration'.padEnd(18)} ${'MQSim us'.padStart(11)} ${'ssdsim us'.padStart(11)} ${'diff'.padStart(7)} ${'MQSim grade'.padStart(12)} ${'ssdsim grade'.padStart(12)} | CPU-s MQSim / ssdsim | peak RSS MB MQSim / ssdsim`,
      );
      const rows: { name: string; mq: Side; ss: Side }[] = [];
      for (const [name, over] of configs) {
        const cfg = { ...AUTOBLOX_BASELINE, ...over } as unknown as Configuration;
        const mq = await mqsimSide(binary, file, cfg, replay);
        const ss = await ssdsimSide(file, cfg, replay);
        rows.push({ name, mq, ss });
        const base = rows[0]!;
        const gm = grade(mq.m, base.mq.m);
        const gs = grade(ss.m, base.ss.m);
        console.log(
          `${name.padEnd(18)} ${fmt(mq.m.latencyMeanUs).padStart(11)} ${fmt(ss.m.latencyMeanUs).padStart(11)} ${(fmt((ss.m.latencyMeanUs / mq.m.latencyMeanUs - 1) * 100, 2) + '%').padStart(7)}` +
            ` ${fmt(gm, 4).padStart(12)} ${fmt(gs, 4).padStart(12)} | ${fmt(mq.cpuSeconds)} / ${fmt(ss.cpuSeconds, 3)} | ${fmt(mq.maxRssBytes / 1e6, 0)} / ${fmt(ss.maxRssBytes / 1e6, 0)}`,
        );
        goals.cpu.push(mq.cpuSeconds / ss.cpuSeconds);
        goals.rss.push(ss.maxRssBytes / mq.maxRssBytes);
      }
      if (rows[0]!.name !== 'baseline') continue;
      const gm = rows.map((r) => roundGrade(grade(r.mq.m, rows[0]!.mq.m)));
      const gs = rows.map((r) => roundGrade(grade(r.ss.m, rows[0]!.ss.m)));
      const rho = spearman(gm, gs);
      const best = (g: number[]) => g.indexOf(Math.max(...g));
      const bm = best(gm);
      const bs = best(gs);
      // ssdsim's pick, judged by MQSim: how far below MQSim's best (1.00 = as good).
      const shortfall = Math.exp(gm[bm]! - gm[bs]!);
      console.log(
        `Spearman (grades) ${fmt(rho, 3)}${Number.isNaN(rho) ? ' (every configuration ties in both: nothing to rank at this intensity)' : ''}; ` +
          `best: MQSim "${rows[bm]!.name}" (grade ${fmt(gm[bm]!, 4)}), ssdsim "${rows[bs]!.name}" (MQSim grades it ${fmt(gm[bs]!, 4)}: ${fmt((shortfall - 1) * 100, 2)}% short of MQSim's best)`,
      );
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      console.log(
        `per evaluation: CPU-s MQSim ${fmt(mean(rows.map((r) => r.mq.cpuSeconds)))} vs ssdsim ${fmt(mean(rows.map((r) => r.ss.cpuSeconds)), 3)}; ` +
          `peak RSS MQSim ${fmt(mean(rows.map((r) => r.mq.maxRssBytes)) / 1e6, 0)} MB vs ssdsim ${fmt(mean(rows.map((r) => r.ss.maxRssBytes)) / 1e6, 0)} MB; load average ${load()}`,
      );
      if (!Number.isNaN(rho)) goals.spearman.push([label, rho]);
      goals.pick.push([label, shortfall]);
    }
  }
  console.log(`\n--- goals (load average now ${load()}) ---`);
  const worstRho = goals.spearman.reduce((w, x) => (x[1] < w[1] ? x : w), ['-', Infinity] as [string, number]);
  console.log(
    `Spearman >= 0.9 on every trace and intensity that ranks: ${worstRho[1] >= 0.9 ? 'met' : 'MISSED'} (lowest ${fmt(worstRho[1], 3)}, ${worstRho[0]})`,
  );
  const worstPick = goals.pick.reduce((w, x) => (x[1] > w[1] ? x : w), ['-', 0] as [string, number]);
  console.log(
    `ssdsim's best within 5% of MQSim's best grade: ${worstPick[1] <= 1.05 ? 'met' : 'MISSED'} (worst ${fmt((worstPick[1] - 1) * 100, 2)}% short, ${worstPick[0]})`,
  );
  const minCpu = Math.min(...goals.cpu);
  console.log(
    `>= 20x fewer CPU-seconds per evaluation: ${minCpu >= 20 ? 'met' : 'MISSED'} (least ${fmt(minCpu, 1)}x, median ${fmt(goals.cpu.sort((a, b) => a - b)[goals.cpu.length >> 1]!, 1)}x)`,
  );
  const maxRss = Math.max(...goals.rss);
  console.log(`<= 1/10 of MQSim's memory: ${maxRss <= 0.1 ? 'met' : 'MISSED'} (at most 1/${fmt(1 / maxRss, 1)} of it)`);
}
