/**
 * Opening trace files: existence and type checks with clear errors, transparent
 * decompression, and line iteration with line numbers for error messages.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ERR_TRACE_OPEN } from '../errors.js';

export type Compression = 'none' | 'gzip';

/** Detect compression from the magic bytes. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  return 'none';
}

/** Stat a path and fail clearly when it cannot be read as a trace file. Returns its size. */
export async function checkReadableFile(path: string): Promise<number> {
  let st;
  try {
    st = await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw ERR_TRACE_OPEN(path, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message);
  }
  if (st.isDirectory()) throw ERR_TRACE_OPEN(path, 'is a directory, expected a trace file (for a blktrace per-CPU set pass NAME.blktrace.0)');
  try {
    await fsp.access(path, fsp.constants.R_OK);
  } catch {
    throw ERR_TRACE_OPEN(path, 'permission denied');
  }
  return st.size;
}

/** The first `n` bytes of the file, raw. */
export async function readRawHead(path: string, n = 65536): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A byte stream of the file's decompressed content. */
export async function openDecompressed(path: string): Promise<{ stream: Readable; compression: Compression }> {
  const compression = detectCompression(await readRawHead(path, 8));
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (compression === 'gzip') return { stream: raw.pipe(createGunzip()), compression };
  return { stream: raw, compression };
}

/** The first `n` decompressed bytes (for sniffing). */
export async function readHead(path: string, n = 65536): Promise<Buffer> {
  const { stream } = await openDecompressed(path);
  const parts: Buffer[] = [];
  let len = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      len += chunk.length;
      if (len >= n) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

export interface LineChunk {
  lines: string[];
  /** 1-based number of lines[0]. */
  firstLine: number;
  /** Raw (compressed) bytes read so far, for progress. */
  bytesRead: number;
}

/** Iterate a (possibly compressed) text file as chunks of lines. */
export async function* readLines(path: string): AsyncGenerator<LineChunk> {
  const { stream } = await openDecompressed(path);
  let rest = '';
  let lineNo = 1;
  let bytesRead = 0;
  const raw = stream as Readable & { bytesRead?: number };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      const text = rest + chunk.toString('latin1');
      const lines = text.split('\n');
      rest = lines.pop()!;
      if (lines.length) {
        yield { lines, firstLine: lineNo, bytesRead: raw.bytesRead ?? bytesRead };
        lineNo += lines.length;
      }
    }
    if (rest.length) yield { lines: [rest], firstLine: lineNo, bytesRead: raw.bytesRead ?? bytesRead };
  } finally {
    stream.destroy();
  }
}
