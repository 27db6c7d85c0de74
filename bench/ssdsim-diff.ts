/**
 * Differential check of the native SSD simulator against another build of it
 * (`scripts/ssdsim-diff.sh` builds main's and runs this):
 *
 *   node dist/bench/ssdsim-diff.js --old OLD.node [--quick] [--seed N] [--random N] [TRACE_DIR...]
 *
 * Replays the same (trace, configuration) pairs on this build's simulator and
 * on OLD.node's, and requires every figure either returns to be identical, bit
 * for bit (Object.is; the same error when one fails). Not compared: the cost
 * figures that are not simulated (CPU and wall time, stateBytes: the size of
 * the simulator's own structures) and figures only one build has.
 *
 * Traces: every file of traces/ (and each TRACE_DIR) a reader takes, the
 * `npm run bench ssdsim` synthetic workloads, and randomised traces (sizes
 * 512 B to 1 GiB, reads, writes or mixed). Configurations: small devices
 * (so that preconditioning is quick and GC runs) with 1/2/4 planes per die,
 * 1-4 dies, 0/50/90% preconditioning, copyback and preemptible GC on and off,
 * die interleaving, a write cache or none, GC pressure from little
 * over-provisioning; each trace gets several, chosen so each value is covered.
 * Exit status 1 when any pair differs.
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { simulate, type SimConstructor, type SimOptions } from '../src/sim/ssdsim.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import { syntheticTrace, xorshift } from '../src/sim/synthetic.js';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder, type TraceBatch, type TraceSource } from '../src/trace/model.js';
import { native } from '../src/native.js';

const SKIP = new Set(['replayCpuNs', 'preconditionCpuNs', 'preconditionWallNs', 'stateBytes']);

/** The first path (a.b.c) where two results differ, or undefined. Keys only one side has are not compared. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    for (const k of Object.keys(x)) {
      if (SKIP.has(k) || !(k in y)) continue;
      const d = firstDifference(x[k], y[k], at ? `${at}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : `${at}: ${String(a)} vs ${String(b)}`;
}

interface Case {
  name: string;
  cfg: SsdConfig;
  opts: SimOptions;
}

const MiB = 2 ** 20;

/** The i-th configuration: consecutive ones differ in every dimension; `blocks` per die-plane group sets the size (4 units x blocks x 64 pages). */
function variant(i: number, r: () => number, pageBytes: number, blocks: number): Case {
  const planes = [1, 2, 4][i % 3]!;
  const dies = [1, 2, 4][Math.floor(i / 3) % 3]!;
  const pre = [0, 0.5, 0.9][Math.floor(i / 2) % 3]!;
  const copyback = i % 2 === 1;
  const preemptible = Math.floor(i / 4) % 2 === 1;
  const interleave = i % 5 === 4;
  const cache = i % 3 === 1 ? 8 * MiB : 0;
  const op = r() < 0.5 ? 0.2 : 0.3; // little over-provisioning (as little as the smallest devices allow): GC pressure
  const cfg: SsdConfig = {
    ...AUTOBLOX_BASELINE,
    channels: 2,
    chipsPerChannel: 2,
    diesPerChip: dies,
    planesPerDie: planes,
    blocksPerPlane: Math.max(64, Math.floor(blocks / (planes * dies))),
    pagesPerBlock: 64,
    pageBytes,
    dataCacheBytes: cache,
    cmtBytes: 256 * 1024,
    overProvisioning: op,
    copybackGc: copyback,
    preemptibleGc: preemptible,
    gcPolicy: (['GREEDY', 'RGA', 'FIFO', 'RANDOM_PP'] as const)[i % 4]!,
    planeAllocation: (['CWDP', 'PDWC', 'WCPD'] as const)[Math.floor(i / 3) % 3]!,
  };
  const opts: SimOptions = { preconditionFill: pre, preconditionAge: pre > 0 ? 1 : undefined, dieInterleaving: interleave, seed: 1 + i };
  const name = `p${planes}d${dies} pre${pre * 100}% ${copyback ? 'cb' : 'nocb'} ${preemptible ? 'pgc' : 'npgc'}${interleave ? ' dil' : ''}${cache ? ' cache' : ''} op${op} ${cfg.gcPolicy} ${cfg.planeAllocation} ${pageBytes / 1024}K`;
  return { name, cfg, opts };
}

/** A random trace: `n` requests of 512 B to `maxBytes` (log-uniform), reads, writes or mixed, over the device's span. */
function randomTrace(r: () => number, n: number, maxBytes: number, span: number, kind: 'read' | 'write' | 'mixed'): TraceBatch {
  const b = new TraceBuilder({ initialCapacity: n });
  let t = 0;
  for (let i = 0; i < n; i++) {
    const sectors = Math.max(1, Math.min(maxBytes / 512, Math.round(Math.exp(r() * Math.log(maxBytes / 512)))));
    const aligned = r() < 0.5;
    let sector = Math.floor(r() * span);
    if (aligned) sector -= sector % 8;
    const write = kind === 'write' || (kind === 'mixed' && r() < 0.5);
    b.push(t, sector, sectors * 512, write ? Op.WRITE : Op.READ);
    t += r() < 0.3 ? 0 : Math.floor(r() * 2e6);
  }
  return b.take();
}

async function batchesOf(src: TraceSource): Promise<TraceBatch[]> {
  const out: TraceBatch[] = [];
  for await (const b of src) out.push(b);
  return out;
}

