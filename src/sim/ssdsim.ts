/**
 * TypeScript side of the native SSD simulator (native/src/ssdsim): streams a
 * TraceSource into it batch by batch (the simulator keeps only the device
 * mapping, never the trace), runs each chunk on the libuv pool, and exposes
 * it as the `ssdsim` Evaluator of the `ssd` space.
 */
import { native } from '../native.js';
import { ERR_NATIVE, ERR_SSDSIM_CANCELLED, ERR_SSDSIM_CONFIG, ERR_SSDSIM_DEVICE_FULL, ERR_SSDSIM_LBA_RANGE, ERR_TRACE_FORMAT } from '../errors.js';
import type { TraceSource } from '../trace/model.js';
import type { Configuration } from '../space/types.js';
import type { EvaluateOptions, Evaluator, LbaPolicy, Metrics, Replay, WorkloadRef } from '../evaluators/types.js';
import { decodedOnce } from '../evaluators/decoded.js';
import { foldExtra } from './lba-fold.js';
import { RECORDED, replayExtra, scaledSource, speedupOf } from './replay.js';
import { toSsdConfig, validateSsdConfig, type SsdConfig } from './ssd-space.js';

export interface SimOptions {
  /** 'trace': requests arrive at their trace times (open loop); 'closed': a fixed number outstanding. */
  mode?: 'trace' | 'closed';
  /** Outstanding requests in closed-loop mode (capped by the config's queueDepth). Default 32. */
  closedLoopDepth?: number;
  /** Requests beyond the logical capacity: 'modulo' (default: folded as MQSim folds, see lba-fold.ts) or 'reject' (a coded error). */
  lbaPolicy?: LbaPolicy;
  /** Fraction of logical pages written sequentially before the replay (default 0: a fresh drive, as MQSim replays). */
  preconditionFill?: number;
  /** Random overwrites before the replay, as a multiple of the logical pages (default 3: GREEDY's steady state); none on a fresh drive. */
  preconditionAge?: number;
  /** Planes aged with real writes; the others start as a copy of one of them (default 4). */
  preconditionTemplates?: number;
  /** Departure from MQSim: dies of a chip work in parallel (MQSim: one die per chip at a time). */
  dieInterleaving?: boolean;
  /** Reads of never-written pages: 'flash' (MQSim: a mapping is created and flash read) or 'zero' (no flash access). */
  unwrittenReads?: 'flash' | 'zero';
  /** What the CMT caches: 'entry' (MQSim: single mapping entries) or 'translation-page'. */
  cmtGranularity?: 'entry' | 'translation-page';
  seed?: number;
}

/** The native simulator's preconditioning defaults (native/src/ssdsim/config.h): a fresh drive, aged 3x when filled. */
export const PRECONDITION_DEFAULTS = { preconditionFill: 0, preconditionAge: 3 } as const;

export interface LatencyStats {
  count: number;
  meanNs: number;
  sumNs: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  minNs: number;
  maxNs: number;
}

export interface FtlCounts {
  hostPrograms: number;
  gcPrograms: number;
  erases: number;
  gcInvocations: number;
}

/** Raw results of one replay (all times ns; ratios in [0, 1]). */
export interface SimResults {
  requests: number;
  completed: number;
  reads: number;
  writes: number;
  /** Requests that are neither reads nor writes (discard, flush) or zero-length: not simulated. */
  skipped: number;
  /** Reads of never-written pages, served without a flash access. */
  unmappedReads: number;
  /** Arrivals earlier than their predecessor, moved up to it. */
  clampedArrivals: number;
  /** Requests beyond the logical capacity, folded into it (lbaPolicy 'modulo'). */
  foldedRequests: number;
  readBytes: number;
  writeBytes: number;
  firstArrivalNs: number;
  lastCompletionNs: number;
  /** CPU time of the simulating thread spent preconditioning / replaying (not simulated time). */
  preconditionCpuNs: number;
  replayCpuNs: number;
  preconditionWallNs: number;
  read: LatencyStats;
  write: LatencyStats;
  all: LatencyStats;
  /** Admission into the submission queue to completion (excludes waiting for a queue slot). */
  deviceResponse: LatencyStats;
  ftl: FtlCounts;
  precondition: FtlCounts;
  flashReads: number;
  /** Reads of the sectors a partial-page write does not cover (MQSim's update reads). */
  updateReads: number;
  mappingReads: number;
  mappingPrograms: number;
  cacheReadHits: number;
  cacheReadLookups: number;
  cacheWriteHits: number;
  cacheWriteLookups: number;
  cacheEvictions: number;
  flashCommands: number;
  multiPlaneCommands: number;
  /** Queued transactions the flash scheduler examined to form those commands (a cost figure, not a simulated one). */
  schedulerVisits: number;
  /** Bytes of simulator state at the end of the replay (sparse mapping, block tables, caches, pools). */
  stateBytes: number;
  cmtHits: number;
  cmtLookups: number;
  utilisation: { channelMean: number; channelMax: number; dieMean: number; dieMax: number; pcieHostToDevice: number; pcieDeviceToHost: number };
  /** Data pages valid/invalid/free, translation pages (mapping), and totals: valid + invalid + free + mapping = physical. */
  pages: { valid: number; invalid: number; free: number; mapping: number; physical: number; logical: number };
}

