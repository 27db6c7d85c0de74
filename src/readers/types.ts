/** The contract every trace format implements; see registry.ts for the list. */
import type { TraceSource } from '../trace/model.js';

/**
 * Bounds on reading one input, so that no file (compressed, endless, hostile)
 * can take more than bounded memory or run unchecked. Each has a default
 * (DEFAULT_INPUT_LIMITS); a server exposed to uploads passes tighter ones.
 */
export interface InputLimits {
  /** Decompressed bytes read from one input at most (plain files count their bytes). Default 1 TiB. */
  maxDecompressedBytes: number;
  /**
   * Decompressed / compressed size beyond which a compressed input is refused
   * (checked once 64 MiB has come out). Text traces compress 5-50x; bombs
   * 1000x and more. Default 1000; 0 turns the check off.
   */
  maxCompressionRatio: number;
  /** Longest line a text reader accepts, bytes. Default 1 MiB. */
  maxLineBytes: number;
  /** Decoder state at most (xz dictionary, zstd window), bytes. Default 128 MiB. */
  decoderMemoryBytes: number;
}

export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxDecompressedBytes: 2 ** 40,
  maxCompressionRatio: 1000,
  maxLineBytes: 1 << 20,
  decoderMemoryBytes: 128 << 20,
});

export interface InputOptions {
  /** Overrides of DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
  /** Cancels the read: the reader stops with SSDTUNE_TRACE_ABORTED (a FIFO waiting for a writer included). */
  signal?: AbortSignal;
  /**
   * Quote the offending bytes in errors (the first bytes of an unknown format,
   * the start of a bad line). Default true, for the CLI user; a server reading
   * files by path passes false so that no error discloses a file's content.
   */
  quoteInput?: boolean;
}

export interface ReaderOptions extends InputOptions {
  /** Rows per batch yielded (default 65536). */
  batchSize?: number;
  /** Skip malformed records (counted in meta.skippedRecords) instead of failing on the first. */
  skipBad?: boolean;
  /** Called with bytes consumed so far and the total (0 when unknown, e.g. compressed). */
  onProgress?: (done: number, total: number) => void;
}

export interface TraceFormat {
  /** Name used by --format and the sniffer's answer. */
  name: string;
  description: string;
  /**
   * Judge the first bytes (already decompressed; up to 64 KiB) of a file.
   * Return a confidence 0..1; the highest non-zero wins.
   */
  sniff(head: Buffer, path: string): number;
  /**
   * What reading the head in this format would give (units, sizes, span), for
   * the error that asks the user to choose between formats that read the same
   * columns in different units.
   */
  explain?(head: Buffer): string;
  open(path: string, opts: ReaderOptions): Promise<TraceSource>;
}

export const DEFAULT_BATCH = 65536;