interface Workload {
  name: string;
  batches: TraceBatch[];
  /** Closed-loop replays (the bench's QD64 workload). */
  closed?: boolean;
}

/** The first difference between the two builds' results (or errors), and whether the replay failed (in both, then). */
async function compare(w: Workload, c: Case, Old: SimConstructor, New: SimConstructor): Promise<{ diff?: string; failed: boolean; error?: string }> {
  const opts: SimOptions = { ...c.opts, ...(w.closed ? { mode: 'closed' as const, closedLoopDepth: 64 } : {}) };
  const run = async (S: SimConstructor): Promise<unknown> => {
    try {
      return await simulate(c.cfg, sourceFromBatches(emptyMeta(w.name, 'diff'), w.batches), opts, S);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { error: `${err.code ?? ''} ${err.message ?? String(e)}` };
    }
  };
  const a = await run(Old);
  const b = await run(New);
  const error = (a as { error?: string }).error;
  return { diff: firstDifference(a, b) ?? firstDifference(b, a), failed: error !== undefined, error };
}

export async function main(argv: string[]): Promise<number> {
  const arg = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv.splice(i, 2)[1] : undefined;
  };
  const oldPath = arg('--old');
  const seed = Number(arg('--seed') ?? 1);
  const quick = argv.includes('--quick');
  const nRandom = Number(arg('--random') ?? (quick ? 12 : 60));
  const dirs = [path.join(PROJECT_ROOT, 'traces'), ...argv.filter((a) => !a.startsWith('--'))];
  if (!oldPath) {
    console.error('usage: node dist/bench/ssdsim-diff.js --old OLD.node [--quick] [--seed N] [--random N] [TRACE_DIR...]');
    return 2;
  }
  const require = createRequire(import.meta.url);
  const oldAddon = require(path.resolve(oldPath)) as { SsdSim: SimConstructor; sourceStamp: string };
  const Old = oldAddon.SsdSim;
  const New = native().SsdSim as SimConstructor;
  const stamp = native().sourceStamp as string;
  console.log(`old build: native sources ${oldAddon.sourceStamp}; new build: ${stamp}`);
  if (oldAddon.sourceStamp === stamp) {
    console.error('both builds come from the same native sources: nothing to compare');
    return 2;
  }
  const r = xorshift(seed);
  const perTrace = quick ? 2 : 4;
  let pairs = 0,
    differ = 0,
    failed = 0,
    next = 0;
  const t0 = performance.now();
  const check = async (w: Workload, cases: Case[]): Promise<void> => {
    for (const c of cases) {
      const d = await compare(w, c, Old, New);
      pairs++;
      if (d.failed) failed++;
      if (d.failed && /SSDSIM_CONFIG/.test(d.error ?? '')) throw new Error(`the harness made an invalid configuration: ${c.name}: ${d.error}`);
      if (d.diff) {
        differ++;
        console.log(`DIFFERS ${w.name} | ${c.name} | ${d.diff}`);
      } else console.log(`same    ${w.name} | ${c.name}${d.failed ? ` (the same error: ${d.error})` : ''}`);
    }
  };
  const cases = (k: number, pageBytes = 4096, blocks = 256): Case[] => Array.from({ length: k }, () => variant(next++, r, pageBytes, blocks));

  // Every trace a reader takes, once per name and size.
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      const file = path.join(dir, f);
      const key = `${f}:${statSync(file).isDirectory() ? 'dir' : statSync(file).size}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let batches: TraceBatch[];
      try {
        batches = await batchesOf(await openTrace(file));
      } catch {
        continue; // not a trace (README, formats.json)
      }
      if (quick) batches = batches.slice(0, 1);
      await check({ name: f, batches }, cases(perTrace));
    }
  }
  // The `npm run bench ssdsim` synthetic workloads, on each case's device.
  for (const closed of [true, false]) {
    for (const c of cases(perTrace)) {
      const spanSectors = logicalSectors(c.cfg);
      const src = syntheticTrace({
        requests: quick ? 20_000 : 200_000,
        readRatio: 0.7,
        bytes: 4096,
        pattern: 'random',
        spanSectors,
        interArrivalNs: closed ? 0 : 40_000,
        seed: 1,
      });
      await check({ name: `bench 4K rand 70/30 ${closed ? 'QD64' : 'open 25k/s'}`, batches: await batchesOf(src), closed }, [c]);
    }
  }
  // Randomised traces, 512 B to 1 GiB; the huge ones on 16 KiB pages and fewer requests, so the old build finishes.
  for (let i = 0; i < nRandom; i++) {
    const kind = (['read', 'write', 'mixed'] as const)[i % 3]!;
    const huge = i % 4 === 3;
    const [c] = cases(1, huge ? 16384 : [4096, 8192][i % 2]!, huge ? 1024 : 256);
    const n = huge ? 3 + Math.floor(r() * 4) : 200 + Math.floor(r() * 2000);
    const batch = randomTrace(r, n, huge ? 2 ** 30 : 2 ** 22, logicalSectors(c!.cfg), kind);
    await check({ name: `random#${i} ${kind} n=${n} max=${huge ? '1GiB' : '4MiB'}`, batches: [batch] }, [c!]);
  }
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `${pairs} (trace, configuration) pairs compared in ${s} s (${failed} failed in the old build): ${differ === 0 ? 'all identical' : `${differ} differ`}`,
  );
  return differ === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
