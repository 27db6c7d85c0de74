/**
 * Host tuning, measured: on a loop device backed by a file (direct I/O on),
 * ssdtune's readahead choice (readahead model, calibrated on the device)
 * against Linux's default read_ahead_kb (128 KiB), the device's own default
 * as created, and tuned's throughput-performance (4096 KiB). Sequential and
 * random 4 KiB buffered reads at QD1; configurations alternated round by
 * round; each measured by ssdtune's io_uring replay and, in the same run, by
 * fio (the reference tool) on the same device and settings.
 *
 * Root only (loop devices, sysfs). `npm run bench host`; SSDTUNE_BENCH_ROUNDS
 * (default 7).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { withTrialConfig } from '../src/host/applier.js';
import { tempDir } from '../src/util/temp-dir.js';
import { LiveEvaluator, calibrateDevice, meanStd } from '../src/evaluators/live/live-evaluator.js';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { chooseReadahead } from '../src/evaluators/readahead/readahead-search.js';
import { JsonFileStateStore, type StateStore } from '../src/host/state.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readSnapshot } from '../src/blockdev/sysfs.js';
import { patternTrace, type PatternSpec } from '../src/evaluators/readahead/workloads.js';
import { emptyMeta, sourceFromBatches } from '../src/trace/model.js';

const MiB = 1 << 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function fioArgs(dev: string, spec: PatternSpec): string[] {
  const common = [
    '--name=bench',
    `--filename=${dev}`,
    '--readonly',
    '--ioengine=io_uring',
    '--iodepth=1',
    '--direct=0',
    '--invalidate=1',
    `--bs=${spec.requestBytes}`,
    '--output-format=json',
  ];
  if (spec.pattern === 'sequential') return [...common, '--rw=read', `--size=${spec.count * spec.requestBytes}`];
  return [...common, '--rw=randread', `--size=${spec.spanBytes}`, `--number_ios=${spec.count}`, '--randrepeat=1', '--norandommap'];
}

async function fioBandwidth(dev: string, spec: PatternSpec, config: Record<string, number>, store: StateStore): Promise<number> {
  return withTrialConfig(dev, config, store, async () => {
    const out = execFileSync('fio', fioArgs(dev, spec), { encoding: 'utf8' });
    const j = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: { read: { bw_bytes: number } }[] };
    return j.jobs[0]!.read.bw_bytes;
  });
}

export async function run(): Promise<void> {
  const why = canUseLoopDevices();
  if (why) {
    console.log(`host bench skipped: ${why}`);
    return;
  }
  let haveFio = true;
  try {
    execFileSync('fio', ['--version'], { stdio: 'ignore' });
  } catch {
    haveFio = false;
  }
  const rounds = Number(process.env.SSDTUNE_BENCH_ROUNDS ?? 7);
  const size = 512 * MiB;
  // A file on the machine's disk (not tmpfs): direct I/O from the loop driver reaches a real
  // block device, so per-request cost is what readahead amortises. SSDTUNE_BENCH_DIR overrides.
  const loop = createLoopDevice({ sizeBytes: size, directIo: true, dir: process.env.SSDTUNE_BENCH_DIR, fill: true });
  // The way back of the bench's own device, recorded before each configuration is written.
  const stateDir = tempDir('ssdtune-bench-state-');
  const store = new JsonFileStateStore(stateDir);
  try {
    const dev = resolveDevice(loop.path);
    const asCreated = readSnapshot(dev);
    const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
    const fsType = execFileSync('df', ['--output=fstype', loop.backingFile], { encoding: 'utf8' }).trim().split('\n').pop();
    console.log(
      `device ${loop.name}: ${size / MiB} MiB file ${loop.backingFile} (${fsType}), direct I/O on; as created read_ahead_kb=${asCreated.read_ahead_kb} max_sectors_kb=${asCreated.max_sectors_kb} scheduler=${asCreated.scheduler}`,
    );
    console.log(`load average at start: ${load} (2 cores shared with other jobs: figures are under contention)`);
    const cost = await calibrateDevice(loop.path, size);
    console.log(
      `calibrated cost: ${cost.requestUs.toFixed(1)} us/request, ${cost.parallelism.toFixed(1)} requests overlapped, ${(cost.bytesPerSec / 1e9).toFixed(2)} GB/s, ${cost.appRequestUs.toFixed(1)} us per cached read`,
    );
    const live = new LiveEvaluator({ device: loop.path, repetitions: 1, store });
    const workloads: [string, PatternSpec][] = [
      ['sequential 4 KiB reads, 64 MiB', { pattern: 'sequential', count: 16384, requestBytes: 4096, spanBytes: 448 * MiB }],
      ['random 4 KiB reads, 4000 over 448 MiB', { pattern: 'random', count: 4000, requestBytes: 4096, spanBytes: 448 * MiB, seed: 11 }],
    ];
    for (const [title, spec] of workloads) {
      const batch = patternTrace(spec);
      const choice = chooseReadahead(batch, { deviceBytes: size, cost, maxSectorsKb: Number(asCreated.max_sectors_kb), prefer: 128 });
      const configs: [string, Record<string, number>][] = [
        ['Linux default (128 KiB)', { read_ahead_kb: 128 }],
        [`device as created (${asCreated.read_ahead_kb} KiB)`, { read_ahead_kb: Number(asCreated.read_ahead_kb) }],
        ['tuned throughput-performance (4096 KiB)', { read_ahead_kb: 4096 }],
        [`ssdtune (model: ${choice.readAheadKb} KiB)`, { read_ahead_kb: choice.readAheadKb }],
      ];
      const w = { name: title, open: async () => sourceFromBatches(emptyMeta(`synthetic:${title}`, 'synthetic'), [batch]) };
      const ours = configs.map(() => [] as number[]);
      const fio = configs.map(() => [] as number[]);
      for (let r = 0; r < rounds; r++) {
        // Rotate the order every round so drift in background load hits every configuration alike.
        for (let k = 0; k < configs.length; k++) {
          const i = (k + r) % configs.length;
          const m = await live.evaluate(configs[i]![1], w);
          ours[i]!.push(m.throughputBps);
          if (haveFio) fio[i]!.push(await fioBandwidth(loop.path, spec, configs[i]![1], store));
        }
      }
      console.log(`\n${title} (QD1 buffered, ${rounds} alternated rounds; MB/s median [min-max], ratio of medians vs Linux default)`);
      const base = median(ours[0]!);
      const fbase = haveFio ? median(fio[0]!) : NaN;
      for (let i = 0; i < configs.length; i++) {
        const o = ours[i]!;
        const f = fio[i]!;
        const cv = meanStd(o);
        const fioCol = haveFio
          ? `   fio ${(median(f) / 1e6).toFixed(0).padStart(5)} [${(Math.min(...f) / 1e6).toFixed(0)}-${(Math.max(...f) / 1e6).toFixed(0)}] x${(median(f) / fbase).toFixed(2)}`
          : '   fio n/a';
        console.log(
          `  ${configs[i]![0].padEnd(42)} ssdtune replay ${(median(o) / 1e6).toFixed(0).padStart(5)} [${(Math.min(...o) / 1e6).toFixed(0)}-${(Math.max(...o) / 1e6).toFixed(0)}] cv ${((cv.std / cv.mean) * 100).toFixed(0)}% x${(median(o) / base).toFixed(2)}${fioCol}`,
        );
      }
    }
  } finally {
    loop.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
