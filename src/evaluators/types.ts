/**
 * Evaluators (DESIGN.md part 8) score a configuration on a workload: the
 * native SSD simulator, the readahead model, live replay, MQSim. The search
 * only sees this interface.
 */
import type { TraceSource } from '../trace/model.js';
import type { Configuration } from '../space/types.js';

/** A workload an evaluator can replay as often as it needs: each call opens a fresh stream. */
export interface WorkloadRef {
  name: string;
  open(): Promise<TraceSource>;
}

export interface Metrics {
  /** Requests per second. */
  iops: number;
  /** Bytes per second. */
  throughputBps: number;
  /** Mean request latency in microseconds. */
  latencyMeanUs: number;
  latencyP99Us?: number;
  /** Evaluator-specific figures (write amplification, cache hit ratio...). */
  extra?: Record<string, number>;
}

export interface EvaluateOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface Evaluator {
  /** 'ssdsim', 'readahead-model', 'live', 'mqsim'. */
  name: string;
  /** Name of the configuration space it evaluates. */
  space: string;
  evaluate(config: Configuration, workload: WorkloadRef, opts?: EvaluateOptions): Promise<Metrics>;
}
