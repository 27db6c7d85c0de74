/**
 * A worker thread that runs CPU-heavy tasks for the event loop, one at a
 * time, so a server keeps answering while they run (/v1/health waited up to
 * 8.1 s on trace reading and model fits done on the loop). The ML worker
 * (src/ml/worker.ts) and the search's planner thread (src/search/plan-thread.ts)
 * are two of them: each module is both the thread's code and its callers'.
 *
 * The thread starts at first use, at a lower priority than the event loop,
 * and keeps the process alive only while a task is pending. Tasks are handed
 * over one at a time, so cancelling one ends only that one: a queued task is
 * dropped, the running one ends the thread and the tasks behind it go on in
 * a new one. A thread that dies fails the running task only. Coded errors
 * cross back with their code.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { errorFromCode, isSsdtuneError } from '../errors.js';

type Reply = { id: number; result: unknown } | { id: number; error: { code?: string; message: string } };

const THREAD_NICE = 10;

/** True in a thread started by `new TaskThread(url, mark)`: the module at `url` then serves its tasks. */
export function isTaskThread(mark: string): boolean {
  return !isMainThread && (workerData as { mark?: string } | undefined)?.mark === mark;
}

/**
 * A task's result whose buffers move to the caller instead of being copied
 * (postMessage's transfer list): after the reply they are detached here, so
 * the thread must never touch them again.
 */
export class Transfer<R> {
  constructor(
    readonly value: R,
    readonly buffers: ArrayBuffer[],
  ) {}
}

/** The thread's side: answers each task with `run`'s result (a Transfer moves its buffers) or error. Call it only where isTaskThread is true. */
export function serveTasks<T>(run: (task: T) => unknown): void {
  // Below the event loop's priority (Linux: nice is per thread, /proc/thread-self names this one), so a
  // busy machine still schedules the requests first. Elsewhere, or when refused, it runs as it is.
  try {
    os.setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), THREAD_NICE);
  } catch {
    // not Linux, or not permitted: the same priority as the event loop
  }
  parentPort!.on('message', (m: { id: number; task: T }) => {
    Promise.resolve()
      .then(() => run(m.task))
      .then(
        (result) =>
          result instanceof Transfer
            ? parentPort!.postMessage({ id: m.id, result: result.value } satisfies Reply, result.buffers)
            : parentPort!.postMessage({ id: m.id, result } satisfies Reply),
        (e: Error) => parentPort!.postMessage({ id: m.id, error: { ...(isSsdtuneError(e) ? { code: e.code } : {}), message: e.message } } satisfies Reply),
      );
  });
}

/** How a caller cancels a task: the signal, and the error the task rejects with then. */
export interface TaskAbort {
  signal: AbortSignal;
  error: () => Error;
}

interface Queued<T> {
  id: number;
  task: T;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** The callers' side of one task thread. */
export class TaskThread<T> {
  private worker: Worker | undefined;
  private running: Queued<T> | undefined;
  private readonly queue: Queued<T>[] = [];
  private nextId = 0;
  private idle: NodeJS.Timeout | undefined;

  /**
   * `url`: the module that calls serveTasks when isTaskThread(mark); `what` names the thread in errors.
   * `idleMs`: end the thread after this long without a task, returning its heap (the next task starts a
   * new one); by default it stays until the process ends.
   */
  constructor(
    private readonly url: URL,
    private readonly mark: string,
    private readonly what: string,
    private readonly idleMs?: number,
  ) {}

  /** Run a task; `abort` cancels it (see the module comment). */
  run<R>(task: T, abort?: TaskAbort): Promise<R> {
    if (abort?.signal.aborted) return Promise.reject(abort.error());
    return new Promise<R>((resolve, reject) => {
      const q: Queued<T> = {
        id: this.nextId++,
        task,
        resolve: (v) => (done(), resolve(v as R)),
        reject: (e) => (done(), reject(e)),
      };
      const onAbort = () => {
        const i = this.queue.indexOf(q);
        if (i >= 0) this.queue.splice(i, 1);
        else if (this.running === q) this.restart();
        q.reject(abort!.error());
      };
      const done = () => abort?.signal.removeEventListener('abort', onAbort);
      abort?.signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(q);
      this.pump();
    });
  }

  /** Stop the thread, failing what is pending (a process that ends on its own need not: an idle thread keeps nothing alive). */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    const left = [...(this.running ? [this.running] : []), ...this.queue.splice(0)];
    this.running = undefined;
    for (const q of left) q.reject(new Error(`${this.what} was stopped`));
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.running) return;
    clearTimeout(this.idle);
    const next = this.queue.shift();
    if (!next) {
      this.worker?.unref();
      if (this.worker && this.idleMs !== undefined) {
        this.idle = setTimeout(() => void this.stop(), this.idleMs);
        this.idle.unref();
      }
      return;
    }
    this.worker ??= this.start();
    this.worker.ref();
    this.running = next;
    this.worker.postMessage({ id: next.id, task: next.task });
  }

  /** Ends the thread running a cancelled task; the tasks behind it go on in a new one. */
  private restart(): void {
    const w = this.worker;
    this.worker = undefined;
    this.running = undefined;
    if (w) void w.terminate();
    this.pump();
  }

  private start(): Worker {
    const w = new Worker(this.url, { workerData: { mark: this.mark } });
    w.on('message', (r: Reply) => {
      const q = this.running;
      if (w !== this.worker || !q || q.id !== r.id) return;
      this.running = undefined;
      if ('error' in r) q.reject(r.error.code ? errorFromCode(r.error.code, r.error.message) : new Error(r.error.message));
      else q.resolve(r.result);
      this.pump();
    });
    const fail = (e: Error) => {
      if (w !== this.worker) return;
      this.worker = undefined;
      const q = this.running;
      this.running = undefined;
      q?.reject(e);
      this.pump();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`${this.what} exited (code ${code})`)));
    return w;
  }
}
