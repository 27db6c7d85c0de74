/**
 * The `ts_ms device start size op` family of trace replayers: five
 * space-separated columns, the same shape in two units.
 *
 * - `msnfs`: the SNIA MS Production Server traces (MSN-FS) as the replayers
 *   (huaicheng/replayer, IODA) ship them: start and size in 512-byte blocks
 *   (the replayer multiplies both by 512).
 *     <time ms since trace start, fractional> <device> <start block> <size in blocks> <1=read, 0=write>
 * - `heimdall`: the MSR Cambridge cuts of Heimdall (ucare-uchicago/Heimdall,
 *   ds_pipeline/data/raw_data/msr.cut.*): start and size in bytes.
 *     <time ms> <device> <offset bytes> <size bytes> <1=read, 0=write>
 *
 * Nothing in a line tells the two apart; the sniffer judges which reading is
 * plausible (sizes, alignment) and refuses to guess when both are (registry.ts).
 */
import { Op, SECTOR_BYTES, type TraceBuilder, type TraceMeta } from '../trace/model.js';
import { LineError, deviceOf, num, openLineFormat, sectorOf, sizeOf, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { headLines, looksLike, isDecimal, isDigits, splitWs } from './text.js';
import type { TraceFormat } from './types.js';
import { at } from '../util/at.js';
import { fmtBytes } from '../util/units.js';

function isReplayerLine(l: string): boolean {
  const f = l.trim().split(/\s+/);
  return f.length === 5 && isDecimal(f[0]) && isDigits(f[1]) && isDigits(f[2]) && isDigits(f[3]) && (f[4] === '0' || f[4] === '1');
}

/** A request larger than this is taken as a sign of misread units (Linux's max_hw_sectors_kb tops out at a few MiB). */
const PLAUSIBLE_MAX_REQUEST = 64 << 20;

/** [start, size] of every row of the head, in the file's own units; null when the head is not this family. */
function headRows(head: Buffer): { lines: string[]; rows: [number, number][] } | null {
  const lines = headLines(head);
  if (!lines || !looksLike(lines, isReplayerLine)) return null;
  const rows = lines.filter(isReplayerLine).map((l): [number, number] => {
    const f = l.trim().split(/\s+/);
    return [Number(f[2]), Number(f[3])];
  });
  return { lines, rows };
}

/** Whether the head's rows read in `unit`-byte units describe plausible block I/O. */
function plausible(rows: readonly [number, number][], unit: number): boolean {
  if (unit === SECTOR_BYTES) return rows.every(([, size]) => size * unit <= PLAUSIBLE_MAX_REQUEST);
  // Byte units: block I/O moves whole sectors at sector-aligned offsets.
  return rows.every(([start, size]) => start % SECTOR_BYTES === 0 && size % SECTOR_BYTES === 0) && rows.some(([, size]) => size > 0);
}

function replayerFormat(name: string, unit: number, description: string): TraceFormat {
  const unitName = unit === SECTOR_BYTES ? 'blocks' : 'bytes';
  return {
    name,
    description,
    sniff(head) {
      const h = headRows(head);
      if (!h || !plausible(h.rows, unit)) return 0;
      // Integer-only times also fit MQSim's layout; fractional milliseconds are this family's mark.
      return h.lines.some((l) => l.trimStart().split(/\s/, 1)[0]?.includes('.')) ? 0.9 : 0.5;
    },
    explain(head) {
      const h = headRows(head);
      if (!h?.rows.length) return `${name} (start and size in ${unitName})`;
      const sizes = h.rows.map(([, s]) => s * unit).sort((a, b) => a - b);
      const median = at(sizes, sizes.length >> 1, 'sizes'); // rows is not empty
      const lo = Math.min(...h.rows.map(([s]) => s * unit));
      const hi = Math.max(...h.rows.map(([s, n]) => (s + n) * unit));
      return `${name} (start and size in ${unitName}: median request ${fmtBytes(median)}, span ${fmtBytes(hi - lo)} in the first ${h.rows.length} rows)`;
    },
    open(path, opts) {
      return openLineFormat(path, name, opts, () => {
        const f: string[] = [];
        let rb: ReorderBuffer | undefined;
        let unaligned = 0;
        const reorder = (b: TraceBuilder, meta: TraceMeta): ReorderBuffer =>
          (rb ??= new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: false }));
        const push = (b: TraceBuilder, meta: TraceMeta, tsMs: number, device: number, start: number, size: number, read: boolean): void => {
          if (unit !== SECTOR_BYTES && start % SECTOR_BYTES !== 0) unaligned++;
          reorder(b, meta).push(
            timeNsOf(Math.round(tsMs * 1e6), 'ts_ms'),
            sectorOf(start, unit === SECTOR_BYTES ? 'block' : 'offset_bytes', unit),
            sizeOf(size, unit === SECTOR_BYTES ? 'size_blocks' : 'size_bytes', unit),
            read ? Op.READ : Op.WRITE,
            deviceOf(device, 'device'),
            0,
          );
        };
        return {
          parse(line, b, meta) {
            const n = splitWs(line, f);
            if (n === 0) return false;
            if (n !== 5)
              throw new LineError(`5 space-separated fields: ts_ms device ${unit === SECTOR_BYTES ? 'block size_blocks' : 'offset_bytes size_bytes'} op`);
            const op = f[4];
            if (op !== '0' && op !== '1') throw new LineError('op 1 (read) or 0 (write)');
            push(
              b,
              meta,
              num(f[0], 'ts_ms'),
              num(f[1], 'device'),
              num(f[2], unit === SECTOR_BYTES ? 'block' : 'offset_bytes'),
              num(f[3], unit === SECTOR_BYTES ? 'size_blocks' : 'size_bytes'),
              op === '1',
            );
            return true;
          },
          fast: {
            kinds: ['dec', 'int', 'int', 'int', 'bit'],
            row(v, o, b, meta) {
              // the scanner wrote this row's 5 fields at v[o..o+4]
              // the scanner wrote this row's 5 fields at v[o..o+4] (scanRows checks the rows fit in v)
              push(b, meta, v[o]!, v[o + 1]!, v[o + 2]!, v[o + 3]!, v[o + 4] === 1);
              return true;
            },
          },
          finish(_b, meta) {
            rb?.finish();
            if (unaligned) meta.warnings.push(`${unaligned} byte offsets are not multiples of 512: rounded down to the sector`);
          },
        };
      });
    },
  };
}

export const msnfsFormat = replayerFormat(
  'msnfs',
  SECTOR_BYTES,
  'Replayer text (SNIA MS Production Server / MSN-FS): ts_ms device block(512 B) size_blocks op(1=read,0=write)',
);

export const heimdallFormat = replayerFormat(
  'heimdall',
  1,
  'Heimdall MSR Cambridge cut (msr.cut.*.trace): ts_ms device offset_bytes size_bytes op(1=read,0=write)',
);
