/**
 * The `live` evaluator (docs/tuning.md): applies a `host` configuration to
 * a real block device through the applier, replays a trace's requests on it
 * with io_uring from native code (worker thread), and reverts. Buffered reads
 * by default so readahead matters; the device's page cache is dropped before
 * each repetition. Read-only unless the device is declared scratch.
 *
 * Each candidate goes on the device through the applier's withTrialConfig:
 * the way back is in the given StateStore (the ConfDB) before the first
 * write, so a kill -9 mid-measurement leaves a record `ssdtune revert` uses.
 */
import { readFileSync } from 'node:fs';
import { ERR_HOST_UNSAFE, isSsdtuneError } from '../../errors.js';
import { nativeFeature } from '../../native.js';
import type { EvaluateOptions, Evaluator, Metrics, WorkloadRef } from '../types.js';
import type { Configuration } from '../../space/types.js';
import { SECTOR_BYTES, concatBatches, type TraceBatch } from '../../trace/model.js';
import { withTrialConfig } from '../../host/applier.js';
import { replayDevice } from '../../blockdev/safety.js';
import type { StateStore } from '../../host/state.js';
import type { BlockDevice } from '../../blockdev/resolve.js';
import type { Held } from '../../blockdev/sysfs.js';
import type { DeviceCost } from '../readahead/readahead-model.js';
import { planReplay, type ReplayPlan } from './replay-plan.js';

export interface LiveOptions {
  /** Whole block device (/dev/loop3, /dev/nvme1n1). */
  device: string;
  /** Where the device's way back is recorded (durably) before a candidate is written. */
  store: StateStore;
  /** The device holds nothing of value: writes in the trace are replayed. */
  scratch?: boolean;
  /** Replay even though the device has a filesystem signature or holders (never when mounted). */
  force?: boolean;
  /** 'closed': keep queueDepth requests in flight; 'timed': issue at the trace's arrival times. */
  mode?: 'closed' | 'timed';
  queueDepth?: number;
  /** O_DIRECT instead of buffered reads (readahead then plays no part). */
  direct?: boolean;
  repetitions?: number;
  /** Timed mode: multiply inter-arrival gaps (0.5 = twice as fast). */
  timeScale?: number;
  /** Use at most this many requests of the trace. */
  maxRequests?: number;
}

export interface ReplayRunResult {
  elapsedNs: number;
  bytes: number;
  completed: number;
  errors: number;
  firstError: string;
  latencyNs: Float64Array;
}

/** One native replay (drops the device's cache first unless told not to). */
export async function runReplay(
  path: string,
  plan: ReplayPlan,
  o: { direct: boolean; allowWrite: boolean; timed: boolean; queueDepth: number; timeScale?: number; dropCache?: boolean },
): Promise<ReplayRunResult> {
  const addon = nativeFeature('uring');
  return (await addon.replayRun({
    path,
    offsets: plan.offsets,
    lengths: plan.lengths,
    writes: plan.writes,
    timesNs: plan.timesNs,
    direct: o.direct,
    allowWrite: o.allowWrite,
    timed: o.timed,
    queueDepth: o.queueDepth,
    timeScale: o.timeScale ?? 1,
    dropCache: o.dropCache ?? true,
  })) as ReplayRunResult;
}

