/**
 * Writing an output: the one way every command writes what it is given as an
 * output file (`db export FILE`, `collect -o`, `analyze --report`). A file
 * appears only when complete: `fill` writes to a temporary file beside the
 * target, which is renamed into place only when `fill` resolved and every byte
 * reached the file. A failure (ENOSPC, a producer that throws, a process
 * killed mid-way) never leaves a partial file under the target's name that
 * looks complete. What is not a regular file is written in place
 * (writeAtomically), and "-" is standard output (STANDARD_OUTPUT).
 */
import {
  accessSync,
  closeSync,
  constants,
  createWriteStream,
  fstatSync,
  lstatSync,
  openSync,
  promises as fsp,
  statSync,
  unlinkSync,
  type WriteStream,
} from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** The output name that means standard output, wherever an output file is taken. */
export const STANDARD_OUTPUT = '-';

/**
 * Errors are thrown as they came: the caller codes them for what it writes.
 *
 * Only a regular file (or a new one) is replaced by renaming. Anything else that exists under the name is written
 * in place, as a shell's redirection writes it: a device, a FIFO or /dev/stdout (renaming over it would replace the
 * node: `collect -o /dev/stdout`, run as root, turned the machine's /dev/stdout into a regular file), and a symbolic
 * link (renaming would replace the link, not the file it names). Such output is not atomic; it was asked for.
 */
export async function writeAtomically(out: string, fill: (ws: Writable) => Promise<void>): Promise<void> {
  if (out === STANDARD_OUTPUT) return toStandardOutput(fill);
  const { file: tmp, inPlace } = writeTarget(out);
  if (inPlace) return filled(createWriteStream(out, { highWaterMark: 1 << 20 }), fill);
  try {
    await filled(createWriteStream(tmp, { highWaterMark: 1 << 20, mode: 0o600 }), fill);
    await fsp.rename(tmp, out);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/**
 * `fill` writes to standard output through a stream of its own, which it may end: standard output itself is never
 * ended (a summary may follow on it). Back-pressure holds: `fill` waits while the reader is slow. A reader that
 * closes the pipe (`| head`) ends the process as it ends a Unix tool (cli/run.ts).
 */
async function toStandardOutput(fill: (ws: Writable) => Promise<void>): Promise<void> {
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  pass.pipe(process.stdout, { end: false });
  try {
    await fill(pass);
    if (!pass.writableEnded) pass.end();
    await finished(pass);
    if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
  } catch (e) {
    pass.unpipe(process.stdout);
    pass.destroy();
    throw e;
  }
}

/**
 * True when `out` is standard output: "-", or a name for the file standard output is (`/dev/stdout`,
 * `/proc/self/fd/1`, the file a shell redirected it to). A command's summary then goes to standard error, where
 * it does not mix with the data.
 */
export function isStandardOutput(out: string): boolean {
  if (out === STANDARD_OUTPUT) return true;
  const st = statSync(out, { throwIfNoEntry: false });
  if (!st) return false;
  const fd1 = fstatSync(1);
  return st.dev === fd1.dev && st.ino === fd1.ino;
}

/**
 * Where a writer puts the bytes of `out`, by writeAtomically's rule: a temporary name beside it, to be renamed over
 * it once complete (`inPlace` false), or `out` itself when it exists and is not a regular file (`inPlace` true:
 * never renamed over, nor removed on a failure). Writers that cannot use writeAtomically's stream (the blktrace
 * set's synchronous per-CPU files) take their names from here.
 */
export function writeTarget(out: string): { file: string; inPlace: boolean } {
  if (!replaceable(out)) return { file: out, inPlace: true };
  return { file: path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`), inPlace: false };
}

/** True when `out` is missing or a regular file: what writeAtomically may replace by renaming. */
function replaceable(out: string): boolean {
  const st = lstatSync(out, { throwIfNoEntry: false });
  return st === undefined || st.isFile();
}

/** Once `ws` is open, `fill` writes; resolves when every byte reached the file. On a failure `ws` is destroyed. */
async function filled(ws: WriteStream, fill: (ws: Writable) => Promise<void>): Promise<void> {
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
  } catch (e) {
    // Taken before destroy(), whose abandoned writes fail as well.
    const cause = failed ?? e;
    ws.destroy();
    throw cause;
  }
}

/**
 * Check before long work (a capture, an analysis) that `out` can be written where asked, so a typo fails at once,
 * not after the work: it is not a directory, and a file can be created beside it (a read-only, missing, /proc or
 * /sys directory fails). Errors are thrown as they came: the caller codes them for what it writes.
 */
export function probeWritable(out: string): void {
  if (out === STANDARD_OUTPUT) return;
  if (statSync(out, { throwIfNoEntry: false })?.isDirectory())
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${out}'`), { code: 'EISDIR' });
  // Written in place (writeAtomically): what counts is that it can be opened for writing.
  if (!replaceable(out)) return accessSync(out, constants.W_OK);
  const probe = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${process.pid}.probe`);
  closeSync(openSync(probe, 'wx', 0o600));
  unlinkSync(probe);
}
