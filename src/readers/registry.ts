/**
 * All trace formats, and `openTrace`, the one way to read a trace file:
 * sniff the format from content (or take --format), then open it.
 */
import { ERR_TRACE_AMBIGUOUS_FORMAT, ERR_TRACE_UNKNOWN_FORMAT, ERR_USAGE } from '../errors.js';
import type { TraceSource } from '../trace/model.js';
import { checkReadableFile, readHead } from './input.js';
import { mqsimFormat } from './mqsim.js';
import { blkparseFormat } from './blkparse.js';
import { msrFormat } from './msr.js';
import { tencentFormat } from './tencent.js';
import { heimdallFormat, msnfsFormat } from './msnfs.js';
import { blkreplayFormat } from './blkreplay.js';
import { vscsiFormat } from './vscsi.js';
import { fioIologFormat } from './fio-iolog.js';
import { blktraceFormat } from './blktrace.js';
import type { InputOptions, ReaderOptions, TraceFormat } from './types.js';
import { at } from '../util/at.js';

/**
 * Every format the sniffer considers. Sniffers return a confidence; they are
 * written to give 0 for each other's files (see test/sniff.test.ts).
 */
export const FORMATS: readonly TraceFormat[] = [
  blktraceFormat, // binary magic; the text sniffers reject binary heads
  blkparseFormat,
  fioIologFormat,
  msrFormat,
  tencentFormat,
  vscsiFormat,
  msnfsFormat,
  heimdallFormat,
  mqsimFormat,
  blkreplayFormat,
];

/** Scores this close to the best are a tie: the sniffer does not guess between them. */
const TIE = 0.05;

export function formatByName(name: string): TraceFormat {
  const f = FORMATS.find((x) => x.name === name);
  if (!f) throw ERR_USAGE(`unknown trace format "${name}"; known: ${FORMATS.map((x) => x.name).join(', ')}`);
  return f;
}

/** Leading lines the sniffer looks past when none fits any format (a header, a stray first line). */
const LEADING = 8;

/**
 * Pick the format whose sniffer is most confident about the file's first bytes.
 * Formats that read the same columns in different units (msnfs's 512-byte
 * blocks, heimdall's bytes) each check that their reading is plausible; when
 * more than one is, the sniffer refuses to guess and names the candidates.
 *
 * Each sniffer needs the first line to fit, so a header or one malformed first
 * line hides the format. Then the head is sniffed again past up to LEADING
 * lines: with `skipBad` that reading is taken (the reader skips those lines as
 * it skips any bad one, and counts them); without, the error names it and the
 * flag.
 */
export async function sniffFormat(path: string, opts: InputOptions & Pick<ReaderOptions, 'skipBad'> = {}): Promise<TraceFormat> {
  const { size, kind } = await checkReadableFile(path);
  if (kind === 'stream') throw ERR_TRACE_UNKNOWN_FORMAT(path, 'a FIFO or socket can be read only once, so its head cannot be sniffed first');
  if (size === 0 && kind === 'file') throw ERR_TRACE_UNKNOWN_FORMAT(path, 'it is empty');
  const head = await readHead(path, 65536, opts);
  let picked = pick(path, head);
  if (!picked) {
    const past = pastLeading(path, head);
    const what = opts.quoteInput === false ? 'its first bytes' : `first bytes ${JSON.stringify(head.subarray(0, 40).toString('latin1'))}`;
    const none = `${what} match none of ${FORMATS.map((x) => x.name).join(', ')}`;
    if (!past) throw ERR_TRACE_UNKNOWN_FORMAT(path, none);
    if (!opts.skipBad)
      throw ERR_TRACE_UNKNOWN_FORMAT(
        path,
        `${none}; past its first ${past.lines === 1 ? 'line' : `${past.lines} lines`} it reads as ${past.format.name}: pass --skip-bad to skip ${past.lines === 1 ? 'it' : 'them'}`,
      );
    picked = past.format;
  }
  return picked;
}

/** The format the head reads as, undefined when none; a tie is an error naming the candidates. */
function pick(path: string, head: Buffer): TraceFormat | undefined {
  const scored = FORMATS.map((f) => ({ f, s: f.sniff(head, path) })).filter((x) => x.s > 0);
  if (!scored.length) return undefined;
  const best = Math.max(...scored.map((x) => x.s));
  const tied = scored.filter((x) => x.s >= best - TIE).map((x) => x.f);
  if (tied.length > 1)
    throw ERR_TRACE_AMBIGUOUS_FORMAT(path, tied.map((f) => f.explain?.(head) ?? f.name).join(' or '), tied.map((f) => `--format ${f.name}`).join(' or '));
  return at(tied, 0, 'formats'); // the best-scored one is always among them
}

/** The format the head reads as past its first 1..LEADING lines, and how many lines that is. */
function pastLeading(path: string, head: Buffer): { format: TraceFormat; lines: number } | undefined {
  let from = 0;
  for (let lines = 1; lines <= LEADING; lines++) {
    const nl = head.indexOf(0x0a, from);
    if (nl < 0) return undefined;
    from = nl + 1;
    const format = pick(path, head.subarray(from));
    if (format) return { format, lines };
  }
  return undefined;
}

export interface OpenOptions extends ReaderOptions {
  /** Force a format instead of sniffing. */
  format?: string;
}

export async function openTrace(path: string, opts: OpenOptions = {}): Promise<TraceSource> {
  const fmt = opts.format ? formatByName(opts.format) : await sniffFormat(path, opts);
  return fmt.open(path, opts);
}
