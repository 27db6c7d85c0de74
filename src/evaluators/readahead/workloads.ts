/**
 * Synthetic read workloads with a known access pattern (sequential, strided,
 * random), as traces: used to validate the readahead model against the live
 * evaluator and to benchmark host configurations. Deterministic (seeded).
 */
import { Op, emptyMeta, sourceFromBatches, TraceBuilder, type TraceBatch } from '../../trace/model.js';
import type { WorkloadRef } from '../types.js';
import { Rng } from '../../space/rng.js';

export type Pattern = 'sequential' | 'strided' | 'random' | 'reverse';

export interface PatternSpec {
  pattern: Pattern;
  /** Requests. */
  count: number;
  /** Bytes per request. */
  requestBytes: number;
  /** Strided: distance between request starts (bytes). */
  strideBytes?: number;
  /** Region the requests fall in (bytes). */
  spanBytes: number;
  /** Mean inter-arrival time (ns) written into the trace (closed-loop replay ignores it). */
  gapNs?: number;
  seed?: number;
}

export function patternTrace(spec: PatternSpec): TraceBatch {
  const b = new TraceBuilder({ initialCapacity: spec.count });
  const rng = new Rng(spec.seed ?? 1);
  const slots = Math.max(1, Math.floor(spec.spanBytes / spec.requestBytes));
  const stride = spec.strideBytes ?? spec.requestBytes;
  const gap = spec.gapNs ?? 10_000;
  for (let i = 0; i < spec.count; i++) {
    let off: number;
    switch (spec.pattern) {
      case 'sequential':
        off = (i * spec.requestBytes) % (slots * spec.requestBytes);
        break;
      case 'reverse':
        off = (slots - 1 - (i % slots)) * spec.requestBytes;
        break;
      case 'strided':
        off = (i * stride) % Math.max(stride, spec.spanBytes - spec.requestBytes);
        break;
      case 'random':
        off = rng.int(slots) * spec.requestBytes;
        break;
    }
    b.push(i * gap, off / 512, spec.requestBytes, Op.READ);
  }
  return b.take();
}

export function patternWorkload(name: string, spec: PatternSpec): WorkloadRef {
  const batch = patternTrace(spec);
  return { name, open: async () => sourceFromBatches(emptyMeta(`synthetic:${name}`, 'synthetic'), [batch]) };
}
