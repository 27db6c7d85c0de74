/**
 * One-pass whole-trace statistics over a stream of TraceBatches.
 *
 * `StatsAccumulator.add(batch, stream)` folds a batch in and keeps no
 * reference to it; everything retained is bounded whatever the trace length:
 * quantiles in sketches (sketch.ts), the working set in an exact-then-
 * HyperLogLog block set (cardinality.ts), time and LBA axes in adaptive
 * fixed-size histograms (bins.ts). Only the per-device and per-process tables
 * grow with the number of distinct devices / pids, never with requests.
 *
 * Several traces can feed one accumulator (the "combined" analysis): each is
 * a `stream`, so devices and pids of different traces never collide and the
 * "previous request on the same device" used for sequentiality stays inside
 * one trace.
 */
import { Op, SECTOR_BYTES, type TraceBatch } from '../trace/model.js';
import { Heatmap, TimeSeriesBins } from './bins.js';
import { BlockSet, HLL_STANDARD_ERROR } from './cardinality.js';
import { MinHeap } from './heap.js';
import { Quantiles, type QuantileSummary } from './sketch.js';
import { ERR_INTERNAL_INDEX } from '../errors.js';
import { at, col } from '../util/at.js';

export const BLOCK_BYTES = 4096;
const SECTORS_PER_BLOCK = BLOCK_BYTES / SECTOR_BYTES;
const STREAM_SHIFT = 2 ** 32;
/** Rows kept in the per-process and per-device tables of the report (the rest are summed as "others"). */
export const TABLE_ROWS = 50;

/** Request classes: one per request, by priority discard > write > read > flush > other. */
export const OP_CLASSES = ['read', 'write', 'discard', 'flush', 'other'] as const;
export type OpClass = (typeof OP_CLASSES)[number];
const READ = 0;
const WRITE = 1;
const DISCARD = 2;
const FLUSH = 3;
const OTHER = 4;

export function opClass(op: number): number {
  if (op & Op.DISCARD) return DISCARD;
  if (op & Op.WRITE) return WRITE;
  if (op & Op.READ) return READ;
  if (op & Op.FLUSH) return FLUSH;
  return OTHER;
}

export interface MixEntry {
  requests: number;
  bytes: number;
  /** share of all requests */
  fraction: number;
  /** share of all bytes */
  byteFraction: number;
}

export interface SizeBin {
  /** bin holds sizes in [lowBytes, 2*lowBytes) */
  lowBytes: number;
  read: number;
  write: number;
  /** discards and other sized requests */
  other: number;
}

export interface TimeBin {
  /** bin start, ns from the analysis origin */
  startNs: number;
  /**
   * Mean number of requests in flight (arrived, not completed) seen by the
   * requests arriving in this bin, themselves included; null without
   * completion times, when no request arrived in the bin, or in a combined
   * analysis of several traces.
   */
  meanInFlight: number | null;
  readIops: number;
  writeIops: number;
  otherIops: number;
  readBytesPerSec: number;
  writeBytesPerSec: number;
}

export interface SeekBin {
  fromSectors: number;
  toSectors: number;
  count: number;
}

export interface ProcessRow {
  pid: number;
  name: string;
  /** index of the trace in a combined analysis */
  trace?: number;
  requests: number;
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
}

export interface DeviceRow {
  device: string;
  trace?: number;
  requests: number;
  readBytes: number;
  writeBytes: number;
  minSector: number;
  maxSector: number;
  sequentialFraction: number;
}

