/**
 * Shared driver for line-oriented text formats: streams lines, hands each to
 * the format's parser, batches rows, and turns parse failures into errors that
 * name the file, the line and what was expected (or counts them with skipBad).
 */
import { TraceBuilder, emptyMeta, type TraceBatch, type TraceMeta, type TraceSource } from '../trace/model.js';
import { ERR_INTERNAL_INDEX, ERR_TRACE_FORMAT } from '../errors.js';
import { checkReadableFile, limitsOf, lineTooLong, readChunks, readLines } from './input.js';
import { FIELD_KIND, ScanStop, textScan, type FieldKind } from './text.js';
import { DEFAULT_BATCH, type InputOptions, type ReaderOptions } from './types.js';
import { col } from '../util/at.js';

/** Thrown by a line parser: `expected` says what the line should have looked like. */
export class LineError extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

export interface LineParser {
  /** Timing columns (issue/complete) present in this format. */
  timing?: boolean;
  /**
   * Parse one line into the builder. Return false for lines that carry no request
   * (comments, headers, messages); throw LineError for malformed lines.
   */
  parse(line: string, b: TraceBuilder, meta: TraceMeta, lineNo: number): boolean;
  /** Called after the last line (e.g. to sort or flush state). */
  finish?(b: TraceBuilder, meta: TraceMeta): void;
  /**
   * Fast path for lines of plain numbers: the native tokenizer parses lines of
   * exactly these fields into `v[o]..v[o + kinds.length - 1]` and `row` must do
   * what `parse` does with such a line (lines outside the tokenizer's grammar,
   * errors included, still go through `parse`).
   */
  fast?: { kinds: readonly FieldKind[]; row(v: Float64Array, o: number, b: TraceBuilder, meta: TraceMeta): boolean };
}

/** Rows per native scan call (the out array is reused). */
const SCAN_ROWS = 8192;

export async function openLineFormat(path: string, format: string, opts: ReaderOptions, makeParser: () => LineParser): Promise<TraceSource> {
  const total = (await checkReadableFile(path)).size;
  const meta = emptyMeta(path, format);
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  return {
    meta,
    async *[Symbol.asyncIterator](): AsyncGenerator<TraceBatch> {
      const parser = makeParser();
      const b = new TraceBuilder({ timing: parser.timing ?? false, initialCapacity: Math.min(batchSize, 65536) });
      let records = 0;
      const rejected = (e: unknown, lineNo: number, line: string): void => {
        if (!(e instanceof LineError)) throw e;
        if (!opts.skipBad)
          throw ERR_TRACE_FORMAT(path, `line ${lineNo}`, opts.quoteInput === false ? e.expected : `${e.expected}, got ${JSON.stringify(line.slice(0, 120))}`);
        meta.skippedRecords++;
      };
      const parseLine = (line: string, lineNo: number): void => {
        if (line.endsWith('\r')) line = line.slice(0, -1);
        try {
          if (parser.parse(line, b, meta, lineNo)) records++;
        } catch (e) {
          rejected(e, lineNo, line);
        }
      };
      if (parser.fast) {
        const fast = parser.fast;
        const onLine = (line: string, lineNo: number): boolean => {
          parseLine(line, lineNo);
          return b.length >= batchSize;
        };
        const onRow = (v: Float64Array, o: number, lineNo: number, buf: Buffer, at: number): boolean => {
          try {
            if (fast.row(v, o, b, meta)) records++;
          } catch (e) {
            rejected(e, lineNo, lineText(buf, at));
          }
          return b.length >= batchSize;
        };
        const progress = opts.onProgress && ((done: number): void => opts.onProgress!(done, total));
        for await (const _ of scanRows(path, opts, fast.kinds, onLine, onRow, progress)) yield* pieces(b.take(), batchSize);
      } else {
        for await (const chunk of readLines(path, opts)) {
          for (const [i, l] of chunk.lines.entries()) {
            parseLine(l, chunk.firstLine + i);
            if (b.length >= batchSize) yield* pieces(b.take(), batchSize);
          }
          opts.onProgress?.(chunk.bytesRead, total);
        }
      }
      parser.finish?.(b, meta);
      if (b.length) yield* pieces(b.take(), batchSize);
      if (records === 0 && meta.skippedRecords === 0) throw ERR_TRACE_FORMAT(path, 'end of file', `no ${format} records found (empty file?)`);
    },
  };
}

