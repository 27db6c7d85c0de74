/**
 * Temporary directories for tests, removed when the test file's process
 * exits (node --test runs each file in a process of its own), whether its
 * tests passed or failed: a test run leaves nothing in $TMPDIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made = new Set<string>();
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new directory under $TMPDIR whose name starts with `prefix` (as mkdtemp). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}
