/**
 * Synthetic block workloads (like MQSim's synthetic flows): uniform random or
 * sequential addresses, fixed request size, a read ratio, fixed or zero
 * inter-arrival time. Generated batch by batch, so a trace of any length
 * costs one batch of memory. Deterministic for a given seed.
 */
import { emptyMeta, Op, TraceBuilder, type TraceSource } from '../trace/model.js';

export interface SyntheticSpec {
  requests: number;
  /** Fraction of reads, 0..1. */
  readRatio: number;
  /** Request size in bytes (a multiple of 512). */
  bytes: number;
  pattern: 'random' | 'sequential';
  /** Addresses lie in [0, spanSectors); requests are aligned to their size. */
  spanSectors: number;
  /** Gap between arrivals (0: all at time 0, for closed-loop replays). */
  interArrivalNs?: number;
  seed?: number;
  batchSize?: number;
}

/** 32-bit xorshift: enough for address and op draws, identical in every run. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export function syntheticTrace(spec: SyntheticSpec): TraceSource {
  const slots = Math.floor(spec.spanSectors / (spec.bytes / 512));
  if (slots < 1) throw new RangeError(`syntheticTrace: span ${spec.spanSectors} sectors holds no ${spec.bytes}-byte request`);
  const batchSize = spec.batchSize ?? 65536;
  const meta = emptyMeta(`synthetic:${spec.pattern}:${spec.bytes}B:r${spec.readRatio}:n${spec.requests}`, 'synthetic');
  return {
    meta,
    async *[Symbol.asyncIterator]() {
      const rnd = xorshift(spec.seed ?? 1);
      const b = new TraceBuilder({ initialCapacity: Math.min(batchSize, spec.requests) });
      const gap = spec.interArrivalNs ?? 0;
      for (let i = 0; i < spec.requests; i++) {
        const slot = spec.pattern === 'random' ? Math.floor(rnd() * slots) : i % slots;
        const op = rnd() < spec.readRatio ? Op.READ : Op.WRITE;
        b.push(i * gap, slot * (spec.bytes / 512), spec.bytes, op);
        if (b.length === batchSize) yield b.take();
      }
      if (b.length > 0) yield b.take();
    },
  };
}
