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

interface Decoded {
  meta: TraceSource['meta'];
  batches: TraceBatch[];
  bytes: number;
}

/**
 * Decoded traces of keyed workloads (WorkloadRef.key), shared by every evaluator of the process, least recently
 * used first out, DECODED_CACHE_BYTES in all. A key whose trace is larger is remembered as such (so its batches are
 * not collected again), up to MAX_TOO_LARGE keys.
 */
const shared = new Map<string, Decoded | null>();
let sharedBytes = 0;
const MAX_TOO_LARGE = 1024;

/** Streams opened from a trace because no decoded copy was kept (tests and benches count them). */
export const decodedStats = { streams: 0 };

function sharedGet(key: string): Decoded | null | undefined {
  const hit = shared.get(key);
  if (hit !== undefined) {
    shared.delete(key); // to the young end
    shared.set(key, hit);
  }
  return hit;
}

function sharedSet(key: string, d: Decoded | null): void {
  const old = shared.get(key);
  if (old) sharedBytes -= old.bytes;
  shared.delete(key);
  shared.set(key, d);
  if (d) sharedBytes += d.bytes;
  let tooLarge = 0;
  for (const v of shared.values()) if (v === null) tooLarge++;
  for (const [k, v] of shared) {
    if (sharedBytes <= DECODED_CACHE_BYTES && tooLarge <= MAX_TOO_LARGE) break;
    if (k === key) continue;
    if (v) {
      if (sharedBytes <= DECODED_CACHE_BYTES) continue;
      sharedBytes -= v.bytes;
    } else {
      if (tooLarge <= MAX_TOO_LARGE) continue;
      tooLarge--;
    }
    shared.delete(k);
  }
}

/**
 * An `open` for one evaluator: the first evaluation of a workload streams it
 * and keeps its batches when they fit in DECODED_CACHE_BYTES; later
 * evaluations replay them from memory. A larger trace is streamed (decoded
 * again) every time, so memory stays bounded. A stream not read to its end
 * (cancelled, or a consumer that stops early) keeps nothing. A workload with a
 * key is kept in the process's shared store (any evaluator reuses it); one
 * without is kept by this evaluator, by the WorkloadRef object: a prefix
 * (`prefixWorkload`) is a workload of its own.
 */
export function decodedOnce(): (w: WorkloadRef) => Promise<TraceSource> {
  const kept = new WeakMap<WorkloadRef, Decoded | null>();
  const get = (w: WorkloadRef) => (w.key === undefined ? kept.get(w) : sharedGet(w.key));
  const set = (w: WorkloadRef, d: Decoded | null) => (w.key === undefined ? kept.set(w, d) : sharedSet(w.key, d));
  return async (w) => {
    const hit = get(w);
    if (hit) return sourceFromBatches(hit.meta, hit.batches);
    decodedStats.streams++;
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
        set(w, bytes <= DECODED_CACHE_BYTES ? { meta: source.meta, batches, bytes } : null);
      },
    };
  };
}
