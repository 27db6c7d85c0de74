/**
 * The one in-memory trace form. Every reader, collector, feature extractor and
 * evaluator produces or consumes `TraceBatch`es: columnar typed arrays, one
 * entry per block request.
 *
 * Times are nanoseconds relative to the trace's `baseTimeNs` (kept as a
 * Float64, exact up to 2^53 ns ~ 104 days, enough for any trace), so a batch
 * never needs BigInt arithmetic. Sectors are 512-byte units (Float64: exact
 * up to 2^53 sectors = 4 EiB).
 *
 * Resident cost per request: time 8 + sector 8 + bytes 4 + op 2 + device 4 +
 * pid 4 (+ issue 8 + complete 8 when present) = 30..46 bytes.
 */
import { grown, type GrowableArray } from '../util/typed-grow.js';

/** Operation flags, OR-ed in `TraceBatch.op`. */
export const Op = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  DISCARD: 1 << 2,
  FLUSH: 1 << 3,
  SYNC: 1 << 4,
  META: 1 << 5,
  READAHEAD: 1 << 6,
  FUA: 1 << 7,
} as const;
export type OpName = keyof typeof Op;

export const SECTOR_BYTES = 512;

export interface TraceBatch {
  /** Number of requests in this batch; every column has exactly this length. */
  readonly length: number;
  /** Arrival (queue) time, ns relative to `TraceMeta.baseTimeNs`. Non-decreasing within a trace. */
  readonly timeNs: Float64Array;
  /** Start sector (512 B). */
  readonly sector: Float64Array;
  /** Request size in bytes. */
  readonly bytes: Uint32Array;
  /** `Op` flags. */
  readonly op: Uint16Array;
  /** Device number, Linux style `major << 20 | minor`, or the source's own device/volume id. */
  readonly device: Uint32Array;
  /** Issuing process id, 0 when unknown. */
  readonly pid: Uint32Array;
  /** Dispatch-to-device time (ns, same base as timeNs), when the source has it. */
  readonly issueNs?: Float64Array;
  /** Completion time (ns, same base as timeNs), when the source has it. NaN for a request never completed. */
  readonly completeNs?: Float64Array;
}

export interface TraceMeta {
  /** Path or description of the source. */
  source: string;
  /** Format name as the sniffer and `--format` spell it. */
  format: string;
  /** Absolute time of t=0 in ns since the Unix epoch when known, else 0 (times are then only relative). */
  baseTimeNs: number;
  /** pid -> process name, when the source names processes. */
  processes: Map<number, string>;
  /** Human-readable warnings (partial per-CPU set, unpaired events...). */
  warnings: string[];
  /** Records skipped because they were malformed and the reader was told to skip them. */
  skippedRecords: number;
}

export function emptyMeta(source: string, format: string): TraceMeta {
  return { source, format, baseTimeNs: 0, processes: new Map(), warnings: [], skippedRecords: 0 };
}

/** A readable trace: metadata plus a stream of batches. Iterate once. */
export interface TraceSource extends AsyncIterable<TraceBatch> {
  readonly meta: TraceMeta;
}

export interface BuilderOptions {
  /** Keep issue/complete columns. */
  timing?: boolean;
  initialCapacity?: number;
}

/**
 * Growable columnar buffer used by readers to assemble batches.
 * `take()` returns a batch of the rows so far and resets the builder.
 */
export class TraceBuilder {
  private cap: number;
  private n = 0;
  private timing: boolean;
  private t!: Float64Array;
  private s!: Float64Array;
  private b!: Uint32Array;
  private o!: Uint16Array;
  private d!: Uint32Array;
  private p!: Uint32Array;
  private iss?: Float64Array;
  private cmp?: Float64Array;

  constructor(opts: BuilderOptions = {}) {
    this.cap = Math.max(16, opts.initialCapacity ?? 65536);
    this.timing = opts.timing ?? false;
    this.alloc(this.cap);
  }

  get length(): number {
    return this.n;
  }

  private alloc(cap: number): void {
    const grow = <T extends GrowableArray>(old: T | undefined, ctor: new (n: number) => T): T => grown(old, ctor, cap, this.n);
    this.t = grow(this.t, Float64Array);
    this.s = grow(this.s, Float64Array);
    this.b = grow(this.b, Uint32Array);
    this.o = grow(this.o, Uint16Array);
    this.d = grow(this.d, Uint32Array);
    this.p = grow(this.p, Uint32Array);
    if (this.timing) {
      this.iss = grow(this.iss, Float64Array);
      this.cmp = grow(this.cmp, Float64Array);
    }
    this.cap = cap;
  }

  push(timeNs: number, sector: number, bytes: number, op: number, device = 0, pid = 0, issueNs = NaN, completeNs = NaN): void {
    if (this.n === this.cap) this.alloc(this.cap * 2);
    const i = this.n++;
    this.t[i] = timeNs;
    this.s[i] = sector;
    this.b[i] = bytes;
    this.o[i] = op;
    this.d[i] = device;
    this.p[i] = pid;
    if (this.timing) {
      this.iss![i] = issueNs;
      this.cmp![i] = completeNs;
    }
  }

  /** The rows pushed so far as a batch (copied to exact size); the builder is emptied. */
  take(): TraceBatch {
    const n = this.n;
    const batch: TraceBatch = {
      length: n,
      timeNs: this.t.slice(0, n),
      sector: this.s.slice(0, n),
      bytes: this.b.slice(0, n),
      op: this.o.slice(0, n),
      device: this.d.slice(0, n),
      pid: this.p.slice(0, n),
      ...(this.timing ? { issueNs: this.iss!.slice(0, n), completeNs: this.cmp!.slice(0, n) } : {}),
    };
    this.n = 0;
    return batch;
  }
}

