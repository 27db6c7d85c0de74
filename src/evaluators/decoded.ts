/**
 * A workload's trace decoded once per evaluator. A search evaluates dozens of
 * configurations on the same workload; reading and parsing its file again
 * for each costs more than many a simulation (the readahead model on the web
 * server's load: 400-700 CPU-ms of decoding per evaluation against 5-200 of
 * model, BENCHMARKS.md "What a host-space evaluation costs").
 */
import { sourceFromBatches, type TraceBatch, type TraceSource } from '../trace/model.js';
import type { WorkloadRef } from './types.js';

/** Decoded traces an evaluator keeps between evaluations of the same workload. */
export const DECODED_CACHE_BYTES = 64 * 1024 * 1024;

function batchBytes(b: TraceBatch): number {
  return (
    b.timeNs.byteLength +
    b.sector.byteLength +
    b.bytes.byteLength +
    b.op.byteLength +
    b.device.byteLength +
    b.pid.byteLength +
    (b.issueNs?.byteLength ?? 0) +
    (b.completeNs?.byteLength ?? 0)
  );
}

/**
 * An `open` for one evaluator: the first evaluation of a workload streams it
 * and keeps its batches when they fit in DECODED_CACHE_BYTES; later
 * evaluations replay them from memory. A larger trace is streamed (decoded
 * again) every time, so memory stays bounded. A stream not read to its end
 * (cancelled, or a consumer that stops early) keeps nothing. Keyed by the
 * WorkloadRef object: a prefix (`prefixWorkload`) is a workload of its own.
 */
export function decodedOnce(): (w: WorkloadRef) => Promise<TraceSource> {
  const kept = new WeakMap<WorkloadRef, { meta: TraceSource['meta']; batches: TraceBatch[] } | null>();
  return async (w) => {
    const hit = kept.get(w);
    if (hit) return sourceFromBatches(hit.meta, hit.batches);
    const source = await w.open();
    if (hit === null) return source;
    return {
      meta: source.meta,
      async *[Symbol.asyncIterator]() {
        const batches: TraceBatch[] = [];
        let bytes = 0;
        for await (const b of source) {
          bytes += batchBytes(b);
          if (bytes <= DECODED_CACHE_BYTES) batches.push(b);
          yield b;
        }
        kept.set(w, bytes <= DECODED_CACHE_BYTES ? { meta: source.meta, batches } : null);
      },
    };
  };
}
