/**
 * The `analyze` service: whole-trace statistics for one or more trace files,
 * as a JSON-able report. Shared by the CLI (`ssdtune analyze`) and the REST
 * API. Each file is streamed once; every batch feeds both its own
 * accumulator and the combined one, so nothing is read twice.
 */
import { openTrace } from '../readers/registry.js';
import type { TraceSource } from '../trace/model.js';
import { StatsAccumulator, type TraceStats } from '../analyze/stats.js';

export interface AnalyzeOptions {
  /** Force a format instead of sniffing each file. */
  format?: string;
  /** Skip malformed records (counted) instead of failing. */
  skipBad?: boolean;
  /** Progress of file `index` (0-based) of `count`: bytes done / total (0 = unknown). */
  onProgress?: (index: number, count: number, done: number, total: number) => void;
}

export interface TraceAnalysis {
  source: string;
  format: string;
  /** ns since the Unix epoch of the trace's t=0, 0 when unknown */
  baseTimeNs: number;
  warnings: string[];
  skippedRecords: number;
  stats: TraceStats;
}

export interface AnalysisReport {
  /** bumped when the report's shape changes incompatibly */
  schema: 1;
  generatedAt: string;
  traces: TraceAnalysis[];
  /**
   * All traces together (null for a single trace). Times are aligned on the
   * traces' absolute time bases when all of them are known when the files are
   * opened; otherwise each trace starts at t=0.
   */
  combined: { sources: string[]; stats: TraceStats } | null;
}

export async function analyzeTraces(paths: readonly string[], opts: AnalyzeOptions = {}): Promise<AnalysisReport> {
  if (paths.length === 0) throw new Error('analyzeTraces: no trace paths');
  // Open (sniff) every file first so a bad path fails before any work.
  const sources: TraceSource[] = [];
  for (let i = 0; i < paths.length; i++) {
    sources.push(
      await openTrace(paths[i], {
        format: opts.format,
        skipBad: opts.skipBad,
        onProgress: opts.onProgress ? (done, total) => opts.onProgress!(i, paths.length, done, total) : undefined,
      }),
    );
  }
  const multi = sources.length > 1;
  // Align traces on absolute time only when every reader knew its time base
  // at open; otherwise (bases unknown or only set while reading) each trace
  // starts at t=0 in the combination, as if replayed together.
  const bases = sources.map((s) => s.meta.baseTimeNs);
  const aligned = bases.every((b) => b > 0);
  const refBase = Math.min(...bases);
  const combined = multi ? new StatsAccumulator({ originNs: 0 }) : null;
  const traces: TraceAnalysis[] = [];
  for (const src of sources) {
    const acc = new StatsAccumulator();
    const stream = acc.addStream(src.meta.processes);
    const cstream = combined?.addStream(src.meta.processes) ?? 0;
    let offset = NaN;
    for await (const batch of src) {
      acc.add(batch, stream);
      if (combined && batch.length) {
        if (Number.isNaN(offset)) offset = aligned ? src.meta.baseTimeNs - refBase : -batch.timeNs[0];
        combined.add(batch, cstream, offset);
      }
    }
    traces.push({
      source: src.meta.source,
      format: src.meta.format,
      baseTimeNs: src.meta.baseTimeNs,
      warnings: src.meta.warnings,
      skippedRecords: src.meta.skippedRecords,
      stats: acc.finish(),
    });
  }
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    traces,
    combined: combined ? { sources: traces.map((t) => t.source), stats: combined.finish() } : null,
  };
}