export interface TraceStats {
  requests: number;
  /** first and last arrival, ns from the trace's own time base */
  firstNs: number;
  lastNs: number;
  /** last arrival - first arrival */
  durationNs: number;
  mix: Record<OpClass, MixEntry>;
  totalBytes: number;
  /** over requests carrying data (bytes > 0); percentiles exact unless relativeError > 0 */
  size: { all: QuantileSummary | null; read: QuantileSummary | null; write: QuantileSummary | null; histogram: SizeBin[] };
  /**
   * A data request (bytes > 0) is sequential when it starts at the sector
   * where the previous data request on the same device ended (start + size).
   * The first request of each device is not sequential. Fractions are over
   * data requests (all / reads / writes).
   */
  sequential: { fraction: number; readFraction: number; writeFraction: number; requests: number };
  /** lowest start sector and highest end sector over data requests (all devices) */
  lba: { minSector: number; maxSector: number; spanBytes: number } | null;
  /** distinct 4 KiB blocks read or written (discards excluded), per device */
  workingSet: { blocks: number; bytes: number; exact: boolean; relativeError: number };
  throughput: {
    meanIops: number;
    meanBytesPerSec: number;
    peakIops: number;
    peakBytesPerSec: number;
    binWidthNs: number;
    bins: TimeBin[];
    /**
     * One trace: the smallest positive gap between arrivals. `coarseClock` when at least half the requests share
     * a timestamp with the one before: each timestamp then stands for a step, so the mean rate is over the duration
     * plus one step, bins are at least a step wide, and the peak is the busiest step's (a 1 s clock in 4 ms bins
     * showed 250x the rate).
     */
    timeStepNs?: number;
    coarseClock?: boolean;
  };
  /**
   * Outstanding requests. `inFlight*`: arrival (Q) to completion (C), max
   * taken at arrivals, mean by Little's law (sum of Q->C times / span from
   * first arrival to last completion). `meanAtDevice`: same for issue (D) to
   * completion, when issue times exist. Null without completion times, and in
   * a combined analysis of several traces (see each trace).
   */
  queueDepth: { source: string; meanInFlight: number; maxInFlight: number; meanAtDevice: number | null } | null;
  /** ns; device = issue->complete (D->C), total = arrival->complete (Q->C). Null when the trace has no completions. */
  latency: {
    device: QuantileSummary | null;
    total: QuantileSummary | null;
    deviceCdf: Array<[number, number]>;
    totalCdf: Array<[number, number]>;
  } | null;
  /**
   * biolatency-style log2 histograms of latency in microseconds, per
   * operation class: counts[k] holds latencies in [2^k, 2^(k+1)) µs, except
   * counts[0], which holds [0, 2) µs (biolatency's "0 -> 1"). Device time
   * (issue to completion, as biolatency measures) where the trace has issue
   * times, else arrival to completion. Null without completion times.
   */
  latencyHistogram: { basis: 'D->C' | 'Q->C'; ops: Partial<Record<OpClass, number[]>> } | null;
  /**
   * Seek distance: from where the previous data request on the same device
   * ended to where this one starts, in sectors (the first request of each
   * device has none). Bins in log2 steps on each side of 0: a bin covers
   * [fromSectors, toSectors) (negative = backwards); the bin with
   * fromSectors 0 and toSectors 1 counts sequential requests.
   */
  seek: { bins: SeekBin[]; requests: number; meanAbsSectors: number } | null;
  processes: ProcessRow[];
  devices: DeviceRow[];
  /** distinct pids / devices (the tables keep the busiest TABLE_ROWS; the rest are summed in the `others` rows) */
  processCount: number;
  deviceCount: number;
  heatmap: {
    timeBinNs: number;
    lbaBinSectors: number;
    /** start sector of row 0 */
    lbaFirstSector: number;
    /** counts[lbaRow][timeCol], rows from low to high LBA, empty rows at both ends trimmed */
    counts: number[][];
  };
}

interface DevAcc {
  id: number;
  stream: number;
  device: number;
  requests: number;
  readBytes: number;
  writeBytes: number;
  minSector: number;
  maxSector: number;
  lastEnd: number;
  data: number;
  seq: number;
}

interface ProcAcc {
  stream: number;
  pid: number;
  requests: number;
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
}

