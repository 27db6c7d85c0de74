/**
 * Kernel state a capture creates (tracefs instances, blktrace setups, lock
 * files) must not outlive the process. Each capture registers a synchronous
 * undo here; it runs on stop(), on process exit, and on SIGINT/SIGTERM/SIGHUP
 * when nobody else handles the signal (then the signal is re-raised so the
 * exit status stays what the sender expects). BPF links need no entry: the
 * kernel detaches them when the process's descriptors close.
 */
const undos = new Map<number, () => void>();
let nextId = 1;
let installed = false;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function runAllUndos(): void {
  for (const [id, undo] of [...undos]) {
    undos.delete(id);
    try {
      undo();
    } catch {
      /* best effort at exit: keep undoing the rest */
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
