/**
 * One cleanup path for what a process makes outside itself and must not
 * outlive it (as libbpf-tools' tools have one): a capture's tracefs
 * instances, blktrace setups and lock files; the scratch loop and zram
 * devices, FUSE daemons and mounts, database daemons and temporary
 * directories of the tests and benchmarks; a sysctl a benchmark switched.
 * Each registers a synchronous undo here. An undo runs once, newest first
 * (a loop device over a FUSE file goes before the FUSE daemon): when its
 * owner calls the function returned, or however the process ends:
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

const undos = new Map<number, () => void>();
let nextId = 1;
let installed = false;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function runAllUndos(): void {
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

/**
 * A child process (a daemon a test or benchmark started) killed with SIGKILL should this process end before
 * it stops the child itself; released when the child exits.
 */
export function killAtExit(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const kill = registerUndo(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.once('exit', () => kill());
}
