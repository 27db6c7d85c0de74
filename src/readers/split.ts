/**
 * Per-device views of a trace. Multi-tenant traces (SNIA Tencent CBS: one
 * volume per VolumeID, thousands interleaved) are analysed per volume.
 */
import { TraceBuilder, type TraceBatch, type TraceSource } from '../trace/model.js';
import { col } from '../util/at.js';

/** Row i of `b` (every column has the batch's length) onto `tb`. */
function copyRow(b: TraceBatch, i: number, tb: TraceBuilder): void {
  const [t, s, by, o, d, p] = [col(b.timeNs, i), col(b.sector, i), col(b.bytes, i), col(b.op, i), col(b.device, i), col(b.pid, i)];
  if (b.issueNs && b.completeNs) tb.push(t, s, by, o, d, p, col(b.issueNs, i), col(b.completeNs, i));
  else tb.push(t, s, by, o, d, p);
}

/**
 * Read `source` once and return one batch per device, in time order. Holds the
 * whole trace: for large files stream through `filterDevice` instead.
 */
export async function splitByDevice(source: AsyncIterable<TraceBatch>): Promise<Map<number, TraceBatch>> {
  const builders = new Map<number, TraceBuilder>();
  for await (const b of source) {
    const timing = b.issueNs !== undefined && b.completeNs !== undefined;
    for (const [i, d] of b.device.entries()) {
      let tb = builders.get(d);
      if (!tb) builders.set(d, (tb = new TraceBuilder({ timing, initialCapacity: 256 })));
      copyRow(b, i, tb);
    }
  }
  const out = new Map<number, TraceBatch>();
  for (const d of [...builders.keys()].sort((a, b) => a - b)) out.set(d, builders.get(d)!.take());
  return out;
}

/** A streaming view of one device of `source` (same meta, same time base). */
export function filterDevice(source: TraceSource, device: number): TraceSource {
  return {
    meta: source.meta,
    async *[Symbol.asyncIterator]() {
      for await (const b of source) {
        const timing = b.issueNs !== undefined && b.completeNs !== undefined;
        const tb = new TraceBuilder({ timing, initialCapacity: 1024 });
        for (let i = 0; i < b.length; i++) {
          if (b.device[i] !== device) continue;
          copyRow(b, i, tb);
        }
        if (tb.length) yield tb.take();
      }
    },
  };
}