/**
 * Drive the native tokenizer over a (possibly compressed) file, line by line in
 * file order: each line of plain numbers goes to `row` (with its fields in
 * v[o..]), every other line to `line` as the same latin1 string the string
 * reader would see. Both return true when the batch is full; the generator then
 * yields so the caller takes it, cutting batches exactly where the string
 * reader would (one await per batch, not per line).
 */
async function* scanRows(
  path: string,
  opts: InputOptions,
  kindNames: readonly FieldKind[],
  line: (text: string, lineNo: number) => boolean,
  row: (v: Float64Array, o: number, lineNo: number, buf: Buffer, at: number) => boolean,
  progress?: (bytesRead: number) => void,
): AsyncGenerator<void> {
  const scan = textScan();
  const kinds = Uint8Array.from(kindNames, (k) => FIELD_KIND[k]);
  const nf = kinds.length;
  const w = nf + 2;
  const out = new Float64Array(w * SCAN_ROWS);
  const state = new Float64Array(4);
  let lineNo = 1;
  let bytesRead = 0;
  const limits = limitsOf(opts);
  /** The start of a line not yet ended by '\n' (pieces of one or more chunks), held until its newline comes. */
  let held: Buffer[] = [];
  let heldLen = 0;
  /** Decompressed offset of the first held byte (the pending line's start). */
  let heldAt = 0;
  let offset = 0;
  for await (const chunk of readChunks(path, opts)) {
    bytesRead = chunk.bytesRead;
    const nl = chunk.buf.indexOf(10);
    if (nl < 0) {
      if (heldLen === 0) heldAt = offset;
      heldLen += chunk.buf.length;
      offset += chunk.buf.length;
      if (heldLen > limits.maxLineBytes) throw lineTooLong(path, lineNo, heldAt, limits);
      if (chunk.buf.length) held.push(chunk.buf);
      continue;
    }
    if (heldLen + nl > limits.maxLineBytes) throw lineTooLong(path, lineNo, heldLen ? heldAt : offset, limits);
    const base = heldLen ? heldAt : offset; // decompressed offset of buf[0]
    const buf = heldLen ? Buffer.concat([...held, chunk.buf]) : chunk.buf;
    offset += chunk.buf.length;
    held = [];
    heldLen = 0;
    let pos = 0;
    for (;;) {
      const rows = scan(buf, pos, kinds, out, state);
      // Checked once per scan, so that the rows (here and in the formats' row()) index out without a check per field.
      if (rows * w > out.length) throw ERR_INTERNAL_INDEX('scanned rows', rows * w - 1, out.length);
      for (let r = 0; r < rows; r++) {
        const o = r * w;
        // (buf, offset) rather than a closure: no allocation per row on the hot path
        // after a row's nf fields: its line number (from lineNo) and its byte offset in buf
        if (row(out, o, lineNo + out[o + nf]!, buf, out[o + nf + 1]!)) yield;
      }
      // state: [position, lines consumed, end of the line it stopped at, why it stopped]
      lineNo += col(state, 1, 'scan state');
      pos = col(state, 0, 'scan state');
      const stop = col(state, 3, 'scan state');
      if (stop === ScanStop.NEED_MORE) break;
      if (stop === ScanStop.SLOW) {
        const eol = col(state, 2, 'scan state');
        if (eol - pos > limits.maxLineBytes) throw lineTooLong(path, lineNo, base + pos, limits);
        const full = line(buf.toString('latin1', pos, eol), lineNo++);
        pos = eol + 1;
        if (full) yield;
      }
    }
    if (pos < buf.length) {
      held.push(buf.subarray(pos));
      heldLen = buf.length - pos;
      heldAt = base + pos;
      if (heldLen > limits.maxLineBytes) throw lineTooLong(path, lineNo, heldAt, limits);
    }
    progress?.(bytesRead);
  }
  if (held.length) {
    if (line(Buffer.concat(held).toString('latin1'), lineNo)) yield;
    progress?.(bytesRead);
  }
}

