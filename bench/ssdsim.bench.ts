/**
 * `npm run bench ssdsim`: simulated requests per CPU- and wall-second of the
 * native SSD simulator on preconditioned drives (the option MQSim lacks), on
 * a 4 KiB random 70/30 read/write trace of 1M requests and on the real
 * traces, plus preconditioning time and peak RSS. MQSim itself, side by
 * side on fresh drives: `npm run bench ssdsim-vs-mqsim`.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { simulate, summarize, type SimResults } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace } from '../src/sim/synthetic.js';
import type { TraceSource } from '../src/trace/model.js';
import { createSsdsimEvaluator } from '../src/sim/ssdsim.js';
import { ssdSpace } from '../src/sim/ssd-space.js';
import { LearnedSsdSearch, runSearch, bestOf } from '../src/search/search.js';

function rssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Wall time of the whole call; the simulator reports its preconditioning time itself. */
async function timed(
  cfg: SsdConfig,
  open: () => Promise<TraceSource> | TraceSource,
  opts: Parameters<typeof simulate>[2],
): Promise<{ r: SimResults; total: number; pre: number }> {
  const t0 = performance.now();
  const r = await simulate(cfg, await open(), opts);
  return { r, total: (performance.now() - t0) / 1000, pre: r.preconditionWallNs / 1e9 };
}

function line(name: string, cfg: SsdConfig, x: { r: SimResults; total: number; pre: number }): void {
  const replayWall = Math.max(1e-9, x.total - x.pre);
  const replayCpu = x.r.replayCpuNs / 1e9;
  const s = summarize(x.r);
  const gib = (cfg.channels * cfg.chipsPerChannel * cfg.diesPerChip * cfg.planesPerDie * cfg.blocksPerPlane * cfg.pagesPerBlock * cfg.pageBytes) / 2 ** 30;
  console.log(
    `${name.padEnd(32)} ${String(x.r.completed).padStart(8)} req | replay ${(x.r.completed / replayCpu / 1e6).toFixed(2)} M req/CPU-s, ${(x.r.completed / replayWall / 1e6).toFixed(2)} M req/wall-s` +
      ` | precondition ${(x.r.preconditionCpuNs / 1e9).toFixed(1)} CPU-s, ${x.pre.toFixed(1)} wall-s` +
      ` | sim ${s.iops.toFixed(0)} IOPS, mean ${(x.r.all.meanNs / 1e3).toFixed(0)} us, p99 ${(x.r.all.p99Ns / 1e3).toFixed(0)} us, WA ${s.writeAmplification.toFixed(2)}` +
      ` | ${gib.toFixed(0)} GiB device, peak RSS ${rssMiB().toFixed(0)} MiB`,
  );
}

/** SSDSIM_BENCH_SEARCH=N: a LearnedSSD search of N evaluations over the `ssd` space on the wsrch trace. */
async function search(n: number): Promise<void> {
  const file = path.join(PROJECT_ROOT, 'traces', 'mqsim_wsrch-small.trace');
  const t0 = performance.now();
  let failed = 0;
  const rec = await runSearch(new LearnedSsdSearch(), {
    space: ssdSpace,
    evaluator: createSsdsimEvaluator(),
    workload: { name: 'wsrch', open: () => openTrace(file) },
    budget: { evaluations: n },
    onEvent: (e) => {
      if (e.type !== 'evaluation') return;
      if (e.evaluation.status === 'failed') failed++;
      const ev = e.evaluation;
      console.log(
        `  #${ev.index} ${ev.phase} ${(ev.ms / 1000).toFixed(1)} s ${ev.status}${ev.grade !== undefined ? ` grade ${ev.grade.toFixed(3)}` : ''}${ev.message ? ` (${ev.message})` : ''}`,
      );
    },
  });
  const best = bestOf(rec.evaluations);
  const wall = (performance.now() - t0) / 1000;
  console.log(
    `search learnedssd on wsrch: ${rec.evaluations.length} evaluations (${failed} failed) in ${wall.toFixed(0)} s wall (${(wall / rec.evaluations.length).toFixed(1)} s each), status ${rec.status};` +
      ` best grade ${best?.grade?.toFixed(3)} over the baseline; peak RSS ${rssMiB().toFixed(0)} MiB`,
  );
  if (best) console.log(`  best configuration: ${JSON.stringify(best.config)}`);
}

export async function run(): Promise<void> {
  const searchN = Number(process.env.SSDSIM_BENCH_SEARCH ?? 0);
  if (searchN > 0) return search(searchN);
  const n = Number(process.env.SSDSIM_BENCH_REQUESTS ?? 1_000_000);
  // A 64 GiB device (MQSim's default geometry with 256 blocks per plane), then the AutoBlox baseline (480 GiB).
  const mid: SsdConfig = {
    ...AUTOBLOX_BASELINE,
    channels: 8,
    chipsPerChannel: 4,
    diesPerChip: 2,
    planesPerDie: 2,
    blocksPerPlane: 256,
    pagesPerBlock: 256,
    pageBytes: 8192,
    dataCacheBytes: 256 << 20,
    cmtBytes: 2 << 20,
  };
  const devices: [string, SsdConfig][] = [['64GiB', mid]];
  if (process.env.SSDSIM_BENCH_BASELINE !== '0') devices.push(['baseline', { ...AUTOBLOX_BASELINE }]);
  for (const [dname, cfg] of devices) {
    const span = logicalSectors(cfg);
    for (const mode of process.env.SSDSIM_BENCH_SYNTHETIC === '0' ? [] : (['closed', 'trace'] as const)) {
      // Open loop: 25k requests/s of simulated time (below the 64 GiB device's capacity); closed loop: 64 outstanding.
      const x = await timed(
        cfg,
        () =>
          syntheticTrace({
            requests: n,
            readRatio: 0.7,
            bytes: 4096,
            pattern: 'random',
            spanSectors: span,
            interArrivalNs: mode === 'trace' ? 40_000 : 0,
            seed: 1,
          }),
        { mode, closedLoopDepth: 64, preconditionFill: 1, preconditionAge: 1 },
      );
      line(`${dname} 4K rand 70/30 ${mode === 'closed' ? 'QD64' : 'open 25k/s'}`, cfg, x);
    }
    for (const t of [
      'mqsim_wsrch-small.trace',
      'msps_msnfs_30s.trace',
      'msr_hm_0_sample1000.csv',
      'cloudphysics_vscsi_sample.csv',
      'tencent_cbs_sample50k.csv.bz2',
      'blkparse_hadoop_writeback_apress.txt',
      'blktrace_centos7_vm_small',
    ]) {
      const file = path.join(PROJECT_ROOT, 'traces', t);
      if (!existsSync(file)) continue;
      try {
        await openTrace(file);
      } catch {
        console.log(`${dname} ${t}: no reader on this branch yet`);
        continue;
      }
      const x = await timed(cfg, () => openTrace(file), { preconditionFill: 1, preconditionAge: 1, lbaPolicy: 'modulo' });
      line(`${dname} ${t}`, cfg, x);
    }
  }
}
