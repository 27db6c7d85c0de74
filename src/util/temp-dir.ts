/**
 * Temporary directories removed when the process ends, however it ends (the
 * one cleanup path, src/util/cleanup.ts): the tests' (node --test runs each
 * file in a process of its own, and scripts/test.sh fails the run, naming
 * them, when anything is left in $TMPDIR) and the benchmarks', which a
 * signal or an exception used to leave in /tmp. A process that starts a
 * server on a directory registers the server (killAtExit) after the
 * directory, and children are stopped before any directory goes; it may
 * remove the directory itself once it has stopped the server.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pause, registerUndo } from './cleanup.js';

/** A new directory under $TMPDIR whose name starts with `prefix` (as mkdtemp). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  registerUndo(() => {
    // Until it stays gone, for up to about 2 s: at a signal the undo runs on the main thread while other threads
    // of this process may still be writing in the directory (LevelDB opening a store in it on the thread pool),
    // and a process that was just stopped may still be closing files in it (rmSync's own retries).
    let error: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
        error = undefined;
      } catch (e) {
        error = e;
      }
      if (!existsSync(dir)) return;
      pause(50);
    }
    // The others go all the same; say what is left.
    console.error(`tempDir: could not remove ${dir}: ${error ? (error as Error).message : 'it came back'}`);
  });
  return dir;
}
