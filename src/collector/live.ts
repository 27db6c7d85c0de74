/**
 * What every backend shares: turns completed requests (arriving in roughly
 * completion order, with CLOCK_MONOTONIC times) into TraceBatches in arrival
 * order, and exposes them as an async iterator while the capture runs.
 *
 * Requests complete out of order, so each is held for a reorder window and
 * released in queue-time order once no earlier-queued request can still
 * complete (a request in flight longer than the window is emitted late, at
 * the current watermark, and counted in a warning). Unlike the file readers'
 * ReorderBuffer, which releases by trace time as rows arrive, release here
 * follows the wall clock, so an idle device still gets its last requests out.
 */
import { emptyMeta, TraceBuilder, type TraceBatch, type TraceMeta } from '../trace/model.js';
import type { BlockDevice } from '../blockdev/resolve.js';
import type { BackendName, CaptureOptions, Collector, CollectorStats } from './types.js';

interface Rec {
  q: number;
  i: number;
  c: number;
  sector: number;
  bytes: number;
  op: number;
  dev: number;
  pid: number;
}

const BUCKET_NS = 10e6;

/** CLOCK_MONOTONIC now, ns (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monoNowNs(): number {
  return Number(process.hrtime.bigint());
}

export abstract class LiveCapture implements Collector {
  abstract readonly backend: BackendName;
  readonly meta: TraceMeta;
  protected readonly counters: CollectorStats = { events: 0, lost: 0, lostBy: {}, unpaired: 0, unfinished: 0, deviceGone: false };
  /** CLOCK_MONOTONIC ns at t=0 (meta.baseTimeNs is the same instant in Unix time). */
  protected readonly baseMono: number;
  private readonly windowNs: number;
  private readonly batchSize: number;
  private readonly builder = new TraceBuilder({ timing: true, initialCapacity: 4096 });
  private readonly buckets = new Map<number, Rec[]>();
  private watermark = 0;
  private late = 0;
  private readonly ready: TraceBatch[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private failure: unknown;
  private iterated = false;
  private readonly finalizers: (() => void)[] = [];

  protected constructor(
    readonly device: BlockDevice,
    opts: CaptureOptions,
    format: string,
  ) {
    this.baseMono = monoNowNs();
    this.meta = emptyMeta(device.path, format);
    this.meta.baseTimeNs = Date.now() * 1e6;
    this.windowNs = (opts.reorderWindowMs ?? 2000) * 1e6;
    this.batchSize = opts.batchSize ?? 4096;
    if (device.partition) {
      this.meta.warnings.push(
        `${device.path} is a partition of ${device.disk.name}: sectors are relative to the disk (partition starts at sector ${device.partition.start})`,
      );
    }
  }

  abstract stop(): Promise<void>;

  /** Run `fn` once the capture has ended, however it ended (e.g. release the device lock). */
  onEnd(fn: () => void): void {
    if (this.ended) fn();
    else this.finalizers.push(fn);
  }

  stats(): CollectorStats {
    return { ...this.counters, lostBy: { ...this.counters.lostBy } };
  }

  protected addLost(cause: string, n: number): void {
    if (n <= 0) return;
    this.counters.lost += n;
    this.counters.lostBy[cause] = (this.counters.lostBy[cause] ?? 0) + n;
  }

  /** A completed request; times are CLOCK_MONOTONIC ns (issue/complete NaN when unknown). */
  protected addRequest(qMono: number, iMono: number, cMono: number, sector: number, bytes: number, op: number, dev: number, pid: number): void {
    const q = qMono - this.baseMono;
    const rec: Rec = { q, i: iMono - this.baseMono, c: cMono - this.baseMono, sector, bytes, op, dev, pid };
    const key = Math.floor(q / BUCKET_NS);
    const b = this.buckets.get(key);
    if (b) b.push(rec);
    else this.buckets.set(key, [rec]);
  }

  /** Requests issued but not completed when the capture stopped: not emitted, reported. */
  protected noteUnfinished(n: number): void {
    this.counters.unfinished = n;
    if (n > 0) this.meta.warnings.push(`${n} requests were still in flight when the capture stopped (not emitted)`);
  }

  protected deviceVanished(): void {
    if (this.counters.deviceGone) return;
    this.counters.deviceGone = true;
    this.meta.warnings.push(`${this.device.path} disappeared during the capture; the capture stopped there`);
  }

  protected noteProcess(pid: number, comm: string): void {
    if (pid && comm && !this.meta.processes.has(pid)) this.meta.processes.set(pid, comm);
  }

  /** Release requests queued before (now - window); all of them when `all`. */
  protected release(all = false): void {
    const limit = all ? Infinity : monoNowNs() - this.baseMono - this.windowNs;
    const keys = [...this.buckets.keys()].filter((k) => all || (k + 1) * BUCKET_NS <= limit).sort((a, b) => a - b);
    for (const k of keys) {
      const recs = this.buckets.get(k)!;
      this.buckets.delete(k);
      recs.sort((a, b) => a.q - b.q);
      for (const r of recs) {
        let t = r.q;
        if (t < this.watermark) {
          this.late++;
          t = this.watermark;
        }
        this.watermark = t;
        this.builder.push(t, r.sector, r.bytes, r.op, r.dev, r.pid, r.i, r.c);
        this.counters.events++;
        if (this.builder.length >= this.batchSize) this.pushBatch(this.builder.take());
      }
    }
    if (this.builder.length > 0) this.pushBatch(this.builder.take());
  }

  private pushBatch(b: TraceBatch): void {
    this.ready.push(b);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The backend is done (after its last addRequest): flush everything and end the stream. */
  protected finish(err?: unknown): void {
    if (this.ended) return;
    this.release(true);
    if (this.late > 0)
      this.meta.warnings.push(`${this.late} requests were in flight longer than the reorder window and were stamped with a later arrival time`);
    const st = this.counters;
    if (st.lost > 0)
      this.meta.warnings.push(
        `${st.lost} requests lost (${Object.entries(st.lostBy)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')})`,
      );
    if (err !== undefined) this.failure = err;
    this.ended = true;
    for (const fn of this.finalizers.splice(0)) {
      try {
        fn();
      } catch (e) {
        this.failure ??= e;
      }
    }
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TraceBatch> {
    if (this.iterated) throw new Error('a capture can be iterated once');
    this.iterated = true;
    for (;;) {
      const b = this.ready.shift();
      if (b) {
        yield b;
        continue;
      }
      if (this.ended) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
