/**
 * blktrace parse throughput: our native reader (raw events, and paired
 * requests) against stock `blkparse` on the same >= 5 million event set, in
 * the same run.
 *
 * The set is made once with our writer from the real capture
 * traces/blktrace_centos7_vm_small (its 109 requests replicated back to back,
 * shifted in time and sector) and cached in bench/data/ (gitignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/native.js';
import { blktraceEventBatches, openBlktrace } from '../src/readers/blktrace.js';
import { openTraceOffThread } from '../src/readers/off-thread.js';
import { threadCpuNs } from '../test/helpers/cpu.js';
import { writeBlktrace } from '../src/writers/blktrace.js';
import { collect, emptyMeta, TraceBuilder, type TraceBatch, type TraceSource } from '../src/trace/model.js';
import { at, col } from '../src/util/at.js';

const EVENTS_WANTED = 5_000_000;
const DATA = path.join(PROJECT_ROOT, 'bench', 'data', 'blktrace5m');
const NAME = 'big';
const PREFIX = path.join(DATA, NAME);
const BLKPARSE = '/usr/bin/blkparse';

/** The real requests replicated: copy k starts where copy k-1 ended, 1 GiB further on the disk. */
async function replicated(copies: number): Promise<TraceSource> {
  const realSrc = await openBlktrace(path.join(PROJECT_ROOT, 'traces', 'blktrace_centos7_vm_small', 'sda'));
  const real = await collect(realSrc);
  const span = col(real.completeNs!, real.length - 1) + 1_000_000;
  const meta = emptyMeta('replicated blktrace_centos7_vm_small', 'blktrace');
  meta.baseTimeNs = realSrc.meta.baseTimeNs;
  meta.processes = realSrc.meta.processes;
  return {
    meta,
    async *[Symbol.asyncIterator](): AsyncGenerator<TraceBatch> {
      const per = 600; // copies per batch
      for (let k0 = 0; k0 < copies; k0 += per) {
        const nk = Math.min(per, copies - k0);
        const b = new TraceBuilder({ timing: true, initialCapacity: nk * real.length });
        for (let k = 0; k < nk; k++) {
          const dt = (k0 + k) * span;
          const ds = ((k0 + k) % 64) * 2097152;
          for (let i = 0; i < real.length; i++) {
            b.push(
              col(real.timeNs, i) + dt,
              col(real.sector, i) + ds,
              col(real.bytes, i),
              col(real.op, i),
              real.device[i],
              real.pid[i],
              col(real.issueNs!, i) + dt,
              col(real.completeNs!, i) + dt,
            );
          }
        }
        yield b.take();
      }
    },
  };
}

async function ensureData(): Promise<void> {
  const stamp = `${PREFIX}.events`;
  if (existsSync(stamp) && Number(readFileSync(stamp, 'utf8')) >= EVENTS_WANTED && existsSync(`${PREFIX}.blktrace.0`)) return;
  const copies = Math.ceil(EVENTS_WANTED / (109 * 5));
  const t0 = performance.now();
  const res = await writeBlktrace(await replicated(copies), PREFIX, { cpus: 2 });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(stamp, String(res.events));
  console.log(
    `made ${res.events} events (${res.requests} requests) in ${((performance.now() - t0) / 1000).toFixed(1)} s with writeBlktrace -> ${PREFIX}.blktrace.{0,1}`,
  );
}

function bytesOfSet(): number {
  let n = 0;
  for (let c = 0; existsSync(`${PREFIX}.blktrace.${c}`); c++) n += statSync(`${PREFIX}.blktrace.${c}`).size;
  return n;
}

interface Timing {
  /** wall seconds */
  s: number;
  /** CPU seconds (user + system): the fair figure on a shared machine */
  cpu: number;
}

async function timeOurs(mode: 'events' | 'requests'): Promise<Timing & { events: number; rows: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let rows = 0;
  let events = 0;
  if (mode === 'events') {
    for await (const b of blktraceEventBatches(PREFIX, { done: (m) => (events = m.stats.events) })) rows += b.length;
  } else {
    const src = await openBlktrace(PREFIX); // the default batch size, as openTrace uses
    for await (const b of src) rows += b.length;
    events = Number(readFileSync(`${PREFIX}.events`, 'utf8'));
  }
  const c = process.cpuUsage(c0);
  return { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, events, rows };
}

