/**
 * LearnedSSD / AutoBlox per-I/O features, computed streaming from TraceBatches
 * in windows of N consecutive requests (AutoBlox used 3000; `size` here).
 *
 * A window holds N consecutive requests of one stream (Windower.push gives
 * copies the caller keeps; Windower.feed lends one reused buffer per stream,
 * valid during its callback). A stream is the whole trace,
 * or (splitByDevice) one device / volume of it: traces such as Tencent CBS,
 * MSNFS and MQSim interleave several independent workloads, and mixing them
 * inside a window would describe none of them.
 *
 * Per-I/O features of request i in a window (natural logs; log1p so that
 * zeros, which are common, stay finite):
 *   logIat    = ln(1 + max(0, t_i - t_{i-1}) / 1000)  inter-arrival in µs; t_{-1} is the
 *               previous request of the same stream (0 for the stream's first request).
 *               Out-of-order arrivals (negative gaps, common in traces merged from
 *               per-CPU buffers) count as simultaneous.
 *   logOffset = ln(1 + sector_i - min sector of the window)  in 512-byte sectors
 *   logSize   = ln(1 + bytes_i)
 *   isRead    = 1 if the READ flag is set, else 0
 *   device    = ordinal of the request's device within the window (0, 1, ... in order
 *               of first appearance), so the value does not depend on device numbering.
 * native/src/descriptors.cc computes them (perIoFeatures below), together with
 * the window descriptors of descriptors.ts.
 *
 * Every input value is checked: a NaN or infinite time or sector raises
 * SSDTUNE_FEATURES_INPUT naming the trace and the request index.
 */
import { ERR_FEATURES_INPUT, ERR_USAGE } from '../errors.js';
import type { TraceBatch } from '../trace/model.js';
import type { PerIoFeatures, RequestWindow } from './types.js';
import { measureWindow, WINDOW_SLOTS } from './window-native.js';

export type { PerIoFeatures, RequestWindow } from './types.js';

export const DEFAULT_WINDOW = 3000;

export interface WindowOptions {
  /** Requests per window (default 3000). */
  size?: number;
  /** One stream per device / volume instead of one for the whole trace. */
  splitByDevice?: boolean;
  /** Name used in error messages (the trace path). */
  source?: string;
}

/** Per-stream accumulation buffer, allocated once: a full buffer is lent out as the window, then refilled. */
class StreamBuffer {
  n = 0;
  windows = 0;
  seen = 0;
  prevTimeNs = NaN;
  readonly t: Float64Array;
  readonly s: Float64Array;
  readonly b: Uint32Array;
  readonly o: Uint16Array;
  readonly d: Uint32Array;
  readonly c?: Float64Array;
  constructor(size: number, timing: boolean) {
    this.t = new Float64Array(size);
    this.s = new Float64Array(size);
    this.b = new Uint32Array(size);
    this.o = new Uint16Array(size);
    this.d = new Uint32Array(size);
    if (timing) this.c = new Float64Array(size);
  }
}

/** A window that owns its columns (a copy of a lent one). */
function ownWindow(w: RequestWindow): RequestWindow {
  return {
    ...w,
    timeNs: w.timeNs.slice(),
    sector: w.sector.slice(),
    bytes: w.bytes.slice(),
    op: w.op.slice(),
    device: w.device.slice(),
    ...(w.completeNs ? { completeNs: w.completeNs.slice() } : {}),
  };
}

/**
 * Cuts a stream of batches into windows. Push (or feed) batches in trace
 * order; each call gives the windows it completed. Requests left after the last full
 * window of a stream are not described (`leftover` counts them) because a
 * partial window's statistics are not comparable with full ones.
 */
export class Windower {
  readonly size: number;
  readonly splitByDevice: boolean;
  private readonly source: string;
  private readonly streams = new Map<number, StreamBuffer>();
  private total = 0;
  private timing: boolean | undefined;

  constructor(opts: WindowOptions = {}) {
    const size = opts.size ?? DEFAULT_WINDOW;
    if (!Number.isInteger(size) || size < 2) throw ERR_USAGE(`window size must be an integer >= 2, got ${size}`);
    this.size = size;
    this.splitByDevice = opts.splitByDevice ?? false;
    this.source = opts.source ?? 'trace';
  }

  /** Requests pushed so far. */
  get requests(): number {
    return this.total;
  }

  /** Requests not (yet) in a complete window, over all streams. */
  get leftover(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.n;
    return n;
  }

