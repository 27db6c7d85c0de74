/**
 * `npm run bench analyze`: `ssdtune analyze` on 10 million requests.
 *
 * Synthesises (once, cached in bench/data/, gitignored) a 10M-request MQSim
 * ASCII trace: 4 devices, 70% reads, sequential runs mixed with random
 * requests, 4..128 KiB. Then measures, in the same run:
 *   - `wc -l` on the file (the floor: just reading the bytes),
 *   - the reader alone (openTrace + iterate batches),
 *   - the statistics engine alone on in-memory batches (10M requests),
 *   - the whole CLI (`ssdtune analyze --json`) as a child process: wall time
 *     and peak RSS from /usr/bin/time (or the child's own resource usage).
 * Goal: CLI <= 10 s on the 2-core machine.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { StatsAccumulator } from '../src/analyze/stats.js';
import { Op, TraceBuilder, type TraceBatch } from '../src/trace/model.js';
import { Rng } from '../src/space/rng.js';
import { at } from '../src/util/at.js';

const N = Number(process.env.SSDTUNE_BENCH_ANALYZE_N ?? 10_000_000);
const DATA = path.join(PROJECT_ROOT, 'bench', 'data');
const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

/** Deterministic 32-bit integers from the project's seeded generator. */
function rng(seed: number): () => number {
  const g = new Rng(seed);
  return () => Math.floor(g.next() * 4294967296);
}

/** Request generator shared by the file and the in-memory batches. */
function* requests(n: number): Generator<[t: number, dev: number, sector: number, sectors: number, read: boolean]> {
  const r = rng(12345);
  const next = [0, 0, 0, 0];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += 1000 + (r() % 40000);
    const dev = r() & 3;
    const sectors = 8 << (r() % 5);
    const read = r() % 10 < 7;
    // 40% continue the device's sequential stream, else jump within 256 GiB
    const sector = r() % 10 < 4 ? at(next, dev) : (r() % 67_108_864) * 8;
    next[dev] = sector + sectors;
    yield [t, dev, sector, sectors, read];
  }
}

async function traceFile(): Promise<string> {
  mkdirSync(DATA, { recursive: true });
  const file = path.join(DATA, `analyze-${N}.mqsim`);
  if (existsSync(file)) return file;
  console.log(`synthesising ${N.toLocaleString()} requests into ${file} (cached for next runs)...`);
  const tmp = file + '.tmp';
  const out = createWriteStream(tmp);
  let buf: string[] = [];
  for (const [t, dev, sector, sectors, read] of requests(N)) {
    buf.push(`${t} ${dev} ${sector} ${sectors} ${read ? 1 : 0}`);
    if (buf.length === 100_000) {
      if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length) out.write(buf.join('\n') + '\n');
  out.end();
  await once(out, 'finish');
  renameSync(tmp, file);
  return file;
}

function mrps(n: number, ms: number): string {
  return `${(((n / ms) * 1e3) / 1e6).toFixed(2)} M req/s`;
}

interface Timing {
  ms: number;
  /** user + system CPU ms (less sensitive than wall time to other load on the machine) */
  cpuMs: number;
  n: number;
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e3;
}

async function readerAlone(file: string): Promise<Timing> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for await (const b of await openTrace(file)) n += b.length;
  return { ms: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(c0)), n };
}

/** The engine alone: 1M requests built once in memory, fed 10 times (shifted in time) = N requests. */
function statsAlone(): Timing {
  const chunk = Math.min(N, 1_000_000);
  const batches: TraceBatch[] = [];
  const b = new TraceBuilder({ initialCapacity: 65536 });
  let last = 0;
  for (const [t, dev, sector, sectors, read] of requests(chunk)) {
    b.push(t, sector, sectors * 512, read ? Op.READ : Op.WRITE, dev);
    last = t;
    if (b.length === 65536) batches.push(b.take());
  }
  if (b.length) batches.push(b.take());
  const passes = Math.round(N / chunk);
  const acc = new StatsAccumulator();
  acc.addStream();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let p = 0; p < passes; p++) for (const x of batches) acc.add(x, 0, p * (last + 1000));
  const s = acc.finish();
  const ms = performance.now() - t0;
  const cpu = cpuMs(process.cpuUsage(c0));
  if (s.requests !== passes * chunk) throw new Error('stats engine lost requests');
  return { ms, cpuMs: cpu, n: s.requests };
}

function cli(file: string): Timing & { rssKiB: number } {
  const t0 = performance.now();
  const useTime = existsSync('/usr/bin/time');
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KIB=%M CPU_S=%U+%S', process.execPath, CLI, 'analyze', '--json', file], {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      })
    : spawnSync(
        process.execPath,
        [
          '--import',
          'data:text/javascript,process.on("exit",()=>{const u=process.resourceUsage();process.stderr.write("MAXRSS_KIB="+u.maxRSS+" CPU_S="+u.userCPUTime/1e6+"+"+u.systemCPUTime/1e6+"\\n")})',
          CLI,
          'analyze',
          '--json',
          file,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 28 },
      );
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`analyze failed (${r.status}): ${r.stderr}`);
  const m = /MAXRSS_KIB=(\d+) CPU_S=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  const rep = JSON.parse(r.stdout) as { traces: Array<{ stats: { requests: number } }> };
  return { ms, cpuMs: m ? (Number(m[2]) + Number(m[3])) * 1e3 : NaN, rssKiB: m ? Number(m[1]) : NaN, n: at(rep.traces, 0).stats.requests };
}

export async function run(): Promise<void> {
  const file = await traceFile();
  const size = statSync(file).size;
  console.log(`trace: ${file}, ${N.toLocaleString()} requests, ${(size / 2 ** 20).toFixed(0)} MiB (MQSim ASCII)`);

  const t0 = performance.now();
  spawnSync('wc', ['-l', file]);
  const wcMs = performance.now() - t0;

  const rd = await readerAlone(file);
  const st = statsAlone();
  const c = cli(file);
  if (c.n !== N) throw new Error(`analyze counted ${c.n} requests, expected ${N}`);

  const sec = (ms: number): string => `${(ms / 1e3).toFixed(2)} s`;
  const rows: string[][] = [
    ['', 'wall', 'CPU', 'wall rate', ''],
    ['wc -l (reference: read the bytes)', sec(wcMs), '', mrps(N, wcMs), ''],
    ['mqsim reader alone (openTrace + iterate)', sec(rd.ms), sec(rd.cpuMs), mrps(rd.n, rd.ms), ''],
    ['stats engine alone (in-memory batches)', sec(st.ms), sec(st.cpuMs), mrps(st.n, st.ms), ''],
    ['ssdtune analyze --json (CLI, whole job)', sec(c.ms), sec(c.cpuMs), mrps(N, c.ms), `peak RSS ${(c.rssKiB / 1024).toFixed(0)} MiB`],
  ];
  for (const r of rows) console.log(`${at(r, 0).padEnd(42)} ${at(r, 1).padStart(9)} ${at(r, 2).padStart(9)} ${at(r, 3).padStart(15)}  ${r[4]}`);
  console.log(
    `goal: CLI <= 10 s wall -> ${c.ms <= 10_000 ? 'met' : 'NOT met'}; load average at end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${cpus().length} cores`,
  );
}