/** The line starting at `start` in buf as the string reader sees it (one trailing '\r' dropped). */
function lineText(buf: Buffer, start: number): string {
  const eol = buf.indexOf(10, start);
  return buf.toString('latin1', start, eol > start && buf[eol - 1] === 13 ? eol - 1 : eol);
}

/**
 * A batch cut into batches of at most `n` rows (views, no copies): parsers that
 * hold rows back (sorting, pairing) release many at once.
 */
function* pieces(batch: TraceBatch, n: number): Generator<TraceBatch> {
  if (batch.length <= n) {
    yield batch;
    return;
  }
  for (let i = 0; i < batch.length; i += n) {
    const e = Math.min(batch.length, i + n);
    yield {
      length: e - i,
      timeNs: batch.timeNs.subarray(i, e),
      sector: batch.sector.subarray(i, e),
      bytes: batch.bytes.subarray(i, e),
      op: batch.op.subarray(i, e),
      device: batch.device.subarray(i, e),
      pid: batch.pid.subarray(i, e),
      ...(batch.issueNs && batch.completeNs ? { issueNs: batch.issueNs.subarray(i, e), completeNs: batch.completeNs.subarray(i, e) } : {}),
    };
  }
}

/** Parse a non-negative finite decimal field or throw LineError naming it. */
export function num(s: string | undefined, field: string): number {
  const v = s === undefined || s === '' ? NaN : Number(s);
  if (!Number.isFinite(v) || v < 0) throw new LineError(`${field}: a non-negative number`);
  return v;
}

/*
 * Range checks for the trace model's columns, so that no value is silently
 * wrapped (a Uint32 device of 2^32 becomes 0), rounded (a Float64 sector beyond
 * 2^53) or dropped (a time of 1e308 ms is Infinity in nanoseconds). Each throws
 * LineError naming the field, which the driver turns into a coded error naming
 * the file and line.
 */

/** Largest request the model's Uint32 byte column holds. */
const MAX_BYTES = 0xffffffff;
/** Sectors are Float64: integers are exact below 2^53 (4 EiB of 512-byte sectors). */
export const MAX_SECTOR = 2 ** 53 - 1;
/** Devices are Uint32. */
export const MAX_DEVICE = 0xffffffff;
/** Times are Float64 nanoseconds; the kernel's are int64: beyond 2^63 ns (292 years, epoch times included) a field is misread. */
export const MAX_TIME_NS = 2 ** 63;

/** A request size field in `unit`-byte units, as bytes; throws LineError beyond 4 GiB. */
export function sizeBytes(s: string | undefined, field: string, unit = 1): number {
  return sizeOf(num(s, field), field, unit);
}

/** sizeBytes of an already parsed (non-negative) field value. */
export function sizeOf(v: number, field: string, unit = 1): number {
  const bytes = v * unit;
  if (!(bytes <= MAX_BYTES)) throw new LineError(`${field}: a request size below 4 GiB`);
  if (!Number.isInteger(bytes)) throw new LineError(`${field}: a whole number of bytes`);
  return bytes;
}

/** A start position of `unit` bytes per step (512: sectors; 1: bytes, rounded down) as a 512-byte sector number. */
export function sectorOf(v: number, field: string, unit = 512): number {
  const sector = unit === 512 ? v : Math.floor((v * unit) / 512);
  if (!(sector <= MAX_SECTOR) || !Number.isInteger(v))
    throw new LineError(`${field}: a whole number of ${unit === 1 ? 'bytes' : `${unit}-byte units`} below ${unit === 512 ? '2^53' : `2^53 sectors`}`);
  return sector;
}

/** A device or volume number that fits the model's Uint32 column (never wrapped). */
export function deviceOf(v: number, field: string): number {
  if (!(v <= MAX_DEVICE) || !Number.isInteger(v)) throw new LineError(`${field}: a whole device number below 2^32`);
  return v;
}

/** A time already scaled to nanoseconds: finite and below MAX_TIME_NS (1e308 ms is refused, not dropped). */
export function timeNsOf(ns: number, field: string): number {
  if (!(ns <= MAX_TIME_NS) || !(ns >= 0)) throw new LineError(`${field}: a time below 2^63 ns (292 years)`);
  return ns;
}
