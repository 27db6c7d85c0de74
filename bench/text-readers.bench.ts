/**
 * Text trace readers and native decompression, side by side with awk / bzcat /
 * xzcat / zstdcat on the same files in the same run. Inputs are built in
 * bench/data from the real samples (repeated with shifted times).
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { PROJECT_ROOT } from '../src/native.js';
import { openTrace } from '../src/readers/registry.js';
import { NativeDecompressStream, type NativeCodec } from '../src/readers/decompress.js';

const DATA = path.join(PROJECT_ROOT, 'bench', 'data');

/** The sample repeated `times`, each copy shifted by the previous copy's span. */
function repeatShifted(src: string, out: string, times: number, shift: (line: string, k: number) => string): string {
  const file = path.join(DATA, out);
  if (existsSync(file)) return file;
  const lines = readFileSync(path.join(PROJECT_ROOT, 'traces', src), 'latin1').split('\n').filter((l) => l.length);
  const parts: string[] = [];
  for (let k = 0; k < times; k++) parts.push(lines.map((l) => shift(l, k)).join('\n'));
  writeFileSync(file, parts.join('\n') + '\n');
  return file;
}

function timeCmd(cmd: string): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return (performance.now() - t0) / 1000;
}

async function timeReader(file: string): Promise<{ s: number; n: number }> {
  const t0 = performance.now();
  let n = 0;
  for await (const b of await openTrace(file)) n += b.length;
  return { s: (performance.now() - t0) / 1000, n };
}

async function timeDecompress(file: string, codec: NativeCodec): Promise<{ s: number; bytes: number }> {
  const t0 = performance.now();
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), new NativeDecompressStream(codec), sink);
  return { s: (performance.now() - t0) / 1000, bytes };
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

  console.log('parse (lines/s): ssdtune reader vs awk summing the size column of the same file');
  for (const [name, file, awkProg] of [
    ['msnfs', msnfs, '{s+=$4} END{print s}'],
    ['blkparse', blkparse, '$6=="Q"{s+=$10} END{print s}'],
  ] as const) {
    const n = lines(file);
    const ours = await timeReader(file);
    const awk = timeCmd(`awk '${awkProg}' ${file}`);
    console.log(`  ${name.padEnd(9)} ${fmt(n)} lines: ssdtune ${fmt(n / ours.s)}/s (${ours.s.toFixed(2)} s, ${fmt(ours.n)} requests)   awk ${fmt(n / awk)}/s (${awk.toFixed(2)} s)`);
  }

  console.log('decompress (MB/s of output): native stream vs the command-line tool');
  for (const [codec, ext, tool] of [
    ['bz2', 'bz2', 'bzip2'],
    ['xz', 'xz', 'xz'],
    ['zstd', 'zst', 'zstd'],
  ] as const) {
    const file = `${msnfs}.${ext}`;
    if (!existsSync(file)) execFileSync(tool, ['-k', '-q', msnfs]);
    const ours = await timeDecompress(file, codec);
    const ref = timeCmd(`${tool} -dc ${file} > /dev/null`);
    const parse = await timeReader(file);
    console.log(
      `  ${codec.padEnd(5)} ${(ours.bytes / 1e6).toFixed(0)} MB: native ${(ours.bytes / 1e6 / ours.s).toFixed(0)} MB/s   ${tool} -dc ${(ours.bytes / 1e6 / ref).toFixed(0)} MB/s   read+parse ${fmt(parse.n / parse.s)} requests/s`,
    );
  }
}
