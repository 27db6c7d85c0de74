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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerUndo } from './cleanup.js';

/** A new directory under $TMPDIR whose name starts with `prefix` (as mkdtemp). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  registerUndo(() => {
    try {
      // Retries: a process that was just stopped may still be closing files in it.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch (e) {
      // The others go all the same; say what is left.
      console.error(`tempDir: could not remove ${dir}: ${(e as Error).message}`);
    }
  });
  return dir;
}