interface StreamState {
  processes: Map<number, string>;
  heap: MinHeap;
  maxInFlight: number;
  firstArrival: number;
  lastComplete: number;
  sumTotal: number;
  sumDevice: number;
  hasIssue: boolean;
  hasComplete: boolean;
  /** The previous arrival, the smallest positive gap between arrivals, and arrivals equal to the previous one. */
  lastArrival: number;
  minGap: number;
  ties: number;
  /** Requests and bytes arriving at `lastArrival` so far, and the most that arrived at one time. */
  runCount: number;
  runBytes: number;
  maxRunCount: number;
  maxRunBytes: number;
}

/** Series of the throughput timeline. */
const S_READ = 0;
const S_WRITE = 1;
const S_OTHER = 2;
const S_READ_B = 3;
const S_WRITE_B = 4;
/** sum of in-flight counts seen at arrivals, and how many arrivals were counted */
const S_QD_SUM = 5;
const S_QD_N = 6;
const SERIES = 7;
/** Log2 latency buckets (µs) kept per op class: 2^40 µs is 12 days. */
const LAT_BUCKETS = 41;
/** Seek bins per direction: distances up to 2^50 sectors. */
const SEEK_LOG2 = 51;

/** biolatency's bucket of a latency in ns: [0, 2) µs -> 0, [2^k, 2^(k+1)) µs -> k. */
function latBucket(ns: number): number {
  const us = ns / 1000;
  if (!(us >= 2)) return 0;
  return Math.min(LAT_BUCKETS - 1, Math.floor(Math.log2(us)));
}

/** Seek histogram index: SEEK_LOG2 for 0; SEEK_LOG2 + 1 + k for [2^k, 2^(k+1)); mirrored below for backward seeks. */
function seekIndex(d: number): number {
  if (d === 0) return SEEK_LOG2;
  const k = Math.min(SEEK_LOG2 - 1, Math.floor(Math.log2(Math.abs(d))));
  return d > 0 ? SEEK_LOG2 + 1 + k : SEEK_LOG2 - 1 - k;
}

export interface AccumulatorOptions {
  /** Time origin (ns) of the timeline and heat map; default the first arrival seen. */
  originNs?: number;
  /** Distinct blocks counted exactly before switching to HyperLogLog. */
  exactBlockLimit?: number;
}

export class StatsAccumulator {
  private requests = 0;
  private firstNs = Infinity;
  private lastNs = -Infinity;
  private origin: number;
  private readonly mixCount = new Float64Array(5);
  private readonly mixBytes = new Float64Array(5);
  private readonly sizeAll = new Quantiles();
  private readonly sizeRead = new Quantiles();
  private readonly sizeWrite = new Quantiles();
  /** sizeHist[log2 * 3 + (0 read, 1 write, 2 other)] */
  private readonly sizeHist = new Float64Array(33 * 3);
  private dataRequests = 0;
  private seqAll = 0;
  private seqRead = 0;
  private seqWrite = 0;
  private minSector = Infinity;
  private maxSector = -Infinity;
  private readonly blocks: BlockSet;
  private readonly timeline = new TimeSeriesBins(256, SERIES);
  private readonly heatmap = new Heatmap();
  private readonly latDevice = new Quantiles();
  private readonly latTotal = new Quantiles();
  /** latHist*[cls * LAT_BUCKETS + bucket] */
  private readonly latHistDevice = new Float64Array(5 * LAT_BUCKETS);
  private readonly latHistTotal = new Float64Array(5 * LAT_BUCKETS);
  private readonly seekHist = new Float64Array(2 * SEEK_LOG2 + 1);
  private seekAbsSum = 0;
  private seekCount = 0;
  private readonly devices = new Map<number, DevAcc>();
  private readonly procs = new Map<number, ProcAcc>();
  private readonly streams: StreamState[] = [];

  constructor(opts: AccumulatorOptions = {}) {
    this.origin = opts.originNs ?? NaN;
    this.blocks = new BlockSet(opts.exactBlockLimit);
  }

