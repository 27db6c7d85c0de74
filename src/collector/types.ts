/**
 * The collector contract: every live backend (eBPF, tracefs, kernel
 * blktrace) is a `Collector`, a TraceSource whose batches arrive while the
 * device is running, plus stop() and loss statistics.
 */
import type { TraceSource } from '../trace/model.js';
import type { BlockDevice } from '../blockdev/resolve.js';

export const BACKENDS = ['ebpf', 'tracefs', 'blktrace'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface CollectorStats {
  /** Requests delivered as TraceBatch rows so far. */
  events: number;
  /** Requests (or raw events) known to be lost: full buffers, overruns. Never silent. */
  lost: number;
  /** Where the losses came from, by cause. */
  lostBy: Record<string, number>;
  /** Completions seen without their issue (in flight when the capture began): not emitted, not lost. */
  unpaired: number;
  /** Requests issued but not completed when the capture stopped: not emitted, not counted as lost. */
  unfinished: number;
  /** The device disappeared during the capture (which then stopped on its own). */
  deviceGone: boolean;
}

export interface Collector extends TraceSource {
  readonly backend: BackendName;
  readonly device: BlockDevice;
  /** Stop capturing: detach from the kernel, drain what was captured; the iterator then ends. Idempotent. */
  stop(): Promise<void>;
  stats(): CollectorStats;
  /** Run `fn` once the capture has ended, however it ended. */
  onEnd(fn: () => void): void;
}

export interface CaptureOptions {
  /** Rows per batch handed out (default 4096: live consumers want them soon). */
  batchSize?: number;
  /**
   * How long a completed request is held so that requests queued earlier but
   * completed later can still be emitted in arrival order (default 2 s).
   */
  reorderWindowMs?: number;
  /** eBPF ring buffer size in bytes (power of two, default 8 MiB). */
  ringBytes?: number;
  /**
   * eBPF in-flight slot table of 2^slotBits entries (default 16). Requests whose
   * slot is taken go to a hash map; 0 (one slot) sends nearly all there, which
   * the tests use to exercise that path.
   */
  slotBits?: number;
  /**
   * eBPF: false turns the slot table off (the hash map serves every request),
   * as the loader does on kernels without BPF cmpxchg (< 5.12). Tests use it
   * to run that path here.
   */
  slotTable?: boolean;
  /** tracefs per-CPU buffer size in KiB (default 16384: a second or more of events at full speed, since a busy machine can keep the reader off-CPU that long). */
  bufferKb?: number;
}
