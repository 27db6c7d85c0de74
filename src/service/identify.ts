/**
 * Identifying a trace's workload against the workloads stored in the ConfDB:
 * describe it in windows with the shipped similarity model and ask the
 * identification module (src/ml/identify.ts) for the nearest known workload.
 * `tune` starts with it; `ssdtune identify` and POST /v1/identify stop there.
 */
import { ERR_FEATURES_TOO_SHORT, errorFromCode, isSsdtuneError } from '../errors.js';
import type { DescribedTrace } from '../ml/characterise.js';
import { identify, type Identification, type Method } from '../ml/identify.js';
import { loadSimilarityInfo, type SimilarityInfo } from '../ml/model-io.js';
import { describeOffThread, embedOffThread } from '../ml/worker.js';
import type { Service } from './context.js';
import { ConfDBWorkloadStore } from './workload-store.js';

export type { Identification } from '../ml/identify.js';
export type IdentifyMethod = Method;
export const IDENTIFY_METHODS: readonly IdentifyMethod[] = ['network', 'pca'];

let modelCache: { dir: string; info: SimilarityInfo } | undefined;
/**
 * The similarity model's metadata and fingerprint. The network itself is
 * loaded (TF.js, its backend and weights) and run by the ML worker only:
 * the first identification used to build it on the event loop.
 */
export function similarityInfo(dir: string): SimilarityInfo {
  if (!modelCache || modelCache.dir !== dir) modelCache = { dir, info: loadSimilarityInfo(dir) };
  return modelCache.info;
}

export interface DescribedForIdentification {
  model: SimilarityInfo;
  described: DescribedTrace;
  /** The trace's format, as sniffed or forced. */
  format: string;
  /** Requests the evaluators time, and what the others are (TraceStreams). */
  timed: number;
  passedOver: string;
  /** Window vectors per device stream: windows never mix devices, as in training (ml/data.ts). */
  streams: Float64Array[][];
  /** The similarity network's embedding of each window, per device stream. */
  embeddings: number[][][];
  identification: Identification;
}

/**
 * Describe a trace in the model's windows, per device stream, and identify
 * it. `purpose` ends the error when no device makes a full window ("tuning
 * needs at least one").
 */
export async function identifyTrace(
  svc: Service,
  tracePath: string,
  o: { format?: string; method?: IdentifyMethod; purpose: string; signal?: AbortSignal },
): Promise<DescribedForIdentification> {
  const model = similarityInfo(svc.settings.modelDir);
  const windowSize = model.meta.windowSize;
  // Reading, describing (per device, as training does: ml/data.ts) and the network's pass over every
  // window run on the ML worker: the server keeps answering meanwhile.
  const t = await describeOffThread(tracePath, {
    windowSize,
    quoteInput: svc.quoteInput,
    ...(o.format ? { format: o.format } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (t.described.windows.length === 0)
    throw ERR_FEATURES_TOO_SHORT(tracePath, `${t.requests} requests make no full window of ${windowSize} on any one device; ${o.purpose}`);
  const streams = t.streams.map((s) => s.windows);
  // One pass for every stream's windows, cut back into streams.
  const all = await embedOffThread(svc.settings.modelDir, streams.flat());
  const embeddings: number[][][] = [];
  let at = 0;
  for (const s of streams) {
    embeddings.push(all.slice(at, at + s.length));
    at += s.length;
  }
  const identification = await identify(model, streams, new ConfDBWorkloadStore(svc.db, windowSize, model.id), {
    method: o.method ?? 'network',
    embedded: embeddings,
  });
  return { model, described: t.described, format: t.format, timed: t.timed, passedOver: t.passedOver, streams, embeddings, identification };
}

/** What `ssdtune identify` reports. */
export interface IdentifyOutcome {
  trace: string;
  requests: number;
  identification: Identification;
  /** The stored workload it is, when known. */
  workload?: { id: string; name: string };
}

export async function identifyStored(svc: Service, traceId: string, method: IdentifyMethod = 'network'): Promise<IdentifyOutcome> {
  const trace = await svc.db.require('traces', traceId);
  let r: DescribedForIdentification;
  try {
    // The format it was registered with (sniffed, or named where the sniffer cannot tell).
    r = await identifyTrace(svc, trace.path, { method, purpose: 'identification needs at least one', ...(trace.format ? { format: trace.format } : {}) });
  } catch (e) {
    // A remote caller (Service.quoteInput) asked for a trace by id: its errors name it so, with the line or offset.
    if (svc.quoteInput || !isSsdtuneError(e) || !e.message.includes(trace.path)) throw e;
    throw errorFromCode(e.code, e.message.replaceAll(trace.path, `trace ${trace.id} (${trace.name})`), e.statusCode);
  }
  const id = r.identification;
  // JSON has no infinity: an empty ConfDB's distance is reported as null.
  const identification = { ...id, distance: Number.isFinite(id.distance) ? id.distance : (null as unknown as number) };
  return {
    trace: trace.name,
    requests: r.described.requests,
    identification,
    ...(id.kind === 'known' && id.nearest ? { workload: { id: id.nearest.id, name: id.nearest.name } } : {}),
  };
}
