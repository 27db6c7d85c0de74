/**
 * Worker-thread side of StatsPipeline (pipeline.ts): owns the accumulators,
 * so statistics run on the second core while the main thread parses.
 */
import { parentPort } from 'node:worker_threads';
import { StatsAccumulator, type TraceStats } from './stats.js';
import type { PipelineReply, PipelineRequest } from './pipeline.js';

const port = parentPort!;
let perTrace: StatsAccumulator[] = [];
let combined: StatsAccumulator | null = null;
const names: Array<Map<number, string>> = [];

port.on('message', (m: PipelineRequest) => {
  try {
    if (m.kind === 'start') {
      perTrace = [];
      combined = m.traces > 1 ? new StatsAccumulator({ originNs: 0 }) : null;
      for (let i = 0; i < m.traces; i++) {
        names.push(new Map());
        const acc = new StatsAccumulator();
        acc.addStream(names[i]);
        perTrace.push(acc);
        combined?.addStream(names[i]);
      }
    } else if (m.kind === 'batch') {
      perTrace[m.trace].add(m.batch, 0);
      combined?.add(m.batch, m.trace, m.offsetNs);
      port.postMessage({ kind: 'ack' } satisfies PipelineReply);
    } else {
      m.processes.forEach((entries, i) => entries.forEach(([pid, name]) => names[i].set(pid, name)));
      const stats: TraceStats[] = perTrace.map((a) => a.finish());
      port.postMessage({ kind: 'done', stats, combined: combined?.finish() ?? null } satisfies PipelineReply);
    }
  } catch (e) {
    port.postMessage({ kind: 'error', message: (e as Error).stack ?? String(e) } satisfies PipelineReply);
  }
});
