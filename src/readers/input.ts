/**
 * Opening trace files: existence and type checks with clear errors, transparent
 * decompression, and line iteration with line numbers for error messages.
 */
import { createReadStream, promises as fsp, type ReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ERR_TRACE_FORMAT, ERR_TRACE_OPEN } from '../errors.js';
import { NativeDecompressStream } from './decompress.js';

export type Compression = 'none' | 'gzip' | 'bz2' | 'xz' | 'zstd';

/** Detect compression from the magic bytes (never from the file name). */
export function detectCompression(head: Buffer): Compression {
  const at = (i: number, ...bytes: number[]): boolean => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x1f, 0x8b)) return 'gzip';
  // "BZh" + block size digit 1-9
  if (at(0, 0x42, 0x5a, 0x68) && head[3] >= 0x31 && head[3] <= 0x39) return 'bz2';
  if (at(0, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  // zstd frame magic 0xFD2FB528, or a skippable frame 0x184D2A5? (little endian)
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd) || (at(1, 0x2a, 0x4d, 0x18) && (head[0] & 0xf0) === 0x50)) return 'zstd';
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

export interface DecompressedInput {
  stream: Readable;
  compression: Compression;
  /** The file stream underneath: its bytesRead is the progress through the file. */
  raw: ReadStream;
}

/** A byte stream of the file's decompressed content. */
export async function openDecompressed(path: string): Promise<DecompressedInput> {
  const compression = detectCompression(await readRawHead(path, 8));
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (compression === 'none') return { stream: raw, compression, raw };
  const dec = compression === 'gzip' ? createGunzip() : new NativeDecompressStream(compression);
  // pipe() does not forward errors: a read error must end the decompressed stream too.
  raw.on('error', (e) => dec.destroy(e));
  return { stream: raw.pipe(dec), compression, raw };
}

/** Turn a decompression failure into an error naming the file and the position. */
export function compressedInputError(path: string, input: DecompressedInput, e: unknown): Error {
  if (input.compression === 'none' || (e as { code?: string }).code === 'SSDTUNE_TRACE_FORMAT') return e as Error;
  const err = e as Error & { compressedOffset?: number; compressedEnd?: number; truncated?: boolean };
  const c = input.compression;
  // The native stream knows the slice that failed; zlib only how far the file was read.
  const where =
    err.compressedEnd !== undefined
      ? `${c} data in compressed bytes ${err.compressedOffset}-${err.compressedEnd}`
      : err.compressedOffset !== undefined
        ? `${c} data at compressed byte ${err.compressedOffset}`
        : `${c} data before compressed byte ${input.raw.bytesRead}`;
  const truncated = err.truncated || /unexpected end/i.test(err.message);
  return ERR_TRACE_FORMAT(path, where, truncated ? `complete ${c} data, but the file ends mid-stream (truncated?)` : `valid ${c} data: ${err.message}`);
}

/** The first `n` decompressed bytes (for sniffing). */
export async function readHead(path: string, n = 65536): Promise<Buffer> {
  const input = await openDecompressed(path);
  const parts: Buffer[] = [];
  let len = 0;
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      len += chunk.length;
      if (len >= n) break;
    }
  } catch (e) {
    throw compressedInputError(path, input, e);
  } finally {
    input.stream.destroy();
    input.raw.destroy();
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

export interface ByteChunk {
  buf: Buffer;
  /** Raw (compressed) bytes read so far, for progress. */
  bytesRead: number;
}

/**
 * Iterate the decompressed bytes of a file, decompression failures turned into
 * errors naming the position. The last chunk is empty: it carries the byte
 * count once the file is read to its end.
 */
export async function* readChunks(path: string): AsyncGenerator<ByteChunk> {
  const input = await openDecompressed(path);
  try {
    const it = (input.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await it.next();
      } catch (e) {
        throw compressedInputError(path, input, e);
      }
      if (r.done) break;
      yield { buf: r.value, bytesRead: input.raw.bytesRead };
    }
    yield { buf: Buffer.alloc(0), bytesRead: input.raw.bytesRead };
  } finally {
    input.stream.destroy();
    input.raw.destroy();
  }
}

/** Iterate a (possibly compressed) text file as chunks of lines. */
export async function* readLines(path: string): AsyncGenerator<LineChunk> {
  let rest = '';
  let lineNo = 1;
  let bytesRead = 0;
  for await (const chunk of readChunks(path)) {
    bytesRead = chunk.bytesRead;
    const text = rest + chunk.buf.toString('latin1');
    const lines = text.split('\n');
    rest = lines.pop()!;
    if (lines.length) {
      yield { lines, firstLine: lineNo, bytesRead };
      lineNo += lines.length;
    }
  }
  if (rest.length) yield { lines: [rest], firstLine: lineNo, bytesRead };
}