/** Figures derived from SimResults the way the evaluators report them. */
export interface SimSummary {
  iops: number;
  bandwidthBps: number;
  /** (host + GC programs) / host programs, measured phase only. */
  writeAmplification: number;
  /** As above plus translation-page programs. */
  writeAmplificationWithMapping: number;
  dataCacheHitRatio: number;
  cmtHitRatio: number;
}

export function summarize(r: SimResults): SimSummary {
  const spanS = (r.lastCompletionNs - r.firstArrivalNs) / 1e9;
  const host = r.ftl.hostPrograms;
  const lookups = r.cacheReadLookups + r.cacheWriteLookups;
  return {
    iops: spanS > 0 ? r.completed / spanS : 0,
    bandwidthBps: spanS > 0 ? (r.readBytes + r.writeBytes) / spanS : 0,
    writeAmplification: host > 0 ? (host + r.ftl.gcPrograms) / host : 0,
    writeAmplificationWithMapping: host > 0 ? (host + r.ftl.gcPrograms + r.mappingPrograms) / host : 0,
    dataCacheHitRatio: lookups > 0 ? (r.cacheReadHits + r.cacheWriteHits) / lookups : 0,
    cmtHitRatio: r.cmtLookups > 0 ? r.cmtHits / r.cmtLookups : 0,
  };
}

/** An instance of the addon's SsdSim class. */
export interface NativeSim {
  feed(t: Float64Array, sector: Float64Array, bytes: Uint32Array, op: Uint16Array): { badIndex: number; badLastSector: number; badSector: boolean };
  run(final: boolean): Promise<{ status: 'need-more' | 'done' | 'cancelled'; completed: number }>;
  cancel(): void;
  results(): SimResults;
  close(): void;
  readonly logicalSectors: number;
  readonly completed: number;
}

function nativeError(e: unknown): unknown {
  const err = e as { code?: string; param?: string; message?: string };
  if (err?.code === 'SSDSIM_CONFIG') return ERR_SSDSIM_CONFIG(err.param ?? '?', err.message);
  if (err?.code === 'SSDSIM_DEVICE_FULL') return ERR_SSDSIM_DEVICE_FULL(err.message);
  if (err?.code === 'SSDSIM_INTERNAL' || err?.code === 'SSDSIM_BUSY') return ERR_NATIVE(`ssdsim: ${err.message}`);
  return e;
}

export interface SimulateOptions extends SimOptions {
  signal?: AbortSignal;
  /** Called after each batch with the requests fed and completed so far. */
  onBatch?: (fed: number, completed: number) => void;
}

/** The addon's SsdSim class. */
export type SimConstructor = new (c: object) => NativeSim;

/**
 * Replay `source` on the simulated SSD `config`. The source is read once, batch by batch.
 * `Sim` is this build's simulator unless given: the differential harness (bench/ssdsim-diff.ts) passes another build's.
 */
export async function simulate(config: SsdConfig, source: TraceSource, opts: SimulateOptions = {}, Sim?: SimConstructor): Promise<SimResults> {
  validateSsdConfig(config);
  let sim: NativeSim;
  try {
    const Ctor = Sim ?? (native().SsdSim as SimConstructor);
    sim = new Ctor({ ...config, ...stripUndefined(opts) });
  } catch (e) {
    throw nativeError(e);
  }
  const signal = opts.signal;
  const onAbort = (): void => sim.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw ERR_SSDSIM_CANCELLED();
    let fed = 0;
    const step = async (final: boolean): Promise<void> => {
      let r;
      try {
        r = await sim.run(final);
      } catch (e) {
        throw nativeError(e);
      }
      if (r.status === 'cancelled' || signal?.aborted) throw ERR_SSDSIM_CANCELLED();
    };
    for await (const b of source) {
      const fr = sim.feed(b.timeNs, b.sector, b.bytes, b.op);
      if (fr.badIndex >= 0 && fr.badSector)
        throw ERR_TRACE_FORMAT(source.meta.source, `request ${fed + fr.badIndex}`, `a sector number in [0, 2^53), got ${b.sector[fr.badIndex]}`);
      if (fr.badIndex >= 0) throw ERR_SSDSIM_LBA_RANGE(source.meta.source, fed + fr.badIndex, fr.badLastSector, sim.logicalSectors);
      fed += b.length;
      await step(false);
      opts.onBatch?.(fed, sim.completed);
    }
    await step(true);
    opts.onBatch?.(fed, sim.completed);
    return sim.results();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A run() still in flight (error thrown while it ran) keeps the model; it is freed with the wrapper.
    try {
      sim.close();
    } catch {
      /* running: freed when the wrapper is collected */
    }
  }
}

