/**
 * Text trace readers and native decompression, side by side with awk / bzcat /
 * xzcat / zstdcat on the same files in the same run. Inputs are built in
 * bench/data from the real samples (repeated with shifted times).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { readChunks } from '../src/readers/input.js';

const DATA = path.join(PROJECT_ROOT, 'bench', 'data');

/** The sample repeated `times`, each copy shifted by the previous copy's span. */
function repeatShifted(src: string, out: string, times: number, shift: (line: string, k: number) => string): string {
  const file = path.join(DATA, out);
  if (existsSync(file)) return file;
  const lines = readFileSync(path.join(PROJECT_ROOT, 'traces', src), 'latin1')
    .split('\n')
    .filter((l) => l.length);
  const parts: string[] = [];
  for (let k = 0; k < times; k++) parts.push(lines.map((l) => shift(l, k)).join('\n'));
  writeFileSync(file, parts.join('\n') + '\n');
  return file;
}

interface Timing {
  /** wall seconds */
  s: number;
  /** CPU seconds (user + system): the fair figure on a machine shared with other jobs */
  cpu: number;
}

/** Wall and CPU time of a shell command (CPU from GNU time). */
function timeCmd(cmd: string): Timing {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [u = NaN, sy = NaN] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { s: (performance.now() - t0) / 1000, cpu: u + sy };
}

async function timed<T>(f: () => Promise<T>): Promise<Timing & { value: T }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, value };
}

async function countRequests(file: string): Promise<number> {
  let n = 0;
  for await (const b of await openTrace(file)) n += b.length;
  return n;
}

async function decompressedBytes(file: string): Promise<number> {
  let bytes = 0;
  for await (const c of readChunks(file)) bytes += c.buf.length;
  return bytes;
}

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

export async function run(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const span = 143069; // ms, the MSNFS sample
  const msnfs = repeatShifted('msps_msnfs_30s.trace', 'msnfs-x10.trace', 10, (l, k) => {
    const i = l.indexOf(' ');
    return `${(Number(l.slice(0, i)) + k * span).toFixed(3)}${l.slice(i)}`;
  });
  const blkparse = repeatShifted('blkparse_hadoop_writeback_apress.txt', 'blkparse-x10.txt', 10, (l, k) =>
    l.replace(/^(\s*\S+\s+\S+\s+\S+\s+)(\d+)\./, (_m, pre: string, sec: string) => `${pre}${Number(sec) + k * 10}.`),
  );
  const lines = (f: string): number => Number(execFileSync('wc', ['-l', f], { encoding: 'utf8' }).trim().split(' ')[0]);

  console.log('parse: ssdtune reader vs awk summing the size column of the same file; rates per CPU second (wall in brackets)');
  for (const [name, file, awkProg] of [
    ['msnfs', msnfs, '{s+=$4} END{print s}'],
    ['blkparse', blkparse, '$6=="Q"{s+=$10} END{print s}'],
  ] as const) {
    const n = lines(file);
    const ours = await timed(() => countRequests(file));
    const awk = timeCmd(`awk '${awkProg}' ${file}`);
    console.log(
      `  ${name.padEnd(9)} ${fmt(n)} lines -> ${fmt(ours.value)} requests: ssdtune ${fmt(n / ours.cpu)} lines/s (${ours.s.toFixed(2)} s wall)   awk ${fmt(n / awk.cpu)} lines/s (${awk.s.toFixed(2)} s wall)`,
    );
  }

  console.log('decompress: native stream vs the command-line tool, MB of output per CPU second (wall in brackets)');
  for (const [codec, ext, tool] of [
    ['bz2', 'bz2', 'bzip2'],
    ['xz', 'xz', 'xz'],
    ['zstd', 'zst', 'zstd'],
  ] as const) {
    const file = `${msnfs}.${ext}`;
    if (!existsSync(file)) execFileSync(tool, ['-k', '-q', msnfs]);
    const ours = await timed(() => decompressedBytes(file));
    const mb = ours.value / 1e6;
    const ref = timeCmd(`${tool} -dc ${file} > /dev/null`);
    const parse = await timed(() => countRequests(file));
    console.log(
      `  ${codec.padEnd(5)} ${mb.toFixed(0)} MB: native ${(mb / ours.cpu).toFixed(0)} MB/s (${ours.s.toFixed(2)} s)   ${tool} -dc ${(mb / ref.cpu).toFixed(0)} MB/s (${ref.s.toFixed(2)} s)   decompress+parse ${fmt(parse.value / parse.cpu)} requests/s (${parse.s.toFixed(2)} s)`,
    );
  }
}
