/**
 * `npm run bench ssdsim-huge`: the native SSD simulator on 1 GiB requests, where
 * a chip queue holds thousands of transactions: 10 and 30 x 1 GiB writes on a
 * fresh drive, with 4 planes per die (multi-plane commands) and, for
 * reference, with 1 (nothing to pair); 1 GiB writes and reads on a 90%
 * preconditioned drive (page indexes scattered by GC). Each line: wall time,
 * CPU time of the replay, flash commands, and queued transactions the
 * scheduler visited per command (the figure load cannot change).
 *
 * SSDSIM_BENCH_OLD=path/to/ssdtune_native.node runs another build beside this
 * one on the same cases (scripts/ssdsim-diff.sh builds main's into a temporary
 * worktree; keep one with `git worktree add` + `npx node-gyp rebuild`).
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { simulate, type SimConstructor, type SimOptions } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, type SsdConfig } from '../src/sim/ssd-space.js';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder } from '../src/trace/model.js';

const GiB = 2 ** 30;

/** AutoBlox's baseline on a 64 GiB device: 4 channels x 2 chips x 2 dies x 4 planes (or 8 dies x 1 plane). */
function device(planesPerDie: 1 | 4): SsdConfig {
  return { ...AUTOBLOX_BASELINE, channels: 4, chipsPerChannel: 2, diesPerChip: 8 / planesPerDie, planesPerDie };
}

interface Case {
  name: string;
  cfg: SsdConfig;
  n: number;
  op: number;
  opts: SimOptions;
}

const CASES: Case[] = [
  { name: '10 x 1 GiB writes, 4 planes/die', cfg: device(4), n: 10, op: Op.WRITE, opts: {} },
  { name: '10 x 1 GiB writes, 1 plane/die', cfg: device(1), n: 10, op: Op.WRITE, opts: {} },
  { name: '30 x 1 GiB writes, 4 planes/die', cfg: device(4), n: 30, op: Op.WRITE, opts: {} },
  { name: '30 x 1 GiB writes, 1 plane/die', cfg: device(1), n: 30, op: Op.WRITE, opts: {} },
  { name: '10 x 1 GiB writes, 4 planes, 90% full', cfg: device(4), n: 10, op: Op.WRITE, opts: { preconditionFill: 0.9 } },
  { name: '10 x 1 GiB reads, 4 planes, 90% full', cfg: device(4), n: 10, op: Op.READ, opts: { preconditionFill: 0.9 } },
];

async function one(c: Case, Sim?: SimConstructor): Promise<string> {
  const b = new TraceBuilder({ initialCapacity: c.n });
  for (let i = 0; i < c.n; i++) b.push(i * 1e6, (i * GiB) / 512, GiB, c.op); // 1 ms apart, consecutive
  const t0 = performance.now();
  const r = await simulate(c.cfg, sourceFromBatches(emptyMeta(c.name, 'synthetic'), [b.take()]), c.opts, Sim);
  const wall = (performance.now() - t0) / 1000;
  const visits = r.schedulerVisits === undefined ? '-' : (r.schedulerVisits / r.flashCommands).toFixed(2);
  return (
    `${wall.toFixed(1)} s wall, replay ${(r.replayCpuNs / 1e9).toFixed(1)} CPU-s (precondition ${(r.preconditionCpuNs / 1e9).toFixed(1)}),` +
    ` ${r.flashCommands} commands (${r.multiPlaneCommands} multi-plane), ${visits} visits/command, end ${(r.lastCompletionNs / 1e9).toFixed(3)} s simulated`
  );
}

export async function run(): Promise<void> {
  const oldPath = process.env.SSDSIM_BENCH_OLD;
  const Old = oldPath ? (createRequire(import.meta.url)(path.resolve(oldPath)) as { SsdSim: SimConstructor }).SsdSim : undefined;
  for (const c of CASES) {
    console.log(`${c.name.padEnd(38)} new: ${await one(c)}`);
    if (Old) console.log(`${''.padEnd(38)} old: ${await one(c, Old)}`);
  }
}