function stripUndefined(o: SimulateOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [
    'mode',
    'closedLoopDepth',
    'lbaPolicy',
    'preconditionFill',
    'preconditionAge',
    'preconditionTemplates',
    'dieInterleaving',
    'unwrittenReads',
    'cmtGranularity',
    'seed',
  ] as const)
    if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The Metrics every evaluator reports, from one replay. */
export function toMetrics(r: SimResults): Metrics {
  const s = summarize(r);
  return {
    iops: s.iops,
    throughputBps: s.bandwidthBps,
    latencyMeanUs: r.all.meanNs / 1e3,
    latencyP99Us: r.all.p99Ns / 1e3,
    extra: {
      readMeanUs: r.read.meanNs / 1e3,
      readP99Us: r.read.p99Ns / 1e3,
      readP999Us: r.read.p999Ns / 1e3,
      writeMeanUs: r.write.meanNs / 1e3,
      writeP99Us: r.write.p99Ns / 1e3,
      writeP999Us: r.write.p999Ns / 1e3,
      latencyP50Us: r.all.p50Ns / 1e3,
      deviceResponseMeanUs: r.deviceResponse.meanNs / 1e3,
      writeAmplification: s.writeAmplification,
      writeAmplificationWithMapping: s.writeAmplificationWithMapping,
      gcInvocations: r.ftl.gcInvocations,
      gcPagesMoved: r.ftl.gcPrograms,
      erases: r.ftl.erases,
      dataCacheHitRatio: s.dataCacheHitRatio,
      cmtHitRatio: s.cmtHitRatio,
      channelUtilisation: r.utilisation.channelMean,
      dieUtilisation: r.utilisation.dieMean,
      requests: r.completed,
      skipped: r.skipped,
      flashReads: r.flashReads,
      mappingReads: r.mappingReads,
      hostPrograms: r.ftl.hostPrograms,
      flashCommands: r.flashCommands,
      multiPlaneCommands: r.multiPlaneCommands,
      stateBytes: r.stateBytes,
      ...foldExtra(r.foldedRequests, r.requests),
    },
  };
}

export interface SsdsimEvaluatorOptions extends SimOptions {
  /** Replay intensity (default recorded); `closed` sets mode and closedLoopDepth. */
  replay?: Replay;
  totalRequests?: number;
}

/** The simulator options a replay intensity implies. */
export function replayOptions(r: Replay): Pick<SimOptions, 'mode' | 'closedLoopDepth'> {
  return r.mode === 'closed' ? { mode: 'closed', closedLoopDepth: r.queueDepth } : { mode: 'trace' };
}

/** An `ssdsim` evaluator with fixed replay options (intensity, LBA policy, preconditioning, seed). */
export function createSsdsimEvaluator(simOpts: SsdsimEvaluatorOptions = {}): Evaluator {
  const { replay = RECORDED, totalRequests: total, ...rest } = simOpts;
  const open = decodedOnce();
  return {
    name: 'ssdsim',
    space: 'ssd',
    async evaluate(config: Configuration, workload: WorkloadRef, opts: EvaluateOptions = {}): Promise<Metrics> {
      const cfg = toSsdConfig(config);
      const source = scaledSource(await open(workload), speedupOf(replay));
      const r = await simulate(cfg, source, {
        ...rest,
        ...(simOpts.replay ? replayOptions(replay) : {}),
        signal: opts.signal,
        onBatch: opts.onProgress && total ? (_fed, done) => opts.onProgress!(Math.min(1, done / total)) : undefined,
      });
      const m = toMetrics(r);
      m.extra = { ...m.extra, ...replayExtra(replay) };
      return m;
    },
  };
}

export const ssdsimEvaluator: Evaluator = createSsdsimEvaluator();