/**
 * The paired requests read on the reader thread (readers/off-thread.ts, as the evaluators read a workload):
 * what the event loop's own thread spends per batch handed over, besides the wall and process CPU.
 */
async function timeOffThread(batchSize: number): Promise<Timing & { rows: number; batches: number; loopMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const l0 = threadCpuNs();
  let rows = 0;
  let batches = 0;
  for await (const b of await openTraceOffThread(`${PREFIX}.blktrace.0`, { batchSize })) {
    rows += b.length;
    batches++;
  }
  const loopMs = (threadCpuNs() - l0) / 1e6;
  const c = process.cpuUsage(c0);
  return { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, rows, batches, loopMs };
}

/** Run blkparse under bash so its `times` builtin reports the child's CPU time. */
function timeBlkparse(args: string[]): Timing {
  const t0 = performance.now();
  const cmd = `${BLKPARSE} -i ${NAME} -D '${DATA}' ${args.join(' ')} >/dev/null 2>&1 || exit 1; times`;
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`blkparse ${args.join(' ')} failed`);
  // `times` prints the shell's and then the children's "user sys" as XmY.YYYs.
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { s, cpu: secs.reduce((a, b) => a + b, 0) };
}

const rate = (n: number, s: number) => `${(n / s / 1e6).toFixed(2)} M events/s`;
const fmt = (t: Timing, events: number) =>
  `wall ${t.s.toFixed(3)} s ${rate(events, t.s).padStart(17)} | cpu ${t.cpu.toFixed(3)} s ${rate(events, t.cpu).padStart(17)}`;
const bestOf = (ts: Timing[]) => ({ s: Math.min(...ts.map((t) => t.s)), cpu: Math.min(...ts.map((t) => t.cpu)) });

export async function run(): Promise<void> {
  await ensureData();
  const events = Number(readFileSync(`${PREFIX}.events`, 'utf8'));
  const bytes = bytesOfSet();
  // Warm the page cache so every contender reads from memory.
  for (let c = 0; existsSync(`${PREFIX}.blktrace.${c}`); c++) readFileSync(`${PREFIX}.blktrace.${c}`);
  console.log(`set: ${PREFIX}.blktrace.{0,1}: ${events} events, ${(bytes / 2 ** 20).toFixed(0)} MiB; best of 3 (ours) / 2 (blkparse), wall and CPU time`);
  const ours = async (mode: 'events' | 'requests') => {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await timeOurs(mode));
    return { ...bestOf(runs), rows: at(runs, 0).rows };
  };
  const ev = await ours('events');
  const rq = await ours('requests');
  console.log(`ssdtune raw events        : ${fmt(ev, events)}  (${ev.rows} rows)`);
  console.log(`ssdtune paired requests   : ${fmt(rq, events)}  (${rq.rows} requests)`);
  for (const batchSize of [65_536, 8_192]) {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await timeOffThread(batchSize));
    const r0 = at(runs, 0);
    const loopMs = Math.min(...runs.map((r) => r.loopMs));
    console.log(
      `ssdtune requests, reader thread, batches of ${batchSize}: ${fmt(bestOf(runs), events)}  (${r0.rows} requests; event loop ${loopMs.toFixed(1)} ms CPU for ${r0.batches} batches, ${(loopMs / r0.batches).toFixed(3)} ms a batch)`,
    );
  }
  if (!existsSync(BLKPARSE)) {
    console.log('blkparse is not installed: no reference figures');
    return;
  }
  const bp = bestOf([timeBlkparse(['-o', '/dev/null']), timeBlkparse(['-o', '/dev/null'])]);
  console.log(`blkparse -o /dev/null     : ${fmt(bp, events)}`);
  const bpO = bestOf([timeBlkparse(['-O', '-q']), timeBlkparse(['-O', '-q'])]);
  console.log(`blkparse -O (no text)     : ${fmt(bpO, events)}`);
  const ratio = (a: Timing, b: Timing) => `wall ${(a.s / b.s).toFixed(1)}x, cpu ${(a.cpu / b.cpu).toFixed(1)}x`;
  console.log(`raw events vs blkparse -o /dev/null: ${ratio(bp, ev)};  vs -O: ${ratio(bpO, ev)}`);
  console.log(`requests   vs blkparse -o /dev/null: ${ratio(bp, rq)};  vs -O: ${ratio(bpO, rq)}`);
}
