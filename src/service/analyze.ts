/**
 * The `analyze` service: whole-trace statistics for one or more trace files,
 * as a JSON-able report. Shared by the CLI (`ssdtune analyze`) and the REST
 * API. Each file is streamed once; every batch feeds both its own
 * accumulator and the combined one, so nothing is read twice. The
 * statistics run on a worker thread (pipeline.ts) while this thread parses.
 */
import { openTrace } from '../readers/registry.js';
import type { TraceSource } from '../trace/model.js';
import { StatsPipeline } from '../analyze/pipeline.js';
import { expandTraceInputs } from '../analyze/inputs.js';
import type { AnalysisReport, TraceAnalysis } from '../analyze/types.js';
import { at } from '../util/at.js';

export type { AnalysisReport, TraceAnalysis } from '../analyze/types.js';

export interface AnalyzeOptions {
  /** Force a format instead of sniffing each file. */
  format?: string;
  /** Skip malformed records (counted) instead of failing. */
  skipBad?: boolean;
  /** Progress of file `index` (0-based) of `count`: bytes done / total (0 = unknown). */
  onProgress?: (index: number, count: number, done: number, total: number) => void;
}

/**
 * `args` are trace files, blktrace set base names (`sdb`, as `blkparse -i`
 * takes) or directories of blktrace sets (each set is one trace).
 */
export async function analyzeTraces(args: readonly string[], opts: AnalyzeOptions = {}): Promise<AnalysisReport> {
  if (args.length === 0) throw new Error('analyzeTraces: no trace paths');
  const inputs = expandTraceInputs(args);
  // Open (sniff) every file first so a bad path fails before any work.
  const sources: TraceSource[] = [];
  for (const [i, input] of inputs.entries()) {
    sources.push(
      await openTrace(input.path, {
        format: opts.format ?? input.format,
        skipBad: opts.skipBad,
        onProgress: opts.onProgress ? (done, total) => opts.onProgress!(i, inputs.length, done, total) : undefined,
      }),
    );
  }
  // Align traces on absolute time only when every reader knew its time base
  // at open; otherwise (bases unknown or only set while reading) each trace
  // starts at t=0 in the combination, as if replayed together.
  const bases = sources.map((s) => s.meta.baseTimeNs);
  const aligned = bases.every((b) => b > 0);
  const refBase = Math.min(...bases);
  const pipeline = new StatsPipeline(sources.length);
  let result;
  try {
    for (const [i, src] of sources.entries()) {
      let offset = NaN;
      for await (const batch of src) {
        const [first] = batch.timeNs;
        if (first === undefined) continue; // an empty batch
        if (Number.isNaN(offset)) offset = aligned ? src.meta.baseTimeNs - refBase : -first;
        await pipeline.add(i, batch, offset);
      }
    }
    result = await pipeline.finish(sources.map((s) => s.meta.processes));
  } finally {
    await pipeline.close();
  }
  const traces: TraceAnalysis[] = sources.map((src, i) => ({
    source: src.meta.source,
    format: src.meta.format,
    baseTimeNs: src.meta.baseTimeNs,
    warnings: src.meta.warnings,
    skippedRecords: src.meta.skippedRecords,
    stats: at(result.stats, i, 'trace statistics'), // one per source (the pipeline's contract)
  }));
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    traces,
    combined: result.combined ? { sources: traces.map((t) => t.source), stats: result.combined } : null,
  };
}
