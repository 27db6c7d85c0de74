/**
 * Replay intensity for the simulated evaluators (ssdsim, mqsim): the same
 * trace as recorded, time-scaled (a busy hour: arrival times divided by a
 * speedup), or closed loop at a queue depth. Both simulators see the same
 * arrival times: the scaled source below feeds ssdsim, and the MQSim trace
 * export writes the same numbers.
 */
import type { Replay } from '../evaluators/types.js';
import type { TraceBatch, TraceSource } from '../trace/model.js';

export const RECORDED: Replay = { mode: 'recorded' };

/** "recorded", "scaled x10", "closed QD 32": how `tune` prints an intensity. */
export function describeReplay(r: Replay): string {
  switch (r.mode) {
    case 'recorded':
      return 'recorded';
    case 'scaled':
      return `scaled x${r.speedup}`;
    case 'closed':
      return `closed QD ${r.queueDepth}`;
  }
}

/** The speedup arrival times are divided by (1 unless scaled). */
export function speedupOf(r: Replay): number {
  return r.mode === 'scaled' ? r.speedup : 1;
}

/** Figures that record the intensity beside an evaluation's metrics. */
export function replayExtra(r: Replay): Record<string, number> {
  return { replaySpeedup: speedupOf(r), replayQueueDepth: r.mode === 'closed' ? r.queueDepth : 0 };
}

/**
 * `source` with every arrival time divided by `speedup`, measured from its
 * first arrival (so a replay starts where the trace starts, only denser).
 */
export function scaledSource(source: TraceSource, speedup: number): TraceSource {
  if (!(speedup > 0) || !Number.isFinite(speedup)) throw new RangeError(`speedup must be a positive finite number, got ${speedup}`);
  if (speedup === 1) return source;
  return {
    meta: source.meta,
    async *[Symbol.asyncIterator]() {
      let t0: number | undefined;
      for await (const b of source) {
        if (b.length === 0) continue;
        t0 ??= b.timeNs[0]!;
        const timeNs = new Float64Array(b.length);
        for (let i = 0; i < b.length; i++) timeNs[i] = t0 + (b.timeNs[i]! - t0) / speedup;
        yield { ...b, timeNs } satisfies TraceBatch;
      }
    },
  };
}
