/**
 * "-" as a trace argument: standard input (`zcat x.gz | ssdtune analyze -`, `blkparse -i sda -o - | ssdtune tune -`).
 *
 * Every command reads a trace more than once: the sniffer reads its head before the reader reads it all (and
 * tells compression from the magic bytes), `tune` replays it once per evaluation, a blktrace set and a trace read on
 * a worker thread (readers/off-thread.ts) are opened by path, and a trace registered in the ConfDB is read by a job,
 * maybe on the server. So standard input is spooled once, as it comes, to a private temporary file under $TMPDIR
 * (mode 0600), and the command reads that file as it reads any other: the same sniffing, decompression and bounds.
 * Memory stays bounded (one chunk at a time, with back-pressure); the file is bounded by stdinMaxBytes
 * (SSDTUNE_STDIN_MAX_BYTES, config.json "stdinMaxBytes") and removed when the command ends, however it ends
 * (an error, a signal: util/temp-dir.ts). Errors name it "standard input", as they name a file.
 */
import { createWriteStream, rmSync } from 'node:fs';
import type { SsdtuneApi, TraceOptions, TraceRecord } from '../service/api.js';
import { ByteCap } from '../util/byte-cap.js';
import { once } from 'node:events';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { ERR_TRACE_LIMIT, ERR_TRACE_OPEN, ERR_USAGE, errorFromCode, isSsdtuneError } from '../errors.js';
import { tempDir } from '../util/temp-dir.js';

/** The trace argument that means standard input. */
export const STANDARD_INPUT = '-';
/** What errors and reports call it. */
export const STANDARD_INPUT_NAME = 'standard input';

/**
 * Run `fn` on `args` with "-" (at most one) replaced by the path of standard input spooled to a temporary file;
 * `named` gives back what to call a path in output ("standard input" for the spool). `maxBytes` is asked only when
 * "-" is among the arguments.
 */
export async function withStandardInput<T>(
  args: readonly string[],
  maxBytes: () => number,
  fn: (paths: string[], named: (p: string) => string) => Promise<T>,
): Promise<T> {
  const n = args.filter((a) => a === STANDARD_INPUT).length;
  if (n === 0) return fn([...args], (p) => p);
  if (n > 1) throw ERR_USAGE(`"-" (standard input) can be given once; it was given ${n} times`);
  const limit = maxBytes();
  const dir = tempDir('ssdtune-stdin-');
  const file = path.join(dir, 'stdin');
  try {
    await spool(file, limit);
    return await fn(
      args.map((a) => (a === STANDARD_INPUT ? file : a)),
      (p) => (p === file ? STANDARD_INPUT_NAME : p),
    );
  } catch (e) {
    // The readers name the file they read: the spool is standard input to the user.
    throw isSsdtuneError(e) && e.message.includes(file) ? errorFromCode(e.code, e.message.replaceAll(file, STANDARD_INPUT_NAME), e.statusCode, e.field) : e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The name of the trace `tune -` keeps (and of its workload, unless --name). */
export const STANDARD_INPUT_TRACE = 'stdin';

/**
 * Standard input as a trace the service keeps (`tune -`, `identify -`): streamed as it comes, bounded by
 * stdinMaxBytes, and stored as an upload named "stdin" (`<data dir>/traces/<id>-stdin`, or on the server). Its
 * record names a file that exists as long as the record does: a job of it can be resumed, and
 * `db delete traces ID` removes both. A spool in $TMPDIR (what analyze reads) is gone when the command ends: the
 * record named a file that no longer existed, and the job could not be resumed.
 */
export async function uploadStandardInput(api: Pick<SsdtuneApi, 'uploadTrace'>, maxBytes: number, o: TraceOptions = {}): Promise<TraceRecord> {
  if (process.stdin.isTTY) throw ERR_USAGE(`"-" reads a trace from standard input, which is a terminal here: pipe one in (zcat x.gz | ssdtune tune -)`);
  const cap = new ByteCap(maxBytes, () => tooMuch(maxBytes, 'kept as a stored trace'));
  process.stdin.on('error', (e) => cap.destroy(e));
  try {
    return await api.uploadTrace(process.stdin.pipe(cap), STANDARD_INPUT_TRACE, o);
  } catch (e) {
    // The service names an upload by its name: to the user it is standard input, as everywhere else.
    const named = `${STANDARD_INPUT_TRACE}: `;
    if (!isSsdtuneError(e) || !e.message.startsWith(named)) throw e;
    throw errorFromCode(e.code, `${STANDARD_INPUT_NAME}: ${e.message.slice(named.length)}`, e.statusCode, e.field);
  }
}

function tooMuch(limit: number, why: string) {
  return ERR_TRACE_LIMIT(
    STANDARD_INPUT_NAME,
    `byte ${limit}`,
    `more than the limit of ${limit} bytes a command keeps of it (stdinMaxBytes: SSDTUNE_STDIN_MAX_BYTES or config.json "stdinMaxBytes"), ${why}`,
  );
}

/** Copy standard input to `file`, one chunk at a time, failing past `limit` bytes. */
async function spool(file: string, limit: number): Promise<void> {
  if (process.stdin.isTTY) throw ERR_USAGE(`"-" reads a trace from standard input, which is a terminal here: pipe one in (zcat x.gz | ssdtune analyze -)`);
  const ws = createWriteStream(file, { mode: 0o600, highWaterMark: 1 << 20 });
  let failed: Error | undefined;
  ws.on('error', (e) => (failed ??= e));
  let bytes = 0;
  try {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limit) throw tooMuch(limit, 'spooled to a temporary file because the trace is read more than once');
      if (failed) throw failed;
      if (!ws.write(chunk)) await once(ws, 'drain');
    }
    ws.end();
    await finished(ws);
  } catch (e) {
    ws.destroy();
    process.stdin.destroy();
    const err = failed ?? e;
    if (isSsdtuneError(err)) throw err;
    throw ERR_TRACE_OPEN(STANDARD_INPUT_NAME, `cannot spool it to ${file}: ${(err as Error).message}`);
  }
}
