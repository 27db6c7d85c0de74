/**
 * Writing a file so that it appears only when complete: `fill` writes to a
 * temporary file beside the target, which is renamed into place only when
 * `fill` resolved and every byte reached the file. A failure (ENOSPC, a
 * producer that throws, a process killed mid-way) never leaves a partial file
 * under the target's name that looks complete.
 */
import { closeSync, createWriteStream, openSync, promises as fsp, statSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';

/** Errors are thrown as they came: the caller codes them for what it writes. */
export async function writeAtomically(out: string, fill: (ws: Writable) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  const ws = createWriteStream(tmp, { highWaterMark: 1 << 20, mode: 0o600 });
  let failed: Error | undefined;
  // Kept until the end: an error while `fill` is between writes must not go unhandled.
  ws.on('error', (e) => (failed ??= e));
  try {
    await Promise.race([once(ws, 'open'), once(ws, 'error')]);
    if (failed) throw failed;
    await fill(ws);
    if (failed) throw failed;
    if (!ws.writableFinished) {
      if (!ws.writableEnded) ws.end();
      await once(ws, 'finish');
    }
    await fsp.rename(tmp, out);
  } catch (e) {
    // Taken before destroy(), whose abandoned writes fail as well.
    const cause = failed ?? e;
    ws.destroy();
    await fsp.rm(tmp, { force: true });
    throw cause;
  }
}

/**
 * Check before long work (a capture, an analysis) that `out` can be written where asked, so a typo fails at once,
 * not after the work: it is not a directory, and a file can be created beside it (a read-only, missing, /proc or
 * /sys directory fails). Errors are thrown as they came: the caller codes them for what it writes.
 */
export function probeWritable(out: string): void {
  if (statSync(out, { throwIfNoEntry: false })?.isDirectory())
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${out}'`), { code: 'EISDIR' });
  const probe = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${process.pid}.probe`);
  closeSync(openSync(probe, 'wx', 0o600));
  unlinkSync(probe);
}
