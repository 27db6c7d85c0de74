/** The contract every trace format implements; see registry.ts for the list. */
import type { TraceSource } from '../trace/model.js';

export interface ReaderOptions {
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
