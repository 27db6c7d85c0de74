/**
 * A trace read on a worker thread of its own (a TaskThread,
 * src/util/task-thread.ts): the evaluator's reading of the workload's trace,
 * once per evaluation (once per search when the decoded trace fits the
 * evaluator's cache), parsed 65,536 requests at a time, 10-35 ms of CPU per
 * batch on a text trace, which held up every request a server answered
 * meanwhile. The thread parses and hands over one batch per request (pull:
 * memory stays bounded as with openTrace). The batch's buffers move to the
 * event loop (a transfer, not a copy: copying them in cost the loop 0.4 ms a
 * batch of 65,536 requests, as much as parsing some formats).
 *
 * One thread per source, so cancelling one reading (its signal ends the
 * thread) never touches another's. The thread ends when the source is read to
 * its end, fails or is left (`return` of the iterator); a source opened and
 * never iterated ends its thread after IDLE_MS.
 */
import { ERR_TRACE_ABORTED } from '../errors.js';
import type { TraceBatch, TraceMeta, TraceSource } from '../trace/model.js';
import { isTaskThread, serveTasks, TaskThread, Transfer } from '../util/task-thread.js';
import { openTrace, type OpenOptions } from './registry.js';

/** What crosses to the thread: functions (the signal, a progress callback) cannot. */
type Options = Omit<OpenOptions, 'signal' | 'onProgress'>;
type Task = { op: 'open'; path: string; opts: Options } | { op: 'next' };

const MARK = 'ssdtune-trace-reader';
const IDLE_MS = 60_000;

const COLUMNS = ['timeNs', 'sector', 'bytes', 'op', 'device', 'pid', 'issueNs', 'completeNs'] as const;
type Column = Float64Array | Uint32Array | Uint16Array;

/** Buffers moved to the event loop: a reader handing out a column over one again would hand out nothing. */
const moved = new WeakSet<ArrayBufferLike>();

/**
 * The batch with buffers that can move: a buffer that holds this batch's
 * columns and nothing else (the builder's own arrays, the native reader's one
 * allocation of a full batch) moves as it is; a column that shares its buffer
 * with anything else (a piece of a larger batch, a partly filled allocation)
 * is copied here first, on the thread, so that nothing the reader still
 * holds is detached.
 */
function movable(b: TraceBatch): Transfer<TraceBatch> {
  const present = COLUMNS.filter((k) => b[k] !== undefined);
  const bytesOf = new Map<ArrayBufferLike, number>();
  for (const k of present) {
    const a = b[k]!;
    if (moved.has(a.buffer)) throw new Error(`the reader handed out its ${k} column over a buffer already moved to the event loop`);
    bytesOf.set(a.buffer, (bytesOf.get(a.buffer) ?? 0) + a.byteLength);
  }
  const out: Partial<Record<(typeof COLUMNS)[number], Column>> = {};
  const buffers = new Set<ArrayBuffer>();
  for (const k of present) {
    const a = b[k]! as Column;
    const whole = a.buffer instanceof ArrayBuffer && bytesOf.get(a.buffer) === a.buffer.byteLength;
    const c = whole ? a : a.slice();
    out[k] = c;
    buffers.add(c.buffer as ArrayBuffer);
  }
  for (const buf of buffers) moved.add(buf);
  return new Transfer({ ...b, ...out } as TraceBatch, [...buffers]);
}

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
    if (r.done) return { meta: source!.meta };
    const m = movable(r.value);
    return new Transfer({ batch: m.value, meta: source!.meta }, m.buffers);
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
