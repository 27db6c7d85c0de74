/**
 * Worker-thread side of StatsPipeline (pipeline.ts): owns the accumulators,
 * so statistics run on the second core while the main thread parses.
 */
import { parentPort } from 'node:worker_threads';
import { StatsAccumulator, type TraceStats } from './stats.js';
import type { PipelineReply, PipelineRequest } from './pipeline.js';
import { at } from '../util/at.js';

const port = parentPort!;
let perTrace: StatsAccumulator[] = [];
let combined: StatsAccumulator | null = null;
const names: Array<Map<number, string>> = [];

port.on('message', (m: PipelineRequest) => {
  try {
    if (m.kind === 'start') {
      perTrace = [];
      names.length = 0;
      combined = m.traces > 1 ? new StatsAccumulator({ originNs: 0 }) : null;
      for (let i = 0; i < m.traces; i++) {
        const acc = new StatsAccumulator();
        const processes = new Map<number, string>();
        names.push(processes);
        acc.addStream(processes);
        perTrace.push(acc);
        combined?.addStream(processes);
      }
    } else if (m.kind === 'batch') {
      at(perTrace, m.trace, 'trace').add(m.batch, 0);
      combined?.add(m.batch, m.trace, m.offsetNs);
      port.postMessage({ kind: 'ack' } satisfies PipelineReply);
    } else {
      m.processes.forEach((entries, i) => entries.forEach(([pid, name]) => at(names, i, 'trace').set(pid, name)));
      const stats: TraceStats[] = perTrace.map((a) => a.finish());
      port.postMessage({ kind: 'done', stats, combined: combined?.finish() ?? null } satisfies PipelineReply);
    }
  } catch (e) {
    port.postMessage({ kind: 'error', message: (e as Error).stack ?? String(e) } satisfies PipelineReply);
  }
});
