/**
 * One cleanup path for what a process makes outside itself and must not
 * outlive it (as libbpf-tools' tools have one): a capture's tracefs
 * instances, blktrace setups and lock files; the scratch loop and zram
 * devices, FUSE daemons and mounts, database daemons and temporary
 * directories of the tests and benchmarks; a sysctl a benchmark switched.
 * Each registers a synchronous undo here. An undo runs once, newest first
 * (a loop device over a FUSE file goes before the FUSE daemon): when its
 * owner calls the function returned, or however the process ends. At the
 * end the child processes (killAtExit) go first, all together: each is
 * signalled, then they are waited for against one deadline (the longest
 * grace), then the rest are killed, so that exit takes the longest grace,
 * not the sum; the other undos run after that, when what a child held (a
 * loop device, its directory) is free. The end comes:
 * - on exit: the event loop ran dry, process.exit, or an uncaught exception
 *   or unhandled rejection ended the process (node emits 'exit' then too),
 *   thrown from a timer or a callback, where no finally block runs;
 * - on SIGINT, SIGTERM or SIGHUP when nobody else handles the signal (then
 *   the signal is re-raised, so the exit status stays what the sender
 *   expects; a handler of its own, as `ssdtune collect` has, ends the
 *   process its way and the exit hook runs).
 * BPF links need no entry: the kernel detaches them when the process's
 * descriptors close.
 */
import type { ChildProcess } from 'node:child_process';
import { running } from './running.js';

const undos = new Map<number, () => void>();
let nextId = 1;
let installed = false;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function runAllUndos(): void {
  try {
    stopChildren();
  } catch (e) {
    console.error(`cleanup at exit: ${(e as Error).message}`);
  }
  for (const [id, undo] of [...undos].reverse()) {
    undos.delete(id);
    try {
      undo();
    } catch (e) {
      // Keep undoing the rest; say what is left behind.
      console.error(`cleanup at exit: ${(e as Error).message}`);
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  // Someone else (e.g. `ssdtune collect`) handles it gracefully: let them.
  if (process.listenerCount(sig) > 1) return;
  runAllUndos();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAllUndos);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Register an undo; the returned function runs it now (once) and unregisters it. */
export function registerUndo(undo: () => void): () => void {
  install();
  const id = nextId++;
  undos.set(id, undo);
  return () => {
    if (!undos.delete(id)) return;
    undo();
  };
}

export interface KillAtExitOptions {
  /**
   * Ask with this signal first and give the child `graceMs` to go, so that its
   * own cleanup path runs (a capture in the child removes its tracefs
   * instance); SIGKILL after that. Default: SIGKILL at once.
   */
  signal?: NodeJS.Signals;
  graceMs?: number;
  /**
   * The child leads its own process group (spawned with `detached: true`):
   * signal the whole group, so that what a wrapper (/usr/bin/time, a shell
   * script, make) started goes with it.
   */
  group?: boolean;
}

/**
 * Send `sig` to process `pid`, or with `group` to the process group it leads:
 * the one way to signal a child (the exit path here, a timeout or an abort of
 * the caller). Returns whether the signal went; false when there is nothing
 * to signal: no pid (the spawn failed), ESRCH (gone, or a group with no member
 * left), or EPERM (the pid now names a process that is not ours: ours is gone).
 */
export function signalProcess(pid: number | undefined, sig: NodeJS.Signals, group = false): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(group ? -pid : pid, sig);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw e;
  }
}

/** Block this thread for `ms` (an exit hook cannot await). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Wait until `until` (epoch ms) for every pid in `pids` to go (a zombie is gone: no exit hook reaps its children). */
function waitAllGone(pids: number[], until: number): number[] {
  let left = pids.filter(running);
  while (left.length && Date.now() < until) {
    pause(10);
    left = left.filter(running);
  }
  return left;
}

interface ChildEntry {
  pid: number;
  child: ChildProcess;
  opts: KillAtExitOptions;
}

/** The children killAtExit registered and that have not exited. */
const children = new Set<ChildEntry>();

const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/**
 * At the end, before any other undo: every registered child together. Each is
 * sent its signal, then all are waited for against one deadline (the longest
 * grace); then what is left, the children without a signal of their own and
 * every group (its members may outlive the leader) are sent SIGKILL and waited
 * for up to 2 s, so that what is undone after them (a loop device a child held
 * open, its directory) is free.
 */
function stopChildren(): void {
  const live = [...children].filter((e) => !exited(e.child));
  children.clear();
  const asked = live.filter((e) => e.opts.signal && e.opts.signal !== 'SIGKILL');
  for (const e of asked) signalProcess(e.pid, e.opts.signal!, e.opts.group);
  const grace = Math.max(0, ...asked.map((e) => e.opts.graceMs ?? 3000));
  const stayed = new Set(
    waitAllGone(
      asked.map((e) => e.pid),
      Date.now() + grace,
    ),
  );
  const toKill = live.filter((e) => !asked.includes(e) || stayed.has(e.pid) || e.opts.group);
  for (const e of toKill) signalProcess(e.pid, 'SIGKILL', e.opts.group);
  waitAllGone(
    toKill.map((e) => e.pid),
    Date.now() + 2000,
  );
}

/**
 * A child process (a daemon, server, worker or tool a test, benchmark or
 * evaluator started) stopped should this process end before it stops the
 * child itself; released when the child exits. Register it on the line that
 * spawns it: a `finally` does not run on a signal or an exception thrown from
 * a timer. At the end the children go together, before the other undos
 * (stopChildren).
 */
export function killAtExit(child: ChildProcess, opts: KillAtExitOptions = {}): void {
  const pid = child.pid;
  if (pid === undefined || exited(child)) return;
  install();
  const entry = { pid, child, opts };
  children.add(entry);
  child.once('exit', () => children.delete(entry)); // gone by itself: nothing left to stop
}
