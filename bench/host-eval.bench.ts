/**
 * `npm run bench host-eval`: the cost of one host-space evaluation (the
 * readahead model) on a trace of 1 M requests, against issue 13's goal of
 * <= 5 s. The model used to keep its cache in a Map whose eviction went
 * quadratic once the cache was full (600k inserts: 34 s; a Hadoop trace's
 * first half: about 227 s per evaluation).
 *
 * The traces are real ones repeated until they hold 1 M requests, each copy
 * after the previous one in time and on fresh addresses (so copies never hit
 * each other's pages in the cache: the model does all the work of a trace
 * that large):
 *  - msnfs: the MSN file-server trace (150k requests, 87% reads);
 *  - cloudphysics: the CloudPhysics VSCSI sample (114k requests, 59% writes);
 *  - hadoop: the Hadoop writeback blkparse trace (15.5k requests, writes).
 * Each is evaluated at read_ahead_kb 128 (the kernel default) and 4096 with
 * the evaluator `tune` uses (recorded replay, 1 GiB cache), the trace held in
 * memory: the figure is the model's; reading the trace is given apart (it is
 * the reader's cost, the same for every evaluator).
 *
 * Wall time and CPU seconds (process.cpuUsage), median of
 * HOST_EVAL_BENCH_REPEATS (default 3). HOST_EVAL_BENCH_REQUESTS (1000000),
 * HOST_EVAL_BENCH_TRACES (comma list).
 */
import path from 'node:path';
import { loadavg } from 'node:os';
import { openTrace } from '../src/readers/registry.js';
import { concatBatches, emptyMeta, sourceFromBatches, SECTOR_BYTES, type TraceBatch } from '../src/trace/model.js';
import { ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import type { WorkloadRef } from '../src/evaluators/types.js';
import { PROJECT_ROOT } from '../src/native.js';

const TRACES: Record<string, string> = {
  msnfs: 'msps_msnfs_30s.trace',
  cloudphysics: 'cloudphysics_vscsi_sample.csv',
  hadoop: 'blkparse_hadoop_writeback_apress.txt',
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The trace repeated until it holds `n` requests: copy k shifted by k x (duration + 1 ms) and k x (highest byte, rounded up to 1 GiB). */
function repeatTo(one: TraceBatch, n: number): TraceBatch {
  let tMax = 0;
  let end = 0;
  for (let i = 0; i < one.length; i++) {
    tMax = Math.max(tMax, one.timeNs[i]!);
    end = Math.max(end, one.sector[i]! * SECTOR_BYTES + one.bytes[i]!);
  }
  const dt = tMax + 1e6;
  const ds = (Math.ceil(end / 2 ** 30) * 2 ** 30) / SECTOR_BYTES;
  const copies: TraceBatch[] = [];
  for (let k = 0, left = n; left > 0; k++, left -= one.length) {
    const m = Math.min(left, one.length);
    copies.push({
      length: m,
      timeNs: Float64Array.from(one.timeNs.subarray(0, m), (t) => t + k * dt),
      sector: Float64Array.from(one.sector.subarray(0, m), (s) => s + k * ds),
      bytes: one.bytes.slice(0, m),
      op: one.op.slice(0, m),
      device: one.device.slice(0, m),
      pid: one.pid.slice(0, m),
    });
  }
  return concatBatches(copies);
}

export async function run(): Promise<void> {
  const target = Number(process.env.HOST_EVAL_BENCH_REQUESTS ?? 1_000_000);
  const repeats = Number(process.env.HOST_EVAL_BENCH_REPEATS ?? 3);
  const names = (process.env.HOST_EVAL_BENCH_TRACES ?? Object.keys(TRACES).join(',')).split(',').filter(Boolean);
  console.log(
    `host-space evaluation (readahead model, recorded replay, 1 GiB cache) of ${target} requests; median of ${repeats}; goal <= 5 s; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const evaluator = new ReadaheadModelEvaluator({ replay: { mode: 'recorded' } });
  for (const name of names) {
    const file = TRACES[name];
    if (!file) throw new Error(`unknown trace ${name}; have ${Object.keys(TRACES).join(', ')}`);
    const r0 = Date.now();
    const parts: TraceBatch[] = [];
    for await (const b of await openTrace(path.join(PROJECT_ROOT, 'traces', file))) parts.push(b);
    const one = concatBatches(parts);
    const readS = (Date.now() - r0) / 1000;
    const batch = repeatTo(one, target);
    const workload: WorkloadRef = {
      name: `${name} x${Math.ceil(target / one.length)}`,
      open: async () => sourceFromBatches(emptyMeta(name, 'memory'), [batch]),
    };
    for (const ra of [128, 4096]) {
      const wall: number[] = [];
      const cpu: number[] = [];
      let latency = 0;
      let deviceReads = 0;
      for (let i = 0; i < repeats; i++) {
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        const m = await evaluator.evaluate({ read_ahead_kb: ra }, workload);
        wall.push((performance.now() - w0) / 1000);
        const d = process.cpuUsage(c0);
        cpu.push((d.user + d.system) / 1e6);
        latency = m.latencyMeanUs;
        deviceReads = m.extra?.deviceReads ?? 0;
      }
      const w = median(wall);
      console.log(
        `  ${workload.name.padEnd(16)} ${batch.length} requests, read_ahead_kb ${String(ra).padStart(4)}: ${w.toFixed(2)} s wall [${wall.map((x) => x.toFixed(2)).join(' ')}], ${median(cpu).toFixed(2)} CPU-s; ` +
          `goal <= 5 s ${w <= 5 ? 'met' : 'MISSED'}; (mean latency ${latency.toFixed(1)} us, ${deviceReads} device reads; reading one copy of the trace took ${readS.toFixed(2)} s)`,
      );
    }
  }
}