  /** Number of streams seen so far. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** The windows a batch completes, each owning its columns (copies: callers may keep them). */
  push(batch: TraceBatch): RequestWindow[] {
    const out: RequestWindow[] = [];
    this.feed(batch, (w) => out.push(ownWindow(w)));
    return out;
  }

  /**
   * Hands each window the batch completes to `onWindow`, in order. The window
   * LENDS the stream's buffer: its columns are valid only during the call and
   * are overwritten afterwards. This is the streaming path (describeTrace):
   * no allocation per window, which cost as much as describing it.
   */
  feed(batch: TraceBatch, onWindow: (w: RequestWindow) => void): void {
    if (this.timing === undefined) this.timing = batch.completeNs !== undefined;
    const timing = this.timing && batch.completeNs !== undefined;
    const n = batch.length;
    for (let i = 0; i < n; i++) {
      const t = batch.timeNs[i]!;
      const s = batch.sector[i]!;
      if (!Number.isFinite(t)) throw ERR_FEATURES_INPUT(this.source, `request ${this.total + i}: time is ${t}, expected a finite number of ns`);
      if (!Number.isFinite(s) || s < 0) throw ERR_FEATURES_INPUT(this.source, `request ${this.total + i}: sector is ${s}, expected a finite number >= 0`);
    }
    this.total += n;
    let i = 0;
    while (i < n) {
      const key = this.splitByDevice ? batch.device[i]! : -1;
      let st = this.streams.get(key);
      if (!st) {
        st = new StreamBuffer(this.size, this.timing);
        this.streams.set(key, st);
      }
      // A run of requests of this stream, at most what its window still needs.
      let end = Math.min(n, i + this.size - st.n);
      if (this.splitByDevice) {
        let j = i + 1;
        while (j < end && batch.device[j] === key) j++;
        end = j;
      }
      const at = st.n;
      if (end - i >= 64) {
        // Long runs (always, for a whole-trace stream) copy as blocks.
        st.t.set(batch.timeNs.subarray(i, end), at);
        st.s.set(batch.sector.subarray(i, end), at);
        st.b.set(batch.bytes.subarray(i, end), at);
        st.o.set(batch.op.subarray(i, end), at);
        st.d.set(batch.device.subarray(i, end), at);
        if (st.c) {
          if (timing) st.c.set(batch.completeNs!.subarray(i, end), at);
          else st.c.fill(NaN, at, at + end - i);
        }
      } else {
        for (let k = i, j = at; k < end; k++, j++) {
          st.t[j] = batch.timeNs[k]!;
          st.s[j] = batch.sector[k]!;
          st.b[j] = batch.bytes[k]!;
          st.o[j] = batch.op[k]!;
          st.d[j] = batch.device[k]!;
          if (st.c) st.c[j] = timing ? batch.completeNs![k]! : NaN;
        }
      }
      st.n += end - i;
      i = end;
      if (st.n === this.size) {
        onWindow({
          stream: key,
          index: st.windows++,
          firstRequest: st.seen,
          endRequest: this.total - n + end,
          length: this.size,
          timeNs: st.t,
          sector: st.s,
          bytes: st.b,
          op: st.o,
          device: st.d,
          ...(st.c ? { completeNs: st.c } : {}),
          prevTimeNs: st.prevTimeNs,
        });
        st.prevTimeNs = st.t[this.size - 1]!;
        st.seen += this.size;
        st.n = 0;
      }
    }
  }
}

/** All full windows of a batch stream (convenience over Windower). */
export async function* windowsOf(batches: AsyncIterable<TraceBatch>, opts: WindowOptions = {}): AsyncGenerator<RequestWindow> {
  const w = new Windower(opts);
  for await (const b of batches) yield* w.push(b);
}

export const PER_IO_FEATURES = ['logIat', 'logOffset', 'logSize', 'isRead', 'device'] as const;

/** The per-I/O features of one window (computed by the addon, window-native.ts, with the window's descriptors). */
export function perIoFeatures(w: RequestWindow): PerIoFeatures {
  const n = w.length;
  const f = {
    logIat: new Float64Array(n),
    logOffset: new Float64Array(n),
    logSize: new Float64Array(n),
    isRead: new Uint8Array(n),
    device: new Uint32Array(n),
  };
  measureWindow(w, new Float64Array(WINDOW_SLOTS.length), `window ${w.index}`, f);
  return { length: n, ...f };
}