  /**
   * The smallest positive gap between a trace's arrivals, and whether its clock is coarse: most requests share a
   * timestamp with the one before (the Tencent CBS traces stamp whole seconds), so a timestamp says only in which
   * step a request arrived. One trace only: in a combined analysis each trace has its own clock.
   */
  private timeStep(): { ns: number; coarse: boolean; busiestRequests: number; busiestBytes: number } | null {
    const [s, ...others] = this.streams;
    if (!s || others.length || !Number.isFinite(s.minGap)) return null;
    return {
      ns: s.minGap,
      coarse: 2 * s.ties >= this.requests,
      busiestRequests: Math.max(s.maxRunCount, s.runCount),
      busiestBytes: Math.max(s.maxRunBytes, s.runBytes),
    };
  }

  /** Register a trace; returns the stream id to pass to add(). */
  addStream(processes: Map<number, string> = new Map()): number {
    this.streams.push({
      processes,
      heap: new MinHeap(),
      maxInFlight: 0,
      firstArrival: Infinity,
      lastComplete: -Infinity,
      sumTotal: 0,
      sumDevice: 0,
      hasIssue: false,
      hasComplete: false,
      lastArrival: NaN,
      minGap: Infinity,
      ties: 0,
      runCount: 0,
      runBytes: 0,
      maxRunCount: 0,
      maxRunBytes: 0,
    });
    return this.streams.length - 1;
  }

