/**
 * A trace read on a worker thread of its own (a TaskThread,
 * src/util/task-thread.ts): the evaluator's reading of the workload's trace,
 * once per evaluation (once per search when the decoded trace fits the
 * evaluator's cache), parsed 65,536 requests at a time, 10-35 ms of CPU per
 * batch on a text trace, which held up every request a server answered
 * meanwhile. The thread parses and hands over one batch per request (pull:
 * memory stays bounded as with openTrace); the event loop only copies it.
 *
 * One thread per source, so cancelling one reading (its signal ends the
 * thread) never touches another's. The thread ends when the source is read to
 * its end, fails or is left (`return` of the iterator); a source opened and
 * never iterated ends its thread after IDLE_MS.
 */
import { ERR_TRACE_ABORTED } from '../errors.js';
import type { TraceBatch, TraceMeta, TraceSource } from '../trace/model.js';
import { isTaskThread, serveTasks, TaskThread } from '../util/task-thread.js';
import { openTrace, type OpenOptions } from './registry.js';

/** What crosses to the thread: functions (the signal, a progress callback) cannot. */
type Options = Omit<OpenOptions, 'signal' | 'onProgress'>;
type Task = { op: 'open'; path: string; opts: Options } | { op: 'next' };

const MARK = 'ssdtune-trace-reader';
const IDLE_MS = 60_000;

if (isTaskThread(MARK)) {
  let source: TraceSource | undefined;
  let it: AsyncIterator<TraceBatch> | undefined;
  let idle: NodeJS.Timeout | undefined;
  const restartIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => process.exit(0), IDLE_MS);
    idle.unref();
  };
  serveTasks<Task>(async (t) => {
    restartIdle();
    if (t.op === 'open') {
      source = await openTrace(t.path, t.opts);
      it = source[Symbol.asyncIterator]();
      return source.meta;
    }
    if (!it) throw new Error('the reader thread ended while the trace was left unread; open it again');
    const r = await it.next();
    return { ...(r.done ? {} : { batch: r.value }), meta: source!.meta };
  });
}

/** openTrace(path, opts), read on a worker thread; `opts.signal` cancels it (SSDTUNE_TRACE_ABORTED). */
export async function openTraceOffThread(path: string, opts: Omit<OpenOptions, 'onProgress'> = {}): Promise<TraceSource> {
  const { signal, ...rest } = opts;
  const thread = new TaskThread<Task>(new URL(import.meta.url), MARK, `the reader thread of ${path}`);
  const abort = signal && {
    signal,
    error: () => ERR_TRACE_ABORTED(path, signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted')),
  };
  let meta: TraceMeta;
  try {
    meta = await thread.run<TraceMeta>({ op: 'open', path, opts: rest }, abort);
  } catch (e) {
    await thread.stop();
    throw e;
  }
  return {
    meta,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const r = await thread.run<{ batch?: TraceBatch; meta: TraceMeta }>({ op: 'next' }, abort);
          // The reader's counts and warnings grow as it reads: the same object the caller holds.
          Object.assign(meta, r.meta);
          if (!r.batch) return;
          yield r.batch;
        }
      } finally {
        await thread.stop();
      }
    },
  };
}
