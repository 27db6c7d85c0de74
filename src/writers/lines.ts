/**
 * Writing a text trace safely: lines go to a temporary file beside the target
 * (respecting stream back-pressure) that is renamed into place only when all
 * of it was written, so a failure never leaves a partial file that looks
 * complete.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { ERR_TRACE_OPEN } from '../errors.js';

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
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOSPC') throw ERR_TRACE_OPEN(out, `cannot write: ${(e as Error).message}`);
    throw e;
  }
}
