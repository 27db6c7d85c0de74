/**
 * `npm run bench fleet`: the fleet on loopback, bounded in count and time.
 *  (a) 1,000 simulated agents post descriptors drawn from real workloads (the
 *      bundled traces) with 2% noise, against 1 and 2 `ssdtune serve`
 *      processes sharing one PostgreSQL holding 100 / 1k / 10k workloads,
 *      paced (100 reports/s arriving) and saturated (64 in flight):
 *      observations/s, p50/p99 recommendation latency, workloads created,
 *      the serve processes' and PostgreSQL's CPU seconds; the same against
 *      one serve process on the embedded LevelDB.
 *      SSDTUNE_BENCH_FLEET_STORED=10000 picks sizes,
 *      SSDTUNE_BENCH_FLEET_ENGINES=postgres|level and
 *      SSDTUNE_BENCH_FLEET_DRIVES=paced|saturated pick engines and drives;
 *      SSDTUNE_BENCH_FLEET_CONFIGS=1 gives each stored workload a learned
 *      configuration (a tuned fleet); SSDTUNE_BENCH_PROF=DIR writes each
 *      serve process's CPU profile there.
 *  (b) 200 evaluations drained by 1, 2, 4, 8 `ssdtune worker`s (the real
 *      worker with a sleep-calibrated evaluator, bench/fleet-worker.ts):
 *      without faults (throughput against linear), then with a random worker
 *      killed (-9) every 10 s and replaced: results, lost, duplicates
 *      executed, worst recovery (kill to result).
 *  (c) evaluations to 98% of the best grade for batch sizes 1, 2, 4, 8: the
 *      adaptive planner (issue 13) in rounds of k concurrent evaluations,
 *      readahead model on the host space, three seeds.
 * Goals: p99 <= 50 ms at 1,000 agents and 10k workloads; 0 lost; throughput
 * >= 80% of linear up to 8 workers. Wall-clock figures need an idle machine:
 * the load average is printed beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { loadSettings } from '../src/config.js';
import { ConfDB } from '../src/confdb/db.js';
import { describeTrace } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { AdaptiveSearch } from '../src/search/adaptive.js';
import { PlannedSearch } from '../src/search/planned-search.js';
import { runSearch } from '../src/search/search.js';
import { planTune } from '../src/service/catalog.js';
import { EVAL_QUEUE, RemoteEvaluations, evaluationKey, type EvaluationSpec } from '../src/service/evaluation-jobs.js';
import { redisConnection } from '../src/service/queue-bullmq.js';
import { deviceClassKey } from '../src/blockdev/device-class.js';
import { similarityInfo } from '../src/service/identify.js';
import { killAtExit } from '../src/util/cleanup.js';
import { tempDir } from '../src/util/temp-dir.js';
import { sha256File } from '../src/util/digest.js';
import { rng, seedWorkloads } from '../test/helpers/fleet.js';
import { PostgresServer, postgresMissing, RedisServer, redisMissing } from '../test/helpers/servers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const WORKER = path.join(ROOT, 'dist/bench/fleet-worker.js');
const TRACES = path.join(ROOT, 'traces');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const pct = (xs: number[], p: number) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function realWorkloads(windowSize: number): Promise<{ name: string; windows: number[][] }[]> {
  const out: { name: string; windows: number[][] }[] = [];
  for (const f of readdirSync(TRACES)
    .filter((f) => /\.(trace|trace\.xz|csv)$/.test(f))
    .sort()) {
    const file = path.join(TRACES, f);
    try {
      const d = await describeTrace(await openTrace(file), { size: windowSize, source: file });
      if (d.windows.length >= 8) out.push({ name: f, windows: d.windows.map((w) => Array.from(w.vector)) });
    } catch {
      /* a trace too short or in a format needing options: not an agent's workload here */
    }
  }
  return out;
}

