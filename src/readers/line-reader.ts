/**
 * Shared driver for line-oriented text formats: streams lines, hands each to
 * the format's parser, batches rows, and turns parse failures into errors that
 * name the file, the line and what was expected (or counts them with skipBad).
 */
import { TraceBuilder, emptyMeta, type TraceBatch, type TraceMeta, type TraceSource } from '../trace/model.js';
import { ERR_TRACE_FORMAT } from '../errors.js';
import { checkReadableFile, readLines } from './input.js';
import { DEFAULT_BATCH, type ReaderOptions } from './types.js';

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
}

export async function openLineFormat(path: string, format: string, opts: ReaderOptions, makeParser: () => LineParser): Promise<TraceSource> {
  const total = await checkReadableFile(path);
  const meta = emptyMeta(path, format);
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  return {
    meta,
    async *[Symbol.asyncIterator](): AsyncGenerator<TraceBatch> {
      const parser = makeParser();
      const b = new TraceBuilder({ timing: parser.timing ?? false, initialCapacity: Math.min(batchSize, 65536) });
      let records = 0;
      for await (const chunk of readLines(path)) {
        for (let i = 0; i < chunk.lines.length; i++) {
          const lineNo = chunk.firstLine + i;
          let line = chunk.lines[i];
          if (line.endsWith('\r')) line = line.slice(0, -1);
          try {
            if (parser.parse(line, b, meta, lineNo)) records++;
          } catch (e) {
            if (!(e instanceof LineError)) throw e;
            if (!opts.skipBad) throw ERR_TRACE_FORMAT(path, `line ${lineNo}`, `${e.expected}, got ${JSON.stringify(line.slice(0, 120))}`);
            meta.skippedRecords++;
          }
          if (b.length >= batchSize) yield* pieces(b.take(), batchSize);
        }
        opts.onProgress?.(chunk.bytesRead, total);
      }
      parser.finish?.(b, meta);
      if (b.length) yield* pieces(b.take(), batchSize);
      if (records === 0 && meta.skippedRecords === 0) throw ERR_TRACE_FORMAT(path, 'end of file', `no ${format} records found (empty file?)`);
    },
  };
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

/** Largest request the model's Uint32 byte column holds. */
const MAX_BYTES = 0xffffffff;

/** A request size field in `unit`-byte units, as bytes; throws LineError beyond 4 GiB. */
export function sizeBytes(s: string | undefined, field: string, unit = 1): number {
  const v = num(s, field) * unit;
  if (v > MAX_BYTES) throw new LineError(`${field}: a request size below 4 GiB`);
  return v;
}
