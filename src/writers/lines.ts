/**
 * Writing a text trace safely: lines go through util/atomic-file.ts (a
 * temporary file renamed into place once complete), respecting the stream's
 * back-pressure.
 */
import { once } from 'node:events';
import { ERR_TRACE_WRITE } from '../errors.js';
import { probeWritable, writeAtomically } from '../util/atomic-file.js';

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
  try {
    await writeAtomically(out, async (ws) => {
      await produce(async (text) => {
        if (ws.errored) throw ws.errored;
        if (!ws.write(text)) await once(ws, 'drain');
      });
    });
  } catch (e) {
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

/** probeWritable (util/atomic-file.ts) before a long capture, coded as a trace write. */
export function assertWritable(file: string): void {
  try {
    probeWritable(file);
  } catch (e) {
    throw writeError(file, e);
  }
}
