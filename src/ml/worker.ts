/**
 * The CPU-heavy steps of identify and tune, on a worker thread (a TaskThread,
 * src/util/task-thread.ts): reading and describing a trace in windows,
 * embedding every window with the similarity network (TF.js), the PCA +
 * k-means characterisation. They take hundreds of milliseconds of CPU on a
 * large trace; on the event loop they held up every request the server
 * answered meanwhile (/v1/health up to 8.1 s during an ssd job). On the
 * thread, the loop only receives the window vectors and results.
 */
import { ERR_TRACE_ABORTED } from '../errors.js';
import { isTaskThread, serveTasks, TaskThread } from '../util/task-thread.js';
import { characterise, type DescribedTrace } from './characterise.js';
import type { ClusterLabel } from './cluster-label.js';
import { traceStreams, type TraceStreams } from './data.js';
import { embedWindows } from './identify.js';
import { loadSimilarityModel, type SimilarityModel } from './model-io.js';

type Task =
  | { op: 'describe'; path: string; format?: string; windowSize: number; quoteInput: boolean }
  | { op: 'embed'; modelDir: string; windows: readonly ArrayLike<number>[] }
  | { op: 'label'; described: DescribedTrace };

const MARK = 'ssdtune-ml-worker';

if (isTaskThread(MARK)) {
  const models = new Map<string, Promise<SimilarityModel>>();
  serveTasks<Task>(async (t) => {
    // Per device stream, the one windowing of training, tune and identify (the streams share the described windows' vectors).
    if (t.op === 'describe') return traceStreams(t.path, t.windowSize, t.format, undefined, { quoteInput: t.quoteInput });
    if (t.op === 'embed') {
      if (!models.has(t.modelDir)) models.set(t.modelDir, loadSimilarityModel(t.modelDir));
      return embedWindows(await models.get(t.modelDir)!, t.windows);
    }
    return characterise(t.described).label;
  });
}

const thread = new TaskThread<Task>(new URL(import.meta.url), MARK, 'the ML worker thread');

/**
 * A trace read and described in windows of `windowSize` requests per device stream, off the event loop; `signal`
 * cancels the reading; `quoteInput` false keeps the trace's bytes out of errors (readers/types.ts: InputOptions).
 */
export function describeOffThread(path: string, o: { windowSize: number; format?: string; signal?: AbortSignal; quoteInput?: boolean }): Promise<TraceStreams> {
  const signal = o.signal;
  const abort = signal && {
    signal,
    error: () => ERR_TRACE_ABORTED(path, signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted')),
  };
  return thread.run({ op: 'describe', path, windowSize: o.windowSize, quoteInput: o.quoteInput ?? true, ...(o.format ? { format: o.format } : {}) }, abort);
}

/** The similarity network's embedding of each window (the model in `modelDir`), computed off the event loop. */
export function embedOffThread(modelDir: string, windows: readonly ArrayLike<number>[]): Promise<number[][]> {
  return thread.run({ op: 'embed', modelDir, windows });
}

/** The cluster label of a described trace (PCA + k-means, see characterise), computed off the event loop. */
export function clusterLabelOffThread(described: DescribedTrace): Promise<ClusterLabel> {
  return thread.run({ op: 'label', described });
}

/** Stop the worker (a process that ends on its own need not: an idle worker keeps nothing alive). */
export function stopMlWorker(): Promise<void> {
  return thread.stop();
}