  /**
   * Fold in a batch of stream `stream` (arrivals non-decreasing within the
   * stream). `offsetNs` is added to its times (to align traces in a combined
   * analysis).
   */
  add(b: TraceBatch, stream = 0, offsetNs = 0): void {
    if (stream >= this.streams.length) throw new Error(`stream ${stream} not registered (addStream first)`);
    const n = b.length;
    if (n === 0) return;
    const st = at(this.streams, stream, 'stream');
    // The per-request loop below is analyze's hottest code: it indexes without a check per read
    // (at()/bump() there cost 15-25% of its CPU, measured). Its indices are in range by
    // construction: the columns are checked once here, op classes are 0..4 (opClass), size
    // buckets 0..32 (clz32), and seekIndex/latBucket clamp to their histograms.
    checkColumns(b);
    const { timeNs, sector, bytes, op, device, pid } = b;
    const complete = b.completeNs;
    const issue = b.issueNs;
    if (Number.isNaN(this.origin)) this.origin = timeNs[0]! + offsetNs;
    const origin = this.origin;
    const streamKey = stream * STREAM_SHIFT;
    let lastDevKey = -1;
    let dev: DevAcc | undefined;
    let lastPidKey = -1;
    let proc: ProcAcc | undefined;
    const mixCount = this.mixCount;
    const mixBytes = this.mixBytes;
    const tl = this.timeline;
    let lastArrival = st.lastArrival;
    let minGap = st.minGap;
    let ties = st.ties;
    let runCount = st.runCount;
    let runBytes = st.runBytes;
    for (let i = 0; i < n; i++) {
      // every column has the batch's length (TraceBatch)
      const t = timeNs[i]! + offsetNs;
      const gap = t - lastArrival;
      if (gap === 0) {
        ties++;
      } else {
        if (gap > 0 && gap < minGap) minGap = gap;
        if (runCount > st.maxRunCount) st.maxRunCount = runCount;
        if (runBytes > st.maxRunBytes) st.maxRunBytes = runBytes;
        runCount = 0;
        runBytes = 0;
      }
      runCount++;
      lastArrival = t;
      if (t < this.firstNs) this.firstNs = t;
      if (t > this.lastNs) this.lastNs = t;
      const cls = opClass(op[i]!);
      const sz = bytes[i]!;
      const sec = sector[i]!;
      if (cls === READ || cls === WRITE) runBytes += sz; // as the timeline's bandwidth counts them
      mixCount[cls]!++;
      mixBytes[cls]! += sz;

      const devNum = device[i]!;
      const devKey = streamKey + devNum;
      if (devKey !== lastDevKey || !dev) {
        dev = this.devices.get(devKey);
        if (!dev) {
          dev = {
            id: this.devices.size,
            stream,
            device: devNum,
            requests: 0,
            readBytes: 0,
            writeBytes: 0,
            minSector: Infinity,
            maxSector: -Infinity,
            lastEnd: -1,
            data: 0,
            seq: 0,
          };
          this.devices.set(devKey, dev);
        }
        lastDevKey = devKey;
      }
      const d = dev;
      d.requests++;

      const pidNum = pid[i]!;
      const pidKey = streamKey + pidNum;
      if (pidKey !== lastPidKey || !proc) {
        proc = this.procs.get(pidKey);
        if (!proc) {
          proc = { stream, pid: pidNum, requests: 0, reads: 0, writes: 0, readBytes: 0, writeBytes: 0 };
          this.procs.set(pidKey, proc);
        }
        lastPidKey = pidKey;
      }
      const p = proc;
      p.requests++;

      const bin = tl.bin(t - origin);
      if (cls === READ) {
        tl.add(bin, S_READ, 1);
        tl.add(bin, S_READ_B, sz);
        d.readBytes += sz;
        p.reads++;
        p.readBytes += sz;
      } else if (cls === WRITE) {
        tl.add(bin, S_WRITE, 1);
        tl.add(bin, S_WRITE_B, sz);
        d.writeBytes += sz;
        p.writes++;
        p.writeBytes += sz;
      } else {
        tl.add(bin, S_OTHER, 1);
      }

      if (sz > 0 && cls !== FLUSH) {
        this.dataRequests++;
        this.sizeAll.add(sz);
        const k = 31 - Math.clz32(sz);
        if (cls === READ) {
          this.sizeRead.add(sz);
          this.sizeHist[k * 3]!++;
        } else if (cls === WRITE) {
          this.sizeWrite.add(sz);
          this.sizeHist[k * 3 + 1]!++;
        } else {
          this.sizeHist[k * 3 + 2]!++;
        }
        const end = sec + sz / SECTOR_BYTES;
        d.data++;
        if (d.lastEnd >= 0) {
          const dist = sec - d.lastEnd;
          this.seekHist[seekIndex(dist)]!++;
          this.seekAbsSum += Math.abs(dist);
          this.seekCount++;
        }
        if (sec === d.lastEnd) {
          d.seq++;
          this.seqAll++;
          if (cls === READ) this.seqRead++;
          else if (cls === WRITE) this.seqWrite++;
        }
        d.lastEnd = end;
        if (sec < d.minSector) d.minSector = sec;
        if (end > d.maxSector) d.maxSector = end;
        if (sec < this.minSector) this.minSector = sec;
        if (end > this.maxSector) this.maxSector = end;
        if (cls !== DISCARD) {
          const first = Math.floor(sec / SECTORS_PER_BLOCK);
          const last = Math.floor((sec * SECTOR_BYTES + sz - 1) / BLOCK_BYTES);
          this.blocks.addRange(d.id, first, last - first + 1);
        }
        this.heatmap.add(t - origin, sec);
      }

      if (complete) {
        const c = complete[i]! + offsetNs;
        if (c === c) {
          const q = t;
          st.hasComplete = true;
          const heap = st.heap;
          while (heap.size && heap.peek() <= q) heap.pop();
          heap.push(c);
          if (heap.size > st.maxInFlight) st.maxInFlight = heap.size;
          tl.add(bin, S_QD_SUM, heap.size);
          tl.add(bin, S_QD_N, 1);
          if (q < st.firstArrival) st.firstArrival = q;
          if (c > st.lastComplete) st.lastComplete = c;
          st.sumTotal += c - q;
          this.latTotal.add(c - q);
          this.latHistTotal[cls * LAT_BUCKETS + latBucket(c - q)]!++;
          if (issue) {
            const di = issue[i]! + offsetNs;
            if (di === di) {
              st.hasIssue = true;
              st.sumDevice += c - di;
              this.latDevice.add(c - di);
              this.latHistDevice[cls * LAT_BUCKETS + latBucket(c - di)]!++;
            }
          }
        }
      }
    }
    st.lastArrival = lastArrival;
    st.minGap = minGap;
    st.ties = ties;
    st.runCount = runCount;
    st.runBytes = runBytes;
    this.requests += n;
  }