/** Concatenate batches into one (for traces small enough to hold whole). */
export function concatBatches(batches: readonly TraceBatch[]): TraceBatch {
  const n = batches.reduce((a, b) => a + b.length, 0);
  const timing = batches.length > 0 && batches.every((b) => b.issueNs && b.completeNs);
  const out = {
    length: n,
    timeNs: new Float64Array(n),
    sector: new Float64Array(n),
    bytes: new Uint32Array(n),
    op: new Uint16Array(n),
    device: new Uint32Array(n),
    pid: new Uint32Array(n),
    ...(timing ? { issueNs: new Float64Array(n), completeNs: new Float64Array(n) } : {}),
  };
  let off = 0;
  for (const b of batches) {
    out.timeNs.set(b.timeNs, off);
    out.sector.set(b.sector, off);
    out.bytes.set(b.bytes, off);
    out.op.set(b.op, off);
    out.device.set(b.device, off);
    out.pid.set(b.pid, off);
    if (timing) {
      out.issueNs!.set(b.issueNs!, off);
      out.completeNs!.set(b.completeNs!, off);
    }
    off += b.length;
  }
  return out;
}

/** Read a whole source into one batch. Only for traces known to be small. */
export async function collect(source: TraceSource): Promise<TraceBatch> {
  const parts: TraceBatch[] = [];
  for await (const b of source) parts.push(b);
  return concatBatches(parts);
}

/** Wrap in-memory batches as a TraceSource (for collectors, tests and derived traces). */
export function sourceFromBatches(meta: TraceMeta, batches: readonly TraceBatch[]): TraceSource {
  return {
    meta,
    async *[Symbol.asyncIterator]() {
      yield* batches;
    },
  };
}

/** Rows [from, to) of a batch, sharing its memory (views, no copy). */
export function batchRows(b: TraceBatch, from: number, to: number): TraceBatch {
  return {
    length: to - from,
    timeNs: b.timeNs.subarray(from, to),
    sector: b.sector.subarray(from, to),
    bytes: b.bytes.subarray(from, to),
    op: b.op.subarray(from, to),
    device: b.device.subarray(from, to),
    pid: b.pid.subarray(from, to),
    ...(b.issueNs ? { issueNs: b.issueNs.subarray(from, to) } : {}),
    ...(b.completeNs ? { completeNs: b.completeNs.subarray(from, to) } : {}),
  };
}

/** The first `n` requests of a source; the rest is never read (a prefix of a long trace costs only its own length). */
export function limitSource(src: TraceSource, n: number): TraceSource {
  return {
    meta: src.meta,
    async *[Symbol.asyncIterator]() {
      let left = n;
      if (left <= 0) return;
      for await (const b of src) {
        yield b.length <= left ? b : batchRows(b, 0, left);
        left -= b.length;
        if (left <= 0) return;
      }
    },
  };
}

export function opString(op: number): string {
  let s = '';
  if (op & Op.DISCARD) s += 'D';
  else if (op & Op.WRITE) s += 'W';
  else if (op & Op.READ) s += 'R';
  else if (op & Op.FLUSH) s += 'F';
  else s += 'N';
  if (op & Op.FUA) s += 'F';
  if (op & Op.READAHEAD) s += 'A';
  if (op & Op.SYNC) s += 'S';
  if (op & Op.META) s += 'M';
  return s;
}

/**
 * Whether the evaluators time a request: a read or a write that moves data. The simulators replay only these
 * (native/src/ssdsim/sim.cc and the MQSim export test the same), and so do the readahead model and the live replay;
 * discards and flushes (TRIM is not modelled, as in MQSim) and zero-size requests are passed over.
 */
export function isTimed(op: number, bytes: number): boolean {
  return (op & (Op.READ | Op.WRITE)) !== 0 && bytes > 0;
}

/** Kinds of request no evaluator times (one, several), in the order a message lists them. */
const UNTIMED_KINDS = [
  ['zero-size read or write', 'zero-size reads or writes'],
  ['discard', 'discards'],
  ['flush', 'flushes'],
  ['request neither read nor write', 'requests neither read nor write'],
] as const;

function untimedKind(op: number): number {
  if (op & (Op.READ | Op.WRITE)) return 0;
  if (op & Op.DISCARD) return 1;
  if (op & Op.FLUSH) return 2;
  return 3;
}

/**
 * Counts a trace's requests as they stream past: how many the evaluators time (`isTimed`) and, of those they pass
 * over, how many of each kind and the first (its 0-based index in the trace), so a trace with nothing to time is
 * refused with what is in it.
 */
export class TimedTally {
  requests = 0;
  timed = 0;
  private readonly passed = UNTIMED_KINDS.map(() => ({ count: 0, first: -1 }));

  add(b: TraceBatch): void {
    for (let i = 0; i < b.length; i++) {
      if (isTimed(b.op[i]!, b.bytes[i]!)) this.timed++;
      else {
        const k = this.passed[untimedKind(b.op[i]!)]!;
        if (k.count++ === 0) k.first = this.requests + i;
      }
    }
    this.requests += b.length;
  }

  /** "300 zero-size reads or writes (the first is request 0), 2 flushes (the first is request 7)". */
  passedOver(): string {
    const parts = this.passed.flatMap((k, i) => {
      if (k.count === 0) return [];
      return [`${k.count} ${UNTIMED_KINDS[i]![k.count === 1 ? 0 : 1]} (the first is request ${k.first})`];
    });
    return parts.join(', ');
  }
}
