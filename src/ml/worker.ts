/**
 * The CPU-heavy steps of identify and tune, on a worker thread: reading and
 * describing a trace in windows, embedding every window with the similarity
 * network (TF.js), the PCA + k-means characterisation. They take hundreds of
 * milliseconds of CPU on a large trace; on the event loop they held up every
 * request the server answered meanwhile (/v1/health up to 8.1 s during an ssd
 * job). On a worker, the loop only receives the window vectors and results.
 *
 * One worker per process, started at first use, at a lower priority than the
 * event loop; tasks run in order. It keeps
 * the process alive only while a task is pending, and a worker that dies
 * fails the pending tasks (the next task starts a new one). Coded errors
 * cross back with their code.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ERR_TRACE_ABORTED, errorFromCode, isSsdtuneError } from '../errors.js';
import { characterise, type DescribedTrace } from './characterise.js';
import type { ClusterLabel } from './cluster-label.js';
import { traceStreams, type TraceStreams } from './data.js';
import { embedWindows } from './identify.js';
import { loadSimilarityModel, type SimilarityModel } from './model-io.js';

type Task =
  | { op: 'describe'; path: string; format?: string; windowSize: number }
  | { op: 'embed'; modelDir: string; windows: Float64Array[] }
  | { op: 'label'; described: DescribedTrace };
type Reply = { id: number; result: unknown } | { id: number; error: { code?: string; message: string } };

const MARK = 'ssdtune-ml-worker';
const WORKER_NICE = 10;

// ---- the worker's side ---------------------------------------------------------
if (!isMainThread && (workerData as { mark?: string } | undefined)?.mark === MARK) {
  // Below the event loop's priority (Linux: nice is per thread, /proc/thread-self names this one), so a
  // busy machine still schedules the requests first. Elsewhere, or when refused, it runs as it is.
  try {
    os.setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), WORKER_NICE);
  } catch {
    // not Linux, or not permitted: the same priority as the event loop
  }
  const models = new Map<string, Promise<SimilarityModel>>();
  const run = async (t: Task): Promise<unknown> => {
    // Per device stream, the one windowing of training, tune and identify (the streams share the described windows' vectors).
    if (t.op === 'describe') return traceStreams(t.path, t.windowSize, t.format);
    if (t.op === 'embed') {
      if (!models.has(t.modelDir)) models.set(t.modelDir, loadSimilarityModel(t.modelDir));
      return embedWindows(await models.get(t.modelDir)!, t.windows);
    }
    return characterise(t.described).label;
  };
  parentPort!.on('message', (m: { id: number; task: Task }) => {
    run(m.task).then(
      (result) => parentPort!.postMessage({ id: m.id, result } satisfies Reply),
      (e: Error) => parentPort!.postMessage({ id: m.id, error: { ...(isSsdtuneError(e) ? { code: e.code } : {}), message: e.message } } satisfies Reply),
    );
  });
}

// ---- the caller's side ---------------------------------------------------------
let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function start(): Worker {
  const w = new Worker(new URL(import.meta.url), { workerData: { mark: MARK } });
  w.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) w.unref();
    if ('error' in r) p.reject(r.error.code ? errorFromCode(r.error.code, r.error.message) : new Error(r.error.message));
    else p.resolve(r.result);
  });
  const fail = (e: Error) => {
    if (worker === w) worker = undefined;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the ML worker thread exited (code ${code})`)));
  return w;
}

/** Run a task; `abort` cancels it by ending the worker (the tasks queued behind fail too; the next starts a new one). */
function submit<T>(task: Task, abort?: { signal: AbortSignal; error: () => Error }): Promise<T> {
  if (abort?.signal.aborted) return Promise.reject(abort.error());
  worker ??= start();
  const w = worker;
  const id = nextId++;
  w.ref();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      pending.delete(id);
      reject(abort!.error());
      if (worker === w) worker = undefined;
      void w.terminate();
    };
    abort?.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => abort?.signal.removeEventListener('abort', onAbort);
    pending.set(id, { resolve: (v) => (done(), resolve(v as T)), reject: (e) => (done(), reject(e)) });
    w.postMessage({ id, task });
  });
}

/** A trace read and described in windows of `windowSize` requests per device stream, off the event loop; `signal` cancels the reading. */
export function describeOffThread(path: string, o: { windowSize: number; format?: string; signal?: AbortSignal }): Promise<TraceStreams> {
  const signal = o.signal;
  const abort = signal && { signal, error: () => ERR_TRACE_ABORTED(path, signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted')) };
  return submit({ op: 'describe', path, windowSize: o.windowSize, ...(o.format ? { format: o.format } : {}) }, abort);
}

/** The similarity network's embedding of each window (the model in `modelDir`), computed off the event loop. */
export function embedOffThread(modelDir: string, windows: Float64Array[]): Promise<number[][]> {
  return submit({ op: 'embed', modelDir, windows });
}

/** The cluster label of a described trace (PCA + k-means, see characterise), computed off the event loop. */
export function clusterLabelOffThread(described: DescribedTrace): Promise<ClusterLabel> {
  return submit({ op: 'label', described });
}

/** Stop the worker (a process that ends on its own need not: an idle worker keeps nothing alive). */
export async function stopMlWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (w) await w.terminate();
}
