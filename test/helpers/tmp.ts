/**
 * Temporary directories for tests, removed when the test file's process
 * exits (node --test runs each file in a process of its own), whether its
 * tests passed or failed, or it was killed by a signal (the one cleanup
 * path, src/util/cleanup.ts): a test run leaves nothing in $TMPDIR, and
 * scripts/test.sh fails the run, naming them, when anything is left there.
 * A test that starts a server on a directory stops it before the directory
 * goes (and may remove the directory itself once it has).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerUndo } from '../../src/util/cleanup.js';

/** A new directory under $TMPDIR whose name starts with `prefix` (as mkdtemp). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  registerUndo(() => {
    try {
      // Retries: a process that was just stopped may still be closing files in it.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch (e) {
      // The others go all the same; test.sh names what is left.
      console.error(`tempDir: could not remove ${dir}: ${(e as Error).message}`);
    }
  });
  return dir;
}
