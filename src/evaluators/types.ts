/**
 * Evaluators (docs/tuning.md) score a configuration on a workload: the
 * native SSD simulator, the readahead model, live replay, MQSim. The search
 * only sees this interface.
 */
import type { TraceSource } from '../trace/model.js';
import type { Configuration } from '../space/types.js';
import type { Held } from '../blockdev/sysfs.js';

/** A workload an evaluator can replay as often as it needs: each call opens a fresh stream. */
export interface WorkloadRef {
  name: string;
  open(): Promise<TraceSource>;
  /**
   * What the stream holds, when it can be named (a trace's content digest and how it is read): two refs with the
   * same key open the same requests, so the evaluators of a process share one decoding (decoded.ts). A fleet
   * worker makes an evaluator and a ref per evaluation job; without a key each one decoded the trace again.
   */
  key?: string;
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
  /**
   * What was measured beside the configuration (a device-backed evaluator: live): attributes the kernel changed when
   * one the configuration names was written, held at the value they had for the measurement (blockdev/sysfs.ts:
   * writeOrdered). The device ran the configuration plus these. Absent when there were none.
   */
  held?: Held[];
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
  /**
   * Whether an error of evaluate() says the evaluator cannot go on (its device
   * is busy, gone or left changed), not that the configuration failed: the
   * search then stops with it instead of recording the configuration as the
   * worst and trying the next one on a device in that state. Absent: every
   * error is the configuration's.
   */
  stopsSearch?(error: unknown): boolean;
}

/**
 * How an evaluator issues a workload's requests (replay intensity):
 * - recorded: at the trace's own arrival times (the default);
 * - scaled: at the arrival times divided by `speedup` (> 0; 2 = twice as fast);
 * - closed: `queueDepth` requests always outstanding (integer >= 1), times ignored.
 * An evaluator that cannot honour a mode refuses it (a usage error) rather than
 * replaying another way: the catalogue (src/service/catalog.ts) lists the modes each honours.
 */
export type Replay = { mode: 'recorded' } | { mode: 'scaled'; speedup: number } | { mode: 'closed'; queueDepth: number };
export type ReplayMode = Replay['mode'];

/** Two intensities are the same replay (an absent one is recorded: records stored before intensities existed). */
export function sameReplay(a: Replay | undefined, b: Replay | undefined): boolean {
  const x = a ?? { mode: 'recorded' };
  const y = b ?? { mode: 'recorded' };
  if (x.mode !== y.mode) return false;
  if (x.mode === 'scaled') return x.speedup === (y as typeof x).speedup;
  if (x.mode === 'closed') return x.queueDepth === (y as typeof x).queueDepth;
  return true;
}

/** Requests beyond a simulated device's capacity: 'modulo' (the default: folded onto it, as MQSim folds; src/sim/lba-fold.ts) or 'reject' (a coded error). */
export type LbaPolicy = 'reject' | 'modulo';

/** What a tune request tells the evaluator it makes (beyond the configuration it scores). */
export interface EvaluatorOptions {
  replay: Replay;
  lbaPolicy?: LbaPolicy;
  /** The block device a device-backed evaluator (live) works on. */
  device?: string;
  /** Requests in the trace (known once it has been read; ssdsim reports progress against it). */
  totalRequests?: number;
}
