/**
 * Runs the statistics of one or more traces on a worker thread while the
 * caller reads (parses) batches on its own: on a 2-core machine the two
 * overlap, so analyze takes about max(parse, stats) instead of their sum.
 *
 * Batches are copied to the worker (structured clone; readers may hand out
 * views of buffers they reuse, so nothing is transferred) and at most
 * MAX_IN_FLIGHT of them are queued, which bounds memory when the reader is
 * faster than the statistics.
 */
import { Worker } from 'node:worker_threads';
import type { TraceBatch } from '../trace/model.js';
import type { TraceStats } from './stats.js';

const MAX_IN_FLIGHT = 4;

export type PipelineRequest =
  | { kind: 'start'; traces: number }
  | { kind: 'batch'; trace: number; batch: TraceBatch; offsetNs: number }
  | { kind: 'finish'; processes: Array<Array<[number, string]>> };

export type PipelineReply = { kind: 'ack' } | { kind: 'done'; stats: TraceStats[]; combined: TraceStats | null } | { kind: 'error'; message: string };

export class StatsPipeline {
  private readonly worker: Worker;
  private inFlight = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private result: ((r: { stats: TraceStats[]; combined: TraceStats | null }) => void) | null = null;
  private reject: ((e: Error) => void) | null = null;

  /** `traces` > 1 also computes the combination (trace i is stream i). */
  constructor(traces: number) {
    this.worker = new Worker(new URL('./stats-worker.js', import.meta.url));
    this.worker.on('message', (m: PipelineReply) => {
      if (m.kind === 'ack') {
        this.inFlight--;
        this.wake?.();
      } else if (m.kind === 'done') this.result?.(m);
      else this.fail(new Error(`statistics worker: ${m.message}`));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`statistics worker exited with code ${code}`));
    });
    this.post({ kind: 'start', traces });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake?.();
    this.reject?.(e);
  }

  private post(m: PipelineRequest): void {
    this.worker.postMessage(m);
  }

  /** Queue a batch of trace `trace`; waits while the worker is MAX_IN_FLIGHT batches behind. */
  async add(trace: number, batch: TraceBatch, offsetNs = 0): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
    this.inFlight++;
    this.post({ kind: 'batch', trace, batch, offsetNs });
  }

  /** Statistics of every trace and of their combination; the worker is then stopped. */
  async finish(processes: Array<Map<number, string>>): Promise<{ stats: TraceStats[]; combined: TraceStats | null }> {
    try {
      if (this.failure) throw this.failure;
      const done = new Promise<{ stats: TraceStats[]; combined: TraceStats | null }>((resolve, reject) => {
        this.result = resolve;
        this.reject = reject;
      });
      this.post({ kind: 'finish', processes: processes.map((p) => [...p]) });
      return await done;
    } finally {
      await this.close();
    }
  }

  /** Stop the worker (also after a failure of the caller's reading). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
