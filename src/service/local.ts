/**
 * What a front end asks of the machine it runs on, needing no ConfDB:
 * live capture, the capture doctor, trace analysis and its reports, training
 * the similarity model, identifying a trace among given ones. Both service
 * implementations (in-process and HTTP) run these in the calling process:
 * they read local devices and files and write local files, whoever holds the
 * ConfDB. Heavy modules (TensorFlow.js, the statistics worker) load on first use.
 */
import path from 'node:path';
import { requireCapturable, resolveDevice } from '../blockdev/resolve.js';
import { BACKENDS, openCollector, probeBlktraceOn, type BackendName } from '../collector/index.js';
import { doctor, EBPF_MIN_KERNEL, PREFERENCE, type BackendCheck } from '../collector/doctor.js';
import { featureStatus, NATIVE_FEATURES, type FeatureStatus, type NativeFeature } from '../native.js';
import { ERR_FEATURES_TOO_SHORT } from '../errors.js';
import type { Identification, Method } from '../ml/identify.js';
import { traceStreams } from '../ml/data.js';
import { longTimeout } from '../util/long-timer.js';
import { writeBlktrace } from '../writers/blktrace.js';
import { assertWritable } from '../writers/lines.js';
import { writeMqsim } from '../writers/mqsim.js';
import type { AnalysisReport } from '../analyze/types.js';

import { analyzeTraces, type AnalyzeOptions } from './analyze.js';

export type { AnalyzeOptions } from './analyze.js';
export type { AnalysisReport } from '../analyze/types.js';
export type { BackendCheck } from '../collector/doctor.js';
export type { BackendName } from '../collector/index.js';
export { BACKENDS };
export const CAPTURE_FORMATS = ['blktrace', 'mqsim'] as const;
export type CaptureFormat = (typeof CAPTURE_FORMATS)[number];

export interface DoctorReport {
  checks: BackendCheck[];
  /** The backend `--backend auto` would use, or null when none works. */
  auto: BackendName | null;
  /** The optional native features (eBPF, io_uring): built and usable here, or why not. */
  features: FeatureStatus[];
  /** The oldest kernel the eBPF backend supports (with BTF). */
  ebpfMinKernel: string;
}

/** Which capture backends and optional native features work here; with a device, kernel blktrace is also tried on it. */
export function captureDoctor(device?: string): DoctorReport {
  const checks = doctor(device ? probeBlktraceOn(resolveDevice(device)) : undefined);
  return {
    checks,
    auto: PREFERENCE.find((b) => checks.find((c) => c.backend === b)?.works) ?? null,
    features: (Object.keys(NATIVE_FEATURES) as NativeFeature[]).map(featureStatus),
    ebpfMinKernel: EBPF_MIN_KERNEL.join('.'),
  };
}

export interface CaptureRequest {
  device: string;
  backend: BackendName | 'auto';
  /** PREFIX.blktrace.N files (blktrace) or one file (mqsim). */
  output: string;
  format: CaptureFormat;
  /** Stop after this long; otherwise when `signal` aborts. */
  durationMs?: number;
  signal?: AbortSignal;
  /** Once the backend is chosen: which and why. */
  onStart?: (choice: string) => void;
  /** Called about once a second with the requests captured and lost so far. */
  onProgress?: (requests: number, lost: number) => void;
}

export interface CaptureSummary {
  device: string;
  backend: BackendName;
  choice: string;
  seconds: number;
  requests: number;
  /** Requests issued on the device and never written: lost (by cause), still in flight at stop, or completed without their issue seen. */
  lost: number;
  lostBy: Record<string, number>;
  unfinished: number;
  unpaired: number;
  files: string[];
  warnings: string[];
  /** The device disappeared during the capture; the files hold what was captured until then. */
  deviceGone: boolean;
}

/** Capture block I/O live into trace files, streamed (memory stays bounded however long it runs). */
export async function capture(r: CaptureRequest): Promise<CaptureSummary> {
  // Before the capture starts: an output that cannot be written fails now, not after the capture.
  assertWritable(r.format === 'mqsim' ? r.output : `${r.output}.blktrace.0`);
  const { collector, choice } = await openCollector(r.device, { backend: r.backend });
  r.onStart?.(choice);
  const stop = () => void collector.stop();
  r.signal?.addEventListener('abort', stop, { once: true });
  // Node's setTimeout fires at once beyond 2^31-1 ms (24.8 days): `--duration 600h` used to stop immediately.
  const timer = r.durationMs !== undefined ? longTimeout(stop, r.durationMs) : undefined;
  const progress = r.onProgress ? setInterval(() => r.onProgress!(collector.stats().events, collector.stats().lost), 1000) : undefined;
  const t0 = Date.now();
  let files: string[];
  try {
    files = r.format === 'mqsim' ? (await writeMqsim(collector, r.output), [r.output]) : (await writeBlktrace(collector, r.output)).files;
  } finally {
    timer?.cancel();
    clearInterval(progress);
    r.signal?.removeEventListener('abort', stop);
    await collector.stop();
  }
  const st = collector.stats();
  return {
    device: r.device,
    backend: collector.backend,
    choice,
    seconds: (Date.now() - t0) / 1000,
    requests: st.events,
    lost: st.lost,
    lostBy: st.lostBy,
    unfinished: st.unfinished,
    unpaired: st.unpaired,
    files,
    warnings: collector.meta.warnings,
    deviceGone: st.deviceGone,
  };
}

