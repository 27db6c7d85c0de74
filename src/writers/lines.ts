/**
 * Writing a text trace safely: lines go to a temporary file beside the target
 * (respecting stream back-pressure) that is renamed into place only when all
 * of it was written, so a failure never leaves a partial file that looks
 * complete.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { ERR_TRACE_WRITE } from '../errors.js';

export interface WriteResult {
  /** Requests written. */
  written: number;
  /** Requests the format cannot express, left out (see warnings). */
  skipped: number;
  warnings: string[];
}

/**
 * Run `produce`, which calls `write(text)` for each piece; the file appears at
 * `out` only if `produce` resolves.
 */
export async function writeTextAtomically(out: string, produce: (write: (text: string) => Promise<void>) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  const ws = createWriteStream(tmp, { highWaterMark: 1 << 20 });
  let failed: Error | undefined;
  ws.on('error', (e) => (failed = e));
  const write = async (text: string): Promise<void> => {
    if (failed) throw failed;
    if (!ws.write(text)) await Promise.race([once(ws, 'drain'), once(ws, 'error')]);
    if (failed) throw failed;
  };
  try {
    await once(ws, 'open');
    await produce(write);
    ws.end();
    await once(ws, 'finish');
    if (failed) throw failed;
    await fsp.rename(tmp, out);
  } catch (e) {
    ws.destroy();
    await fsp.rm(tmp, { force: true });
    throw writeError(out, e);
  }
}

/** A file-system error while writing `out` (ENOSPC, EACCES, EROFS ...) as a coded error; others unchanged. */
export function writeError(out: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !code.startsWith('E')) return e;
  const why = code === 'ENOSPC' ? 'no space left on the device (the partial output was removed)' : `${code}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`;
  return ERR_TRACE_WRITE(out, why);
}

/**
 * Check before a long capture that `file` can be created where asked: a
 * file created and removed beside it (so /proc, /sys, a read-only or missing
 * directory fail at once, not after the capture).
 */
export function assertWritable(file: string): void {
  const probe = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    throw writeError(file, e);
  }
}