interface Serve {
  proc: ChildProcess;
  url: string;
  token: string;
}
/** A serve process on `store` (a postgres:// URL), or on the LevelDB ConfDB under `dataDir` when `store` is undefined. */
async function startServe(store: string | undefined, token?: string, dataDir = tempDir('ssdtune-bench-serve-')): Promise<Serve> {
  if (token) writeFileSync(path.join(dataDir, 'api-token'), token + '\n', { mode: 0o600 });
  const env = { ...process.env };
  if (store) env.SSDTUNE_STORE = store;
  else delete env.SSDTUNE_STORE;
  const proc = spawn(
    process.execPath,
    [
      ...(process.env.SSDTUNE_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.SSDTUNE_BENCH_PROF] : []),
      CLI,
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      '0',
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  killAtExit(proc); // should the bench die first (util/cleanup.ts)
  const file = path.join(dataDir, 'server.json');
  for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(100);
  const { url } = JSON.parse(readFileSync(file, 'utf8')) as { url: string };
  return { proc, url, token: readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim() };
}
async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

async function partA(pgs: PostgresServer): Promise<void> {
  const settings = loadSettings({ dataDir: tempDir('ssdtune-bench-') });
  const model = similarityInfo(settings.modelDir);
  const windowSize = model.meta.windowSize;
  const real = await realWorkloads(windowSize);
  const dim = model.meta.shape.embedding;
  console.log(
    `(a) agents: descriptors from ${real.length} real workloads (${real.map((w) => w.name).join(', ')}), 8 windows of ${windowSize} requests, 2% noise; 64 requests in flight`,
  );
  // Two ways to drive the agents. "paced": they arrive at a fixed rate (1,000 agents within 10 s, as a
  // cron firing on every host at once spreads out), and the latency is what one agent waits. "saturated":
  // 64 requests always in flight, which measures throughput; its latency is mostly queueing (64 / obs/s).
  const stores = (process.env.SSDTUNE_BENCH_FLEET_STORED ?? '100,1000,10000').split(',').map(Number);
  const RATE = Number(process.env.SSDTUNE_BENCH_FLEET_RATE ?? 100);
  // LevelDB admits one process: one serve instance. PostgreSQL: one and two sharing it.
  const engines = (process.env.SSDTUNE_BENCH_FLEET_ENGINES ?? 'postgres,level').split(',');
  const drives = (process.env.SSDTUNE_BENCH_FLEET_DRIVES ?? 'paced,saturated').split(',') as ('paced' | 'saturated')[];
  // A tuned fleet: each stored workload has a configuration learned on the agents' device class (so the
  // recommendation is looked up among as many).
  const configs = process.env.SSDTUNE_BENCH_FLEET_CONFIGS === '1';
  const deviceClass = { model: 'bench', capacityBytes: 1e12, rotational: false, queues: 4, kernel: os.release() };
  console.log(`paced: ${RATE} reports/s arriving (Poisson); saturated: 64 in flight; created: reports answered with a new workload`);
  console.log(`stored workloads ${configs ? 'each with' : 'without'} a learned configuration (SSDTUNE_BENCH_FLEET_CONFIGS=1: with)`);
  // '>50 ms': reports slower than the goal, and how many of them created a workload (the registrations' share of the tail).
  // CPU seconds for the timed reports: the serve processes', and PostgreSQL's (postmaster and backends), which shares the cores.
  console.log('engine    instances  stored  agents  drive      obs/s   p50 ms   p99 ms  created  >50 ms (created)  server cpu s  pg cpu s  load');
  for (const engine of engines) {
    if (engine !== 'postgres' && engine !== 'level') throw new Error(`SSDTUNE_BENCH_FLEET_ENGINES: expected postgres and/or level, got ${engine}`);
    for (const stored of stores) {
      for (const instances of engine === 'level' ? [1] : [1, 2]) {
        for (const drive of drives) {
          const agents = 1000;
          const url = engine === 'postgres' ? await pgs.newDatabase() : undefined;
          const dataDir = tempDir('ssdtune-bench-serve-');
          const db = await ConfDB.open(dataDir, url);
          await seedWorkloads(db, stored, dim, windowSize, model.id, configs ? { configsFor: deviceClassKey(deviceClass) } : {});
          // A LevelDB is the serve process's from here on.
          await db.close();
          const first = await startServe(url, undefined, dataDir);
          const servers = [first, ...(instances === 2 ? [await startServe(url, first.token)] : [])];
          const r = rng(agents + stored);
          const reports = Array.from({ length: agents }, (_, i) => {
            const w = real[i % real.length]!;
            const at = Math.floor(r.u() * Math.max(1, w.windows.length - 8));
            const descriptors = w.windows.slice(at, at + 8).map((v) => v.map((x) => x * (1 + 0.02 * r.normal())));
            return {
              host: `agent${i}`,
              device: 'nvme0n1',
              deviceClass,
              windowSize,
              descriptors,
              applied: { read_ahead_kb: '128' },
            };
          });
          let created = 0;
          const createdMs: number[] = [];
          const post = async (i: number) => {
            const s = servers[i % servers.length]!;
            const t0 = performance.now();
            const res = await fetch(s.url + '/v1/fleet/reports', {
              method: 'POST',
              headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
              body: JSON.stringify(reports[i]),
            });
            const body = (await res.json()) as { workload?: { created?: boolean } };
            if (!res.ok) throw new Error(`report ${i}: HTTP ${res.status}`);
            const ms = performance.now() - t0;
            if (body.workload?.created) {
              created++;
              createdMs.push(ms);
            }
            return ms;
          };
          // Warm each server (model load, caches) before timing.
          for (let i = 0; i < servers.length * 4; i++) await post(i);
          created = 0;
          createdMs.length = 0;
          const cpuBefore = servers.reduce((a, s) => a + cpuSeconds(s.proc.pid!), 0);
          const pgBefore = engine === 'postgres' ? postgresCpuSeconds(pgs) : 0;
          const lat: number[] = [];
          const t0 = performance.now();
          if (drive === 'saturated') {
            let next = 0;
            await Promise.all(
              Array.from({ length: 64 }, async () => {
                while (next < agents) lat.push(await post(next++));
              }),
            );
          } else {
            const pending: Promise<void>[] = [];
            let due = 0;
            for (let i = 0; i < agents; i++) {
              due += (-Math.log(r.u()) / RATE) * 1000;
              const wait = t0 + due - performance.now();
              if (wait > 0) await sleep(wait);
              pending.push(post(i).then((ms) => void lat.push(ms)));
            }
            await Promise.all(pending);
          }
          const secs = (performance.now() - t0) / 1000;
          const cpu = servers.reduce((a, s) => a + cpuSeconds(s.proc.pid!), 0) - cpuBefore;
          const pgCpu = engine === 'postgres' ? (postgresCpuSeconds(pgs) - pgBefore).toFixed(1) : '-';
          console.log(
            `${engine.padEnd(9)} ${String(instances).padStart(9)} ${String(stored).padStart(7)} ${String(agents).padStart(7)}  ${drive.padEnd(9)} ${(agents / secs).toFixed(0).padStart(6)} ${pct(lat, 50).toFixed(1).padStart(8)} ${pct(lat, 99).toFixed(1).padStart(8)} ${String(created).padStart(8)} ${`${lat.filter((ms) => ms > 50).length} (${createdMs.filter((ms) => ms > 50).length})`.padStart(17)} ${cpu.toFixed(1).padStart(13)} ${pgCpu.padStart(9)}  ${load()}`,
          );
          for (const s of servers) await stopProc(s.proc);
        }
      }
    }
  }
}

/** /proc/PID/stat's fields after the command name (state is [0]). */
const statOf = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');

/** User + system CPU seconds of a process so far (/proc/PID/stat), so a figure can be read apart from the load. */
function cpuSeconds(pid: number): number {
  const f = statOf(pid);
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** PostgreSQL's CPU seconds so far: the postmaster's own and its ended backends' (cutime, cstime), and its live backends'. */
function postgresCpuSeconds(pgs: PostgresServer): number {
  const pm = Number(readFileSync(path.join(pgs.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const f = statOf(pm);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const c = statOf(p);
      if (Number(c[1]) === pm) ticks += Number(c[11]) + Number(c[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

async function partB(pgs: PostgresServer, redis: RedisServer): Promise<void> {
  const N = 200;
  const sleepMs = 250;
  console.log(`\n(b) drain ${N} evaluations, sleep-calibrated evaluator ${sleepMs} ms, lock 3 s`);
  console.log('workers  kills  elapsed s  eval/s  vs linear  results  lost  dup-executed  worst recovery s  worker cpu ms/eval  load');
  let base = 0;
  for (const killEvery of [0, 10_000]) {
    for (const workers of [1, 2, 4, 8]) {
      for (const q of [EVAL_QUEUE, 'ssdtune-tune']) {
        const qq = new Queue(q, { connection: redisConnection(redis.url) });
        await qq.obliterate({ force: true });
        await qq.close();
      }
      const store = await pgs.newDatabase();
      const dataDir = tempDir('ssdtune-bench-b-');
      const db = await ConfDB.open(dataDir, store);
      const traceFile = path.join(TRACES, 'msr_hm_0_sample1000.csv');
      const digest = await sha256File(traceFile);
      await db.putBlob(digest, traceFile);
      const remote = new RemoteEvaluations(db, redis.url);
      const logs: string[] = [];
      const env = { ...process.env, SSDTUNE_STORE: store, SSDTUNE_QUEUE: redis.url, SSDTUNE_BENCH_SLEEP_MS: String(sleepMs) };
      const spawnOne = async () => {
        const log = path.join(dataDir, `w${logs.length}.log`);
        logs.push(log);
        writeFileSync(log, '');
        const p = spawn(process.execPath, [WORKER, log], {
          env: { ...env, SSDTUNE_DATA_DIR: mkdtempSync(path.join(dataDir, 'w-')) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        killAtExit(p);
        await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
        return { p, log };
      };
      const pool = await Promise.all(Array.from({ length: workers }, spawnOne));
      const spec: EvaluationSpec = { space: 'ssd', evaluator: 'sleep', replay: { mode: 'recorded' }, trace: { sha256: digest, name: 'msr' } };
      const kills: { at: number; log: string }[] = [];
      const t0 = Date.now();
      let draining = true;
      const killer = (async () => {
        while (killEvery && draining) {
          await sleep(killEvery);
          if (!draining) break;
          const i = Math.floor(Math.random() * pool.length);
          const victim = pool[i]!;
          victim.p.kill('SIGKILL');
          kills.push({ at: Date.now(), log: victim.log });
          pool[i] = await spawnOne();
        }
      })();
      const cpu0 = pool.reduce((a, w) => a + cpuSeconds(w.p.pid!), 0);
      const outcomes = await Promise.allSettled(
        Array.from({ length: N }, (_, i) => remote.evaluate({ key: evaluationKey(spec, { i }), spec, config: { i }, workload: 'msr' })),
      );
      const elapsed = (Date.now() - t0) / 1000;
      // The surviving workers' CPU per evaluation (a killed worker's is lost): what the drain costs whatever the load.
      const cpuPerEval = ((pool.reduce((a, w) => a + cpuSeconds(w.p.pid!), 0) - cpu0) / N) * 1000;
      draining = false;
      const results = await db.count('results');
      let starts = 0;
      let worst = 0;
      for (const log of logs)
        starts += readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('start ')).length;
      for (const k of kills) {
        // What the killed worker had started and not finished: time from the kill to its result.
        const lines = readFileSync(k.log, 'utf8').split('\n');
        const open = new Set(lines.filter((l) => l.startsWith('start ')).map((l) => l.split(' ').slice(2).join(' ')));
        for (const l of lines.filter((l) => l.startsWith('end '))) open.delete(l.split(' ').slice(2).join(' '));
        for (const key of open) {
          const rec = await db.get('results', evaluationKey(spec, JSON.parse(key) as { i: number }));
          if (rec) worst = Math.max(worst, (Date.parse(rec.at) - k.at) / 1000);
        }
      }
      const rate = N / elapsed;
      if (workers === 1 && !killEvery) base = rate;
      const linear = base ? rate / (workers * base) : NaN;
      const lost = N - results + outcomes.filter((o) => o.status === 'rejected').length;
      console.log(
        `${String(workers).padStart(7)} ${String(kills.length).padStart(6)} ${elapsed.toFixed(1).padStart(10)} ${rate.toFixed(1).padStart(7)} ${(linear * 100).toFixed(0).padStart(9)}% ${String(results).padStart(8)} ${String(lost).padStart(5)} ${String(starts - N).padStart(13)} ${(kills.length ? worst.toFixed(1) : '-').padStart(17)} ${(kills.length ? '-' : cpuPerEval.toFixed(1)).padStart(19)}  ${load()}`,
      );
      await killer;
      for (const w of pool) await stopProc(w.p);
      await remote.close();
      await db.close();
    }
  }
}

async function partC(): Promise<void> {
  console.log('\n(c) evaluations to 98% of the best grade: adaptive planner, readahead model (host space), budget 30, seeds 1-3');
  const settings = loadSettings({ dataDir: tempDir('ssdtune-bench-c-') });
  const trace = path.join(TRACES, 'fio_oltp.trace.xz');
  const plan = planTune({ space: 'host', evaluator: 'readahead-model', replay: { mode: 'recorded' } }, settings);
  const runs: { k: number; seed: number; grades: number[] }[] = [];
  for (const k of [1, 2, 4, 8]) {
    for (const seed of [1, 2, 3]) {
      const rec = await runSearch(new PlannedSearch(new AdaptiveSearch(), k), {
        space: plan.buildSpace(),
        evaluator: plan.makeEvaluator({}),
        workload: { name: 'oltp', open: () => openTrace(trace) },
        budget: { evaluations: 30 },
        seed,
      });
      runs.push({ k, seed, grades: rec.evaluations.map((e) => (e.status === 'ok' ? (e.objective ?? e.grade ?? -Infinity) : -Infinity)) });
    }
  }
  const best = Math.max(...runs.flatMap((r) => r.grades));
  console.log(`best objective over all runs ${best.toFixed(4)}; target 98%: ${(0.98 * best).toFixed(4)}`);
  console.log('batch  evaluations to target (seeds 1,2,3)  mean  rounds');
  for (const k of [1, 2, 4, 8]) {
    const ns = runs
      .filter((r) => r.k === k)
      .map((r) => {
        let m = -Infinity;
        for (let i = 0; i < r.grades.length; i++) if ((m = Math.max(m, r.grades[i]!)) >= 0.98 * best) return i + 1;
        return Infinity;
      });
    const mean = ns.reduce((s, x) => s + x, 0) / ns.length;
    console.log(
      `${String(k).padStart(5)}  ${ns
        .map((n) => (Number.isFinite(n) ? String(n) : '>30'))
        .join(', ')
        .padEnd(34)}  ${Number.isFinite(mean) ? mean.toFixed(1) : '>30'}  ${Number.isFinite(mean) ? Math.ceil((mean - 1) / k + 1).toString() : '-'}`,
    );
  }
}

export async function run(): Promise<void> {
  const missing = postgresMissing() ?? redisMissing();
  console.log(`load average at start: ${load()} (${os.cpus().length} cores)`);
  if (missing) {
    console.log(`skipped (a) and (b): ${missing}`);
  } else {
    const pgs = await PostgresServer.start();
    const redis = await RedisServer.start();
    try {
      if (!process.env.SSDTUNE_BENCH_FLEET_SKIP_A) await partA(pgs);
      if (!process.env.SSDTUNE_BENCH_FLEET_SKIP_B) await partB(pgs, redis);
    } finally {
      await redis.stop();
      await pgs.stop();
    }
  }
  if (!process.env.SSDTUNE_BENCH_FLEET_SKIP_C) await partC();
  console.log(`load average at end: ${load()}`);
}
