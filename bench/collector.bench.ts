/**
 * Collector overhead: fio 4 KiB random reads at full speed (libaio, queue
 * depth 32, O_DIRECT) on a loop device over a file in /dev/shm (RAM: the
 * device is as fast as a blk-mq device gets here, so the per-request cost of
 * tracing shows; zram is bio-based and fires no request events, so it cannot
 * be traced this way), without capture and with each
 * backend, alternated round by round so drift on this shared machine hits
 * every mode alike. Per mode: IOPS (median of rounds) and the loss of each
 * capture run against the no-capture run just before it (median of pairs), requests captured against fio's count, records lost, and
 * the collector's CPU (its process's user+sys over the run, % of one core),
 * and fio's own CPU per I/O: the issue-side tracepoint cost runs in fio's
 * context and shows there even when contention swamps the IOPS figure.
 *
 * With bpftool, the kernel's own per-program run time is printed too
 * (kernel.bpf_stats_enabled is switched on for the run and restored).
 *
 * Reference: no capture. Stock blktrace(8) cannot run on these kernels
 * (lockdown), so it cannot be measured side by side here.
 */
import { checkBackend } from '../src/collector/doctor.js';
import { openCollector, type BackendName } from '../src/collector/index.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createLoop, haveTool, runFioAsync, type ScratchDevice } from '../src/collector/testbed.js';

const ROUNDS = Number(process.env.SSDTUNE_BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.SSDTUNE_BENCH_SECONDS ?? 3);

interface Sample {
  iops: number;
  fioCpuUs: number;
  fioIos: number;
  captured: number;
  lost: number;
  cpuPct: number;
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Average kernel run time of our programs (needs kernel.bpf_stats_enabled, which `run` turns on and restores). */
function bpfRunNs(): string {
  type Prog = { name?: string; run_cnt?: number; run_time_ns?: number };
  const progs = JSON.parse(spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }).stdout || '[]') as Prog[];
  return progs
    .filter((p) => /^bt_(issue|complete)$/.test(p.name ?? '') && p.run_cnt)
    .map((p) => `${p.name} ${Math.round(p.run_time_ns! / p.run_cnt!)} ns/run`)
    .join(', ');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const bpfRuns: string[] = [];

async function once(dev: string, backend: BackendName | 'none'): Promise<Sample> {
  const job = { rw: 'randread' as const, bs: 4096, ios: 0, size: '192M', iodepth: 32, runtimeSec: SECONDS };
  if (backend === 'none') {
    const r = await runFioAsync(dev, job);
    return { iops: r.iops, fioCpuUs: r.cpuUsPerIo, fioIos: r.total, captured: 0, lost: 0, cpuPct: 0 };
  }
  const { collector } = await openCollector(dev, { backend });
  let captured = 0;
  const reading = (async () => {
    for await (const b of collector) captured += b.length;
  })();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let r;
  try {
    r = await runFioAsync(dev, job);
    if (backend === 'ebpf' && haveTool('bpftool')) bpfRuns.push(bpfRunNs()); // while still attached
  } finally {
    await collector.stop();
  }
  await reading;
  const cpu = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  return { iops: r.iops, fioCpuUs: r.cpuUsPerIo, fioIos: r.total, captured, lost: collector.stats().lost, cpuPct: ((cpu.user + cpu.system) / wallUs) * 100 };
}

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) return void console.log('skipped: needs root');
  if (!haveTool('fio')) return void console.log('skipped: fio is not installed');
  const backends = (['ebpf', 'tracefs'] as const).filter((b) => {
    const c = checkBackend(b);
    if (!c.works) console.log(`${b}: not measured (${c.reason})`);
    return c.works;
  });
  const statsWas = existsSync(BPF_STATS) ? readFileSync(BPF_STATS, 'utf8').trim() : undefined;
  if (statsWas === '0') writeFileSync(BPF_STATS, '1'); // per-program run time, restored below
  const dev: ScratchDevice = createLoop(256, existsSync('/dev/shm') ? { dir: '/dev/shm' } : {});
  const samples = new Map<string, Sample[]>();
  /** Per backend, the loss of each capture run against the no-capture run just before it. */
  const paired = new Map<string, number[]>();
  try {
    // Warm-up: the sparse backing file allocates pages on first touch; keep that out of the rounds.
    await runFioAsync(dev.path, { rw: 'write', bs: 1 << 20, ios: 0, size: '192M', iodepth: 4 });
    await runFioAsync(dev.path, { rw: 'randread', bs: 4096, ios: 0, size: '192M', iodepth: 32, runtimeSec: 1 });
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of backends) {
        const ref = await once(dev.path, 'none');
        const cap = await once(dev.path, b);
        samples.set('none', [...(samples.get('none') ?? []), ref]);
        samples.set(b, [...(samples.get(b) ?? []), cap]);
        paired.set(b, [...(paired.get(b) ?? []), (ref.iops - cap.iops) / ref.iops]);
      }
    }
  } finally {
    dev.destroy();
    if (statsWas === '0') writeFileSync(BPF_STATS, '0');
  }
  console.log(`device ${dev.name}, fio randread 4 KiB libaio iodepth 32 O_DIRECT, ${SECONDS} s per run, ${ROUNDS} rounds, alternated`);
  console.log('| mode | IOPS (median) | IOPS loss, median of pairs (range) | fio CPU per I/O (median) | captured / fio I/Os | records lost | collector CPU (% of a core) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [mode, ss] of samples) {
    const iops = median(ss.map((s) => s.iops));
    const fio = ss.reduce((a, s) => a + s.fioIos, 0);
    const cap = ss.reduce((a, s) => a + s.captured, 0);
    const lost = ss.reduce((a, s) => a + s.lost, 0);
    const p = paired.get(mode) ?? [];
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    const loss = mode === 'none' ? '-' : `${pct(median(p))} (${pct(Math.min(...p))} .. ${pct(Math.max(...p))})`;
    const cpu = mode === 'none' ? '-' : `${median(ss.map((s) => s.cpuPct)).toFixed(1)}`;
    const fioCpu = `${median(ss.map((s) => s.fioCpuUs)).toFixed(2)} us`;
    console.log(`| ${mode === 'none' ? 'no capture (reference)' : mode} | ${Math.round(iops)} | ${loss} | ${fioCpu} | ${mode === 'none' ? '-' : `${cap} / ${fio}`} | ${mode === 'none' ? '-' : lost} | ${cpu} |`);
  }
  if (bpfRuns.length) console.log(`eBPF program cost (kernel.bpf_stats_enabled), per run: ${bpfRuns.join(' | ')}`);
  console.log(`per-round IOPS: ${[...samples].map(([m, ss]) => `${m}: ${ss.map((s) => Math.round(s.iops)).join(' ')}`).join('; ')}`);
}