  finish(): TraceStats {
    const n = this.requests;
    const durationNs = n ? this.lastNs - this.firstNs : 0;
    const totalBytes = this.mixBytes.reduce((a, b) => a + b, 0);
    const mix = {} as Record<OpClass, MixEntry>;
    OP_CLASSES.forEach((name, i) => {
      const requests = col(this.mixCount, i);
      const bytes = col(this.mixBytes, i);
      mix[name] = { requests, bytes, fraction: n ? requests / n : 0, byteFraction: totalBytes ? bytes / totalBytes : 0 };
    });

    const histogram: SizeBin[] = [];
    // every bin from the smallest to the largest non-empty one, so the bins form a continuous log2 axis
    let kLo = 33;
    let kHi = -1;
    for (let k = 0; k < 33; k++) {
      if (this.sizeHist[k * 3] || this.sizeHist[k * 3 + 1] || this.sizeHist[k * 3 + 2]) {
        kLo = Math.min(kLo, k);
        kHi = k;
      }
    }
    for (let k = kLo; k <= kHi; k++)
      histogram.push({ lowBytes: 2 ** k, read: col(this.sizeHist, k * 3), write: col(this.sizeHist, k * 3 + 1), other: col(this.sizeHist, k * 3 + 2) });

    const reads = this.sizeRead.count;
    const writes = this.sizeWrite.count;
    const tl = this.timeline;
    const qdOverTime = this.streams.length === 1;
    const step = this.timeStep();
    // A coarse clock: each timestamp stands for a whole step, the last one too.
    const secs = (durationNs + (step?.coarse ? step.ns : 0)) / 1e9;
    // Bins narrower than a coarse clock's step hold a step's requests in one bin and none in the others
    // (a 1 s clock in 4 ms bins: 250x the rate, then 0): they are summed into windows of one step.
    const perBin = step?.coarse && tl.width < step.ns ? step.ns / tl.width : 1;
    const width = perBin > 1 ? step!.ns : tl.width;
    const windowOf = (i: number) => (perBin > 1 ? Math.ceil((i * tl.width) / step!.ns) : i);
    const windows = tl.used ? windowOf(tl.used - 1) + 1 : 0;
    const sums = new Float64Array(windows * SERIES);
    for (let i = 0; i < tl.used; i++) for (let k = 0; k < SERIES; k++) sums[windowOf(i) * SERIES + k]! += tl.get(i, k);
    const wsec = width / 1e9;
    const bins: TimeBin[] = [];
    let peakIops = 0;
    let peakBw = 0;
    for (let j = 0; j < windows; j++) {
      const sum = (k: number) => col(sums, j * SERIES + k);
      const qdN = sum(S_QD_N);
      const tb: TimeBin = {
        startNs: j * width,
        meanInFlight: qdOverTime && qdN > 0 ? sum(S_QD_SUM) / qdN : null,
        readIops: sum(S_READ) / wsec,
        writeIops: sum(S_WRITE) / wsec,
        otherIops: sum(S_OTHER) / wsec,
        readBytesPerSec: sum(S_READ_B) / wsec,
        writeBytesPerSec: sum(S_WRITE_B) / wsec,
      };
      peakIops = Math.max(peakIops, tb.readIops + tb.writeIops + tb.otherIops);
      peakBw = Math.max(peakBw, tb.readBytesPerSec + tb.writeBytesPerSec);
      bins.push(tb);
    }
    if (step?.coarse) {
      // Bins wider than the step may hold one step more than their width: the peak is the busiest step's.
      peakIops = step.busiestRequests / (step.ns / 1e9);
      peakBw = step.busiestBytes / (step.ns / 1e9);
    }

    let queueDepth: TraceStats['queueDepth'] = null;
    const [s, ...others] = this.streams;
    if (s?.hasComplete && others.length === 0) {
      const span = s.lastComplete - s.firstArrival;
      queueDepth = {
        source: s.hasIssue ? 'issue/complete times' : 'arrival + completion (latency) times',
        meanInFlight: span > 0 ? s.sumTotal / span : 0,
        maxInFlight: s.maxInFlight,
        meanAtDevice: s.hasIssue && span > 0 ? s.sumDevice / span : null,
      };
    }

    const latency: TraceStats['latency'] =
      this.latTotal.count || this.latDevice.count
        ? {
            device: this.latDevice.summary(),
            total: this.latTotal.summary(),
            deviceCdf: this.latDevice.cdf(),
            totalCdf: this.latTotal.cdf(),
          }
        : null;

    const hasIssue = this.streams.some((s) => s.hasIssue);
    const latHist = hasIssue ? this.latHistDevice : this.latHistTotal;
    let latencyHistogram: TraceStats['latencyHistogram'] = null;
    if (this.latTotal.count) {
      const ops: Partial<Record<OpClass, number[]>> = {};
      OP_CLASSES.forEach((name, c) => {
        const counts = Array.from(latHist.subarray(c * LAT_BUCKETS, (c + 1) * LAT_BUCKETS));
        let last = counts.length - 1;
        while (last >= 0 && counts[last] === 0) last--;
        if (last >= 0) ops[name] = counts.slice(0, last + 1);
      });
      latencyHistogram = { basis: hasIssue ? 'D->C' : 'Q->C', ops };
    }

    let seek: TraceStats['seek'] = null;
    if (this.seekCount) {
      const bins: SeekBin[] = [];
      let lo = 0;
      let hi = this.seekHist.length - 1;
      while (this.seekHist[lo] === 0) lo++;
      while (this.seekHist[hi] === 0) hi--;
      for (let j = lo; j <= hi; j++) {
        const k = Math.abs(j - SEEK_LOG2) - 1;
        const range: [number, number] = j === SEEK_LOG2 ? [0, 1] : j > SEEK_LOG2 ? [2 ** k, 2 ** (k + 1)] : [-(2 ** (k + 1)) + 1, -(2 ** k) + 1];
        bins.push({ fromSectors: range[0], toSectors: range[1], count: col(this.seekHist, j) });
      }
      seek = { bins, requests: this.seekCount, meanAbsSectors: this.seekAbsSum / this.seekCount };
    }

    const multi = this.streams.length > 1;
    const processes = topRows(
      [...this.procs.values()],
      (a) => a.requests,
      (p): ProcessRow => ({
        pid: p.pid,
        name: at(this.streams, p.stream, 'stream').processes.get(p.pid) ?? (p.pid === 0 ? '(unknown)' : ''),
        ...(multi ? { trace: p.stream } : {}),
        requests: p.requests,
        reads: p.reads,
        writes: p.writes,
        readBytes: p.readBytes,
        writeBytes: p.writeBytes,
      }),
      (rest): ProcessRow => ({
        pid: -1,
        name: `(${rest.length} others)`,
        requests: sum(rest, (r) => r.requests),
        reads: sum(rest, (r) => r.reads),
        writes: sum(rest, (r) => r.writes),
        readBytes: sum(rest, (r) => r.readBytes),
        writeBytes: sum(rest, (r) => r.writeBytes),
      }),
    );
    const devices = topRows(
      [...this.devices.values()],
      (a) => a.requests,
      (d): DeviceRow => ({
        device: deviceLabel(d.device),
        ...(multi ? { trace: d.stream } : {}),
        requests: d.requests,
        readBytes: d.readBytes,
        writeBytes: d.writeBytes,
        minSector: d.data ? d.minSector : 0,
        maxSector: d.data ? d.maxSector : 0,
        sequentialFraction: d.data ? d.seq / d.data : 0,
      }),
      (rest): DeviceRow => ({
        device: `(${rest.length} others)`,
        requests: sum(rest, (r) => r.requests),
        readBytes: sum(rest, (r) => r.readBytes),
        writeBytes: sum(rest, (r) => r.writeBytes),
        minSector: rest.reduce((m, r) => (r.data ? Math.min(m, r.minSector) : m), Infinity),
        maxSector: rest.reduce((m, r) => (r.data ? Math.max(m, r.maxSector) : m), -Infinity),
        sequentialFraction:
          sum(rest, (r) => r.seq) /
          Math.max(
            1,
            sum(rest, (r) => r.data),
          ),
      }),
    );

    const ws = this.blocks.count;
    return {
      requests: n,
      firstNs: n ? this.firstNs : 0,
      lastNs: n ? this.lastNs : 0,
      durationNs,
      mix,
      totalBytes,
      size: { all: this.sizeAll.summary(), read: this.sizeRead.summary(), write: this.sizeWrite.summary(), histogram },
      sequential: {
        fraction: this.dataRequests ? this.seqAll / this.dataRequests : 0,
        readFraction: reads ? this.seqRead / reads : 0,
        writeFraction: writes ? this.seqWrite / writes : 0,
        requests: this.seqAll,
      },
      lba: this.dataRequests ? { minSector: this.minSector, maxSector: this.maxSector, spanBytes: (this.maxSector - this.minSector) * SECTOR_BYTES } : null,
      workingSet: { blocks: ws, bytes: ws * BLOCK_BYTES, exact: this.blocks.isExact, relativeError: this.blocks.isExact ? 0 : HLL_STANDARD_ERROR },
      throughput: {
        meanIops: secs > 0 ? n / secs : 0,
        meanBytesPerSec: secs > 0 ? (col(this.mixBytes, READ) + col(this.mixBytes, WRITE)) / secs : 0,
        peakIops,
        peakBytesPerSec: peakBw,
        binWidthNs: width,
        bins,
        ...(step ? { timeStepNs: step.ns, coarseClock: step.coarse } : {}),
      },
      queueDepth,
      latency,
      latencyHistogram,
      seek,
      processes,
      devices,
      processCount: this.procs.size,
      deviceCount: this.devices.size,
      heatmap: this.heatmapRows(),
    };
  }