/** Reads completed and sectors read so far (/sys/block/X/stat), to count what really reached the device. */
export function deviceReadCounters(dev: BlockDevice): { reads: number; bytes: number } {
  const f = readFileSync(`${dev.sysDir}/stat`, 'utf8').trim().split(/\s+/).map(Number);
  return { reads: f[0]!, bytes: f[2]! * SECTOR_BYTES };
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** Errors of a live evaluation that are the device's (LiveEvaluator.stopsSearch). */
const DEVICE_ERRORS = ['SSDTUNE_HOST_STATE', 'SSDTUNE_HOST_RESTORE', 'SSDTUNE_HOST_UNSAFE', 'SSDTUNE_HOST_ROOT', 'SSDTUNE_DEVICE'] as const;

export class LiveEvaluator implements Evaluator {
  readonly name = 'live';
  readonly space = 'host';
  private readonly opts: LiveOptions;
  private readonly dev: BlockDevice;
  /** The device has had its unmeasured warm-up replay. */
  private warmed = false;

  constructor(opts: LiveOptions) {
    this.opts = opts;
    this.dev = replayDevice(opts.device, !!opts.force);
  }

  /** The device, not the configuration: busy with another change, left changed, unsafe, gone, or not ours to write. */
  stopsSearch(error: unknown): boolean {
    return DEVICE_ERRORS.some((code) => isSsdtuneError(error, code));
  }

  get device(): BlockDevice {
    return this.dev;
  }

  async evaluate(config: Configuration, workload: WorkloadRef, eo: EvaluateOptions = {}): Promise<Metrics> {
    const o = this.opts;
    const batches: TraceBatch[] = [];
    let have = 0;
    const src = await workload.open();
    for await (const b of src) {
      batches.push(b);
      have += b.length;
      if (o.maxRequests !== undefined && have >= o.maxRequests) break;
    }
    const devBytes = Number(readFileSync(`${this.dev.sysDir}/size`, 'utf8').trim()) * SECTOR_BYTES;
    const lbs = Number(readFileSync(`${this.dev.sysDir}/queue/logical_block_size`, 'utf8').trim());
    const plan = planReplay(concatBatches(batches), devBytes, {
      allowWrite: !!o.scratch,
      align: o.direct ? Math.max(lbs, 512) : 512,
      maxRequests: o.maxRequests,
    });
    if (plan.offsets.length === 0)
      throw ERR_HOST_UNSAFE(
        this.dev.name,
        `workload ${workload.name} has no requests to replay here (${plan.writesSkipped} writes skipped: not a scratch device)`,
      );

    const replayOpts = {
      direct: !!o.direct,
      allowWrite: !!o.scratch,
      timed: o.mode === 'timed',
      queueDepth: o.queueDepth ?? 1,
      timeScale: o.timeScale,
    };
    // The first measurement on a device finds the layers below it cold (a VM's disk cache, an SSD's own), and it is
    // the baseline's: measured slow, it made every candidate look better (a loop device's baseline at 415 us, the same
    // configuration at 176 us a minute later, every candidate graded +0.3 to +1.1). One unmeasured replay warms them.
    if (!this.warmed) {
      await runReplay(this.dev.path, plan, replayOpts);
      this.warmed = true;
    }
    const reps = Math.max(1, o.repetitions ?? 3);
    const tput: number[] = [];
    const iops: number[] = [];
    const devReads: number[] = [];
    const devBytes2: number[] = [];
    const all: number[] = [];
    let errors = 0;
    const toApply = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
    // On the device for the measurement only: recorded first, restored after, the record then put back as it was.
    // What the kernel changed beside the configuration's writes, held for the measurement, is part of what was measured.
    let held: Held[] = [];
    await withTrialConfig(this.dev.path, toApply, o.store, async (trial) => {
      held = trial.held;
      for (let r = 0; r < reps; r++) {
        if (eo.signal?.aborted) throw eo.signal.reason ?? new Error('aborted');
        const c0 = deviceReadCounters(this.dev);
        const res = await runReplay(this.dev.path, plan, replayOpts);
        const c1 = deviceReadCounters(this.dev);
        errors += res.errors;
        if (res.errors && res.completed === 0) throw ERR_HOST_UNSAFE(this.dev.name, `replay failed: ${res.firstError}`);
        tput.push(res.bytes / (res.elapsedNs / 1e9));
        iops.push(res.completed / (res.elapsedNs / 1e9));
        devReads.push(c1.reads - c0.reads);
        devBytes2.push(c1.bytes - c0.bytes);
        for (const l of res.latencyNs) all.push(l);
        eo.onProgress?.((r + 1) / reps);
      }
    });
    const lat = Float64Array.from(all).sort();
    const t = meanStd(tput);
    const latMean = all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
    return {
      iops: meanStd(iops).mean,
      throughputBps: t.mean,
      latencyMeanUs: latMean / 1e3,
      latencyP99Us: percentile(lat, 99) / 1e3,
      extra: {
        latencyP50Us: percentile(lat, 50) / 1e3,
        latencyP95Us: percentile(lat, 95) / 1e3,
        latencyP999Us: percentile(lat, 99.9) / 1e3,
        throughputStdBps: t.std,
        throughputMinBps: Math.min(...tput),
        throughputMaxBps: Math.max(...tput),
        repetitions: reps,
        requests: plan.offsets.length,
        deviceReads: meanStd(devReads).mean,
        deviceBytesRead: meanStd(devBytes2).mean,
        writesSkipped: plan.writesSkipped,
        errors,
      },
      ...(held.length ? { held } : {}),
    };
  }
}

/**
 * Measure the cost model the readahead model needs on a real device:
 * O_DIRECT QD1 reads of 4 KiB and 1 MiB give the per-request cost and the
 * bandwidth; buffered re-reads of a cached MiB give the per-call cost.
 */
/** Deepest queue the calibration tries: a readahead window rarely splits into more requests than this at once. */
const CALIBRATION_DEPTH = 32;

export async function calibrateDevice(devPath: string, deviceBytes: number): Promise<Required<DeviceCost>> {
  const mk = (n: number, len: number, spread: number, shift: number): ReplayPlan => {
    const p: ReplayPlan = {
      offsets: new Float64Array(n),
      lengths: new Uint32Array(n).fill(len),
      writes: new Uint8Array(n),
      timesNs: new Float64Array(n),
      writesSkipped: 0,
      otherSkipped: 0,
    };
    const slots = Math.max(1, Math.floor(Math.min(spread, deviceBytes) / len));
    // A fixed permutation walk: no two consecutive requests adjacent (no merging).
    for (let i = 0; i < n; i++) p.offsets[i] = (((i + shift) * 7919) % slots) * len;
    return p;
  };
  const o = { direct: true, allowWrite: false, timed: false, queueDepth: 1 };
  // Many short trials, fastest kept: load from other processes comes in bursts
  // and only ever adds time, so the minimum is the device's own cost.
  const trials = 12;
  let tSmall = Infinity;
  let tBig = Infinity;
  let tDeep = Infinity;
  for (let t = 0; t < trials; t++) {
    tSmall = Math.min(tSmall, (await runReplay(devPath, mk(64, 4096, deviceBytes, t * 64), o)).elapsedNs / 1e3 / 64);
    tBig = Math.min(tBig, (await runReplay(devPath, mk(8, 1 << 20, deviceBytes, t * 8), o)).elapsedNs / 1e3 / 8);
    // The same small reads, CALIBRATION_DEPTH in flight: how many requests the device overlaps.
    tDeep = Math.min(tDeep, (await runReplay(devPath, mk(64, 4096, deviceBytes, t * 64 + 4096), { ...o, queueDepth: CALIBRATION_DEPTH })).elapsedNs / 1e3 / 64);
  }
  // Floor at 1 us: a 1 MiB read is never faster than that over a 4 KiB one.
  const bytesPerSec = ((1 << 20) - 4096) / Math.max(1e-6, (tBig - tSmall) / 1e6);
  const requestUs = Math.max(0.1, tSmall - (4096 / bytesPerSec) * 1e6);
  // Cached reads: the block device's page cache is dropped when its last opener
  // closes, so warm and measure within one replay: 256 reads, then the same again.
  const cached = mk(512, 4096, 1 << 20, 0);
  cached.offsets.copyWithin(256, 0, 256);
  let hot = Infinity;
  for (let t = 0; t < trials; t++) {
    const r = await runReplay(devPath, cached, { ...o, direct: false, dropCache: false });
    hot = Math.min(
      hot,
      r.latencyNs.subarray(256).reduce((a, b) => a + b, 0),
    );
  }
  const parallelism = Math.min(CALIBRATION_DEPTH, Math.max(1, tSmall / Math.max(1e-3, tDeep)));
  return { requestUs, bytesPerSec, appRequestUs: hot / 1e3 / 256, parallelism };
}