/** The analysis report as text, or as a self-contained HTML page with plots. */
export async function renderAnalysis(report: AnalysisReport, as: 'text' | 'html'): Promise<string> {
  if (as === 'text') return (await import('../analyze/text.js')).renderText(report);
  return (await import('../analyze/report.js')).renderReport(report);
}

// ---- the similarity model ----------------------------------------------------------

export type { TrainConfig } from '../ml/train.js';
export { DEFAULT_TRAIN } from '../ml/train-defaults.js';

/** Train, calibrate, evaluate and save the similarity model; returns the result and a summary of its figures. */
export async function trainModel(cfg: import('../ml/train.js').TrainConfig, command: string) {
  const { trainAndSave, trainSummary } = await import('../ml/train.js');
  const result = await trainAndSave(cfg, command);
  return { result, summary: trainSummary(result, cfg) };
}

/** A trace's window vectors per device stream (the model's windowing, ml/data.ts). */
async function windowStreamsOf(file: string, windowSize: number, format?: string): Promise<Float64Array[][]> {
  const t = await traceStreams(file, windowSize, format);
  if (t.described.windows.length === 0) throw ERR_FEATURES_TOO_SHORT(file, `${t.requests} requests, the model needs windows of ${windowSize} on one device`);
  return t.streams.map((s) => s.windows);
}

/** Is `trace` one of the `known` traces' workloads (each file one workload)? No ConfDB involved. */
export async function identifyAmong(
  trace: string,
  known: readonly string[],
  o: { modelDir: string; method: Method; format?: string },
): Promise<Identification> {
  const { loadSimilarityModel } = await import('../ml/model-io.js');
  const { identify, MemoryWorkloadStore, profileWorkload } = await import('../ml/identify.js');
  const m = await loadSimilarityModel(path.resolve(o.modelDir));
  const store = new MemoryWorkloadStore();
  for (const k of known) store.put(profileWorkload(m, k, path.basename(k), await windowStreamsOf(k, m.meta.windowSize)));
  return identify(m, await windowStreamsOf(trace, m.meta.windowSize, o.format), store, { method: o.method });
}

/** The host-local part of the service API (SsdtuneApi extends it). */
export interface HostLocalApi {
  capture(r: CaptureRequest): Promise<CaptureSummary>;
  /** Refuse a device no capture could watch (missing, without media, bio-based), as a capture would: before a schedule is set up for it. */
  requireCapturable(device: string): void;
  doctor(device?: string): DoctorReport;
  analyze(paths: readonly string[], o?: AnalyzeOptions): Promise<AnalysisReport>;
  renderAnalysis(report: AnalysisReport, as: 'text' | 'html'): Promise<string>;
  trainModel(cfg: import('../ml/train.js').TrainConfig, command: string): ReturnType<typeof trainModel>;
  identifyAmong(trace: string, known: readonly string[], o: { modelDir: string; method: Method; format?: string }): Promise<Identification>;
}

/** Host-local operations, run in this process whichever implementation holds the ConfDB. */
export class HostLocal implements HostLocalApi {
  capture(r: CaptureRequest): Promise<CaptureSummary> {
    return capture(r);
  }
  requireCapturable(device: string): void {
    requireCapturable(resolveDevice(device));
  }
  doctor(device?: string): DoctorReport {
    return captureDoctor(device);
  }
  analyze(paths: readonly string[], o: AnalyzeOptions = {}): Promise<AnalysisReport> {
    return analyzeTraces(paths, o);
  }
  renderAnalysis(report: AnalysisReport, as: 'text' | 'html'): Promise<string> {
    return renderAnalysis(report, as);
  }
  trainModel(cfg: import('../ml/train.js').TrainConfig, command: string): ReturnType<typeof trainModel> {
    return trainModel(cfg, command);
  }
  identifyAmong(trace: string, known: readonly string[], o: { modelDir: string; method: Method; format?: string }): Promise<Identification> {
    return identifyAmong(trace, known, o);
  }
}

/** For commands that need no ConfDB (analyze, collect, doctor, model): nothing is opened. */
export const hostLocal: HostLocalApi = new HostLocal();