  private heatmapRows(): TraceStats['heatmap'] {
    const h = this.heatmap;
    const tb = h.time;
    const binSectors = h.lbaTop / h.lbaBins;
    let lo = h.lbaBins;
    let hi = -1;
    for (let t = 0; t < tb.used; t++) {
      for (let l = 0; l < h.lbaBins; l++) {
        if (tb.get(t, l)) {
          if (l < lo) lo = l;
          if (l > hi) hi = l;
        }
      }
    }
    const counts: number[][] = [];
    for (let l = lo; l <= hi; l++) {
      const row: number[] = [];
      for (let t = 0; t < tb.used; t++) row.push(tb.get(t, l));
      counts.push(row);
    }
    return { timeBinNs: tb.width, lbaBinSectors: binSectors, lbaFirstSector: hi >= 0 ? lo * binSectors : 0, counts };
  }
}

/** TraceBatch's contract, checked once per batch: every column has (at least) `length` entries. */
function checkColumns(b: TraceBatch): void {
  const { timeNs, sector, bytes, op, device, pid, issueNs, completeNs } = b;
  for (const [name, c] of Object.entries({ timeNs, sector, bytes, op, device, pid, issueNs, completeNs }))
    if (c && c.length < b.length) throw ERR_INTERNAL_INDEX(`batch column ${name}`, b.length - 1, c.length);
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s;
}

/** The `TABLE_ROWS` largest rows by `key`, plus one row summing the rest. */
function topRows<A, R>(all: A[], key: (a: A) => number, row: (a: A) => R, others: (rest: A[]) => R): R[] {
  all.sort((a, b) => key(b) - key(a));
  const out = all.slice(0, TABLE_ROWS).map(row);
  if (all.length > TABLE_ROWS) out.push(others(all.slice(TABLE_ROWS)));
  return out;
}

/** Linux device numbers (major << 20 | minor) as "major,minor"; source-defined ids as they are. */
export function deviceLabel(d: number): string {
  return d >= 1 << 20 ? `${d >>> 20},${d & 0xfffff}` : String(d);
}
