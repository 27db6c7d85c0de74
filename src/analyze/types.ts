/** The analysis report's shape: what `analyze` produces and the text and HTML renderers read. */
import type { TraceStats } from './stats.js';

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
