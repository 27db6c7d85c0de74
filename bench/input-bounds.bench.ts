/**
 * Bounded input (issue 15): what hostile inputs cost the readers, in a fresh
 * process each (peak RSS from getrusage), beside `bzip2 -dc | wc -c` on the
 * same file. The bombs are test/fixtures/zeros-1gib.bz2 (785 bytes -> 1 GiB
 * of zeros) and 128 concatenated copies of lines-8mb.bz2 (69 KB -> 1 GiB of
 * valid MQSim lines); then a 100 MiB line, plain and gzipped, with the cap
 * raised past it (linear time) and at its default (refused at 1 MiB).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/native.js';

const DATA = path.join(PROJECT_ROOT, 'bench', 'data');
const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures');
const REGISTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'readers', 'registry.js');

interface Outcome {
  code?: string;
  requests: number;
  cpu: number;
  wall: number;
  rssMiB: number;
}

/** Read `file` through openTrace in a fresh process: outcome, CPU seconds, peak RSS. */
function readChild(file: string, opts: object): Outcome {
  const script = `
    import { readFileSync } from 'node:fs';
    // VmHWM: this process's own peak (getrusage's maxRSS also counts the parent's pages at fork).
    const hwmMiB = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    import { openTrace } from ${JSON.stringify(REGISTRY)};
    const t0 = performance.now();
    const out = { requests: 0 };
    try { for await (const b of await openTrace(${JSON.stringify(file)}, ${JSON.stringify(opts)})) out.requests += b.length; }
    catch (e) { out.code = e.code ?? String(e); }
    const u = process.resourceUsage();
    out.cpu = (u.userCPUTime + u.systemCPUTime) / 1e6;
    out.wall = (performance.now() - t0) / 1000;
    out.rssMiB = hwmMiB();
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Outcome;
}

/** CPU seconds and peak RSS (MiB) of a shell pipeline's largest process (GNU time). */
function reference(cmd: string): { cpu: number; rssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'sh', '-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const [u = NaN, s = NaN, m = NaN] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { cpu: u + s, rssMiB: m / 1024 };
}

const show = (o: Outcome): string =>
  `${o.code ?? `${o.requests} requests`}, peak RSS ${o.rssMiB.toFixed(0)} MiB, ${o.cpu.toFixed(2)} CPU-s (${o.wall.toFixed(2)} s wall)`;

export async function run(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const zeros = path.join(FIXTURES, 'zeros-1gib.bz2');
  const lines = path.join(DATA, 'lines-1gib.bz2');
  if (!existsSync(lines)) writeFileSync(lines, Buffer.concat(Array.from({ length: 128 }, () => readFileSync(path.join(FIXTURES, 'lines-8mb.bz2')))));
  const longLine = path.join(DATA, 'line-100mib.trace');
  if (!existsSync(longLine)) writeFileSync(longLine, Buffer.concat([Buffer.from('1 0 8 8 1\n'), Buffer.alloc(100 << 20, 0x41), Buffer.from('\n2 0 16 8 1\n')]));
  const longGz = `${longLine}.gz`;
  if (!existsSync(longGz)) writeFileSync(longGz, execFileSync('gzip', ['-c', '-1', longLine], { maxBuffer: 1 << 28 }));

  console.log('decompression bombs: ssdtune reader (fresh process) vs `bzip2 -dc | wc -c`');
  for (const [name, file] of [
    ['zeros 1 GiB (785 B bz2)', zeros],
    ['valid lines 1 GiB (69 KB bz2)', lines],
  ] as const) {
    const ref = reference(`bzip2 -dc '${file}' | wc -c`);
    console.log(`  ${name}`);
    console.log(`    --format mqsim, default limits:       ${show(readChild(file, { format: 'mqsim' }))}`);
    console.log(
      `    line+ratio caps off, 256 MiB byte cap:  ${show(readChild(file, { format: 'mqsim', limits: { maxCompressionRatio: 0, maxLineBytes: 2 ** 40, maxDecompressedBytes: 256 << 20 } }))}`,
    );
    console.log(`    bzip2 -dc | wc -c (whole 1 GiB):      peak RSS ${ref.rssMiB.toFixed(0)} MiB, ${ref.cpu.toFixed(2)} CPU-s`);
  }
  console.log('a 100 MiB line (line 2): default maxLineBytes (1 MiB) vs raised to 256 MiB (read whole, then rejected by the parser)');
  for (const file of [longLine, longGz]) {
    console.log(`  ${path.basename(file)}`);
    console.log(`    default:  ${show(readChild(file, { format: 'mqsim' }))}`);
    console.log(`    raised:   ${show(readChild(file, { format: 'mqsim', limits: { maxLineBytes: 256 << 20 } }))}`);
  }
}
