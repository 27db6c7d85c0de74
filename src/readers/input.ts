/**
 * Opening trace inputs: existence and type checks with clear errors,
 * transparent decompression, and line iteration with line numbers for error
 * messages, all bounded (InputLimits) and cancellable (AbortSignal).
 *
 * Inputs are regular files, character devices (read as streams) and FIFOs or
 * sockets. A FIFO is read once, through the event loop (libuv's pipe handle,
 * not a thread-pool read): waiting for a writer holds no thread and is ended by
 * the AbortSignal. It cannot be sniffed (that reads the head twice): pass
 * --format.
 */
import { constants, openSync, promises as fsp, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { ERR_TRACE_ABORTED, ERR_TRACE_FORMAT, ERR_TRACE_LIMIT, ERR_TRACE_OPEN, isSsdtuneError } from '../errors.js';
import { DecodeError, Decoder } from './decompress.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits, type InputOptions } from './types.js';

export type Compression = 'none' | 'gzip' | 'bz2' | 'xz' | 'zstd';

/** Compressed (or plain) bytes read per call. */
const RAW_CHUNK = 256 * 1024;
/** Decompressed bytes per decoder call. */
const OUT_CHUNK = 256 * 1024;
/** The ratio check starts once this much has come out (small files may compress very well). */
const RATIO_AFTER = 64 << 20;

/** Detect compression from the magic bytes (never from the file name). */
export function detectCompression(head: Buffer): Compression {
  // A head shorter than a magic matches none: bytes past its end read as undefined.
  const at = (i: number, ...bytes: number[]): boolean => bytes.every((b, k) => head[i + k] === b);
  const byte = (i: number): number => head[i] ?? -1;
  if (at(0, 0x1f, 0x8b)) return 'gzip';
  // "BZh" + block size digit 1-9
  if (at(0, 0x42, 0x5a, 0x68) && byte(3) >= 0x31 && byte(3) <= 0x39) return 'bz2';
  if (at(0, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  // zstd frame magic 0xFD2FB528, or a skippable frame 0x184D2A5? (little endian)
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd) || (at(1, 0x2a, 0x4d, 0x18) && (byte(0) & 0xf0) === 0x50)) return 'zstd';
  return 'none';
}

export type InputKind = 'file' | 'device' | 'stream';

export interface InputInfo {
  /** Bytes (0 for devices and streams: unknown). */
  size: number;
  /** file: regular file; device: character/block device; stream: FIFO or socket (read once, not seekable). */
  kind: InputKind;
}

function kindOf(st: Stats): InputKind {
  return st.isFIFO() || st.isSocket() ? 'stream' : st.isCharacterDevice() || st.isBlockDevice() ? 'device' : 'file';
}

/** Stat a path and fail clearly when it cannot be read as a trace. */
export async function checkReadableFile(path: string): Promise<InputInfo> {
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
  const kind = kindOf(st);
  return { size: kind === 'file' ? st.size : 0, kind };
}

export function limitsOf(opts: InputOptions = {}): InputLimits {
  return { ...DEFAULT_INPUT_LIMITS, ...opts.limits };
}

/** Throw SSDTUNE_TRACE_ABORTED when the signal has fired. */
export function throwIfAborted(path: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(path, signal);
}

function abortError(path: string, signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return ERR_TRACE_ABORTED(path, r instanceof Error ? r.message : String(r ?? 'aborted'));
}

function openError(path: string, e: unknown): Error {
  if (isSsdtuneError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  return ERR_TRACE_OPEN(path, `cannot read: ${err.code ?? ''} ${err.message}`.trim());
}

/** The raw bytes of an input, pulled RAW_CHUNK at a time. */
async function* rawChunks(path: string, kind: InputKind, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  if (kind === 'stream') {
    // Non-blocking open: no wait for a writer here; the pipe handle waits in the event loop.
    const sock = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    const onAbort = (): void => void sock.destroy(abortError(path, signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const b of sock as AsyncIterable<Buffer>) yield b;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
    }
    return;
  }
  const fh = await fsp.open(path, 'r');
  try {
    for (;;) {
      throwIfAborted(path, signal);
      const buf = Buffer.allocUnsafe(RAW_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, RAW_CHUNK, null);
      if (bytesRead === 0) return;
      yield bytesRead === RAW_CHUNK ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

export interface ByteChunk {
  buf: Buffer;
  /** Raw (compressed) bytes read so far, for progress. */
  bytesRead: number;
}

/**
 * Iterate the decompressed bytes of an input in pieces of at most 256 KiB,
 * each decoded only when asked for. Decompression failures become
 * SSDTUNE_TRACE_FORMAT errors naming the compressed position, the caps
 * SSDTUNE_TRACE_LIMIT errors, the signal SSDTUNE_TRACE_ABORTED. The last chunk
 * is empty: it carries the byte count once the input is read to its end.
 */
export async function* readChunks(path: string, opts: InputOptions = {}): AsyncGenerator<ByteChunk> {
  const limits = limitsOf(opts);
  const { signal } = opts;
  throwIfAborted(path, signal);
  const { kind } = await checkReadableFile(path);
  const raw = rawChunks(path, kind, signal);
  let bytesRead = 0;
  let compression: Compression = 'none';
  let decoder: Decoder | undefined;
  let out = 0;
  try {
    // The first bytes tell the compression; they are then fed like the rest.
    const first: Buffer[] = [];
    let firstLen = 0;
    let rawDone = false;
    while (firstLen < 8) {
      const r = await raw.next();
      if (r.done) {
        rawDone = true;
        break;
      }
      first.push(r.value);
      firstLen += r.value.length;
    }
    const head = Buffer.concat(first);
    bytesRead = head.length;
    compression = detectCompression(head);
    const counted = (async function* (): AsyncGenerator<Buffer> {
      if (head.length) yield head;
      if (rawDone) return;
      for (;;) {
        const r = await raw.next();
        if (r.done) return;
        bytesRead += r.value.length;
        yield r.value;
      }
    })();
    let pieces: AsyncIterable<Buffer> = counted;
    if (compression !== 'none') {
      decoder = new Decoder(compression, { memLimit: limits.decoderMemoryBytes, outChunk: OUT_CHUNK });
      pieces = { [Symbol.asyncIterator]: () => decoder!.decode(counted) };
    }
    for await (const buf of pieces) {
      throwIfAborted(path, signal);
      out += buf.length;
      if (out > limits.maxDecompressedBytes) {
        const where = decoder
          ? `decompressed byte ${limits.maxDecompressedBytes} (compressed byte ${decoder.consumed})`
          : `byte ${limits.maxDecompressedBytes}`;
        throw ERR_TRACE_LIMIT(
          path,
          where,
          `more than the limit of ${limits.maxDecompressedBytes} ${decoder ? 'decompressed ' : ''}bytes (maxDecompressedBytes)`,
        );
      }
      if (decoder && limits.maxCompressionRatio > 0 && out >= RATIO_AFTER && out > limits.maxCompressionRatio * decoder.consumed) {
        throw ERR_TRACE_LIMIT(
          path,
          `decompressed byte ${out} (compressed byte ${decoder.consumed})`,
          `${compression} data expanding more than ${limits.maxCompressionRatio} times (maxCompressionRatio): a decompression bomb? Raise the limit if the file is genuine`,
        );
      }
      yield { buf, bytesRead };
    }
    yield { buf: Buffer.alloc(0), bytesRead };
  } catch (e) {
    if (e instanceof DecodeError) {
      const c = compression;
      throw ERR_TRACE_FORMAT(
        path,
        `${c} data at compressed byte ${e.compressedOffset}`,
        e.truncated ? `complete ${c} data, but the input ends mid-stream (truncated?)` : `valid ${c} data: ${e.message}`,
      );
    }
    throw openError(path, e);
  } finally {
    await raw.return(undefined);
  }
}

/** The first `n` decompressed bytes (for sniffing). */
export async function readHead(path: string, n = 65536, opts: InputOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const chunk of readChunks(path, opts)) {
    parts.push(chunk.buf);
    len += chunk.buf.length;
    if (len >= n) break;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Lines held back without a newline: the error that ends an endless or binary "line". */
export function lineTooLong(path: string, lineNo: number, offset: number, limits: InputLimits): Error {
  return ERR_TRACE_LIMIT(
    path,
    `line ${lineNo} (starting at decompressed byte ${offset})`,
    `a line longer than ${limits.maxLineBytes} bytes (maxLineBytes): not a line-oriented trace, or the wrong --format?`,
  );
}

export interface LineChunk {
  lines: string[];
  /** 1-based number of lines[0]. */
  firstLine: number;
  /** Raw (compressed) bytes read so far, for progress. */
  bytesRead: number;
}

/**
 * Iterate a (possibly compressed) text input as chunks of lines, in time linear
 * in its size: a line spanning chunks is held as a list of pieces and joined
 * once, when its newline arrives; one longer than maxLineBytes is an error.
 */
export async function* readLines(path: string, opts: InputOptions = {}): AsyncGenerator<LineChunk> {
  const limits = limitsOf(opts);
  let held: Buffer[] = [];
  let heldLen = 0;
  let lineNo = 1;
  /** Decompressed offset of the first held byte (the start of the pending line). */
  let offset = 0;
  let bytesRead = 0;
  for await (const chunk of readChunks(path, opts)) {
    bytesRead = chunk.bytesRead;
    const buf = chunk.buf;
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      heldLen += buf.length;
      if (heldLen > limits.maxLineBytes) throw lineTooLong(path, lineNo, offset, limits);
      if (buf.length) held.push(buf);
      continue;
    }
    const firstNl = buf.indexOf(10);
    if (heldLen + firstNl > limits.maxLineBytes) throw lineTooLong(path, lineNo, offset, limits);
    const body = held.length ? Buffer.concat([...held, buf.subarray(0, last)]) : buf.subarray(0, last);
    const lines = body.toString('latin1').split('\n');
    if (body.length > limits.maxLineBytes) {
      // Only a cap below the chunk size can be exceeded inside one chunk.
      let at = offset;
      for (const [i, l] of lines.entries()) {
        if (l.length > limits.maxLineBytes) throw lineTooLong(path, lineNo + i, at, limits);
        at += l.length + 1;
      }
    }
    offset += heldLen + last + 1;
    held = [buf.subarray(last + 1)];
    heldLen = buf.length - last - 1;
    yield { lines, firstLine: lineNo, bytesRead };
    lineNo += lines.length;
  }
  if (heldLen) yield { lines: [Buffer.concat(held).toString('latin1')], firstLine: lineNo, bytesRead };
}
