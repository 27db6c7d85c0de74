/**
 * MSR Cambridge block traces (SNIA IOTTA), CSV without header:
 *   Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime
 * Timestamp is a Windows FILETIME (100 ns ticks since 1601-01-01 UTC), Type is
 * Read or Write, Offset and Size are bytes, ResponseTime is in 100 ns ticks.
 */
import { Op, SECTOR_BYTES } from '../trace/model.js';
import { LineError, deviceOf, num, openLineFormat, sectorOf, sizeBytes, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { exactly, headLines, looksLike, isDigits } from './text.js';
import type { TraceFormat } from './types.js';

/** 100 ns ticks between 1601-01-01 and 1970-01-01. */
const FILETIME_UNIX_EPOCH = 116444736000000000n;
/** FILETIMEs have 18 digits, beyond 2^53: split them so differences stay exact. */
const LOW_DIGITS = 8;

function isMsrLine(l: string): boolean {
  const f = exactly(l.split(','), 7);
  return (
    f !== undefined &&
    isDigits(f[0]) &&
    f[0].length >= 15 &&
    isDigits(f[2]) &&
    (f[3] === 'Read' || f[3] === 'Write') &&
    isDigits(f[4]) &&
    isDigits(f[5]) &&
    isDigits(f[6])
  );
}

export const msrFormat: TraceFormat = {
  name: 'msr',
  description: 'MSR Cambridge CSV: Timestamp(FILETIME),Hostname,DiskNumber,Type(Read|Write),Offset(bytes),Size(bytes),ResponseTime(100 ns)',
  sniff(head) {
    const lines = headLines(head);
    if (!lines?.length) return 0;
    const body = /^timestamp,/i.test(lines[0] ?? '') ? lines.slice(1) : lines;
    return looksLike(body, isMsrLine) ? 0.95 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'msr', opts, () => {
      let hi0 = NaN;
      let lo0 = 0;
      let host: string | undefined;
      let rb: ReorderBuffer | undefined;
      let unaligned = 0;
      return {
        timing: true,
        parse(line, b, meta, lineNo) {
          const all = line.split(',');
          if (lineNo === 1 && all[0]?.toLowerCase() === 'timestamp') return false;
          const f = exactly(all, 7);
          if (!f) throw new LineError('7 comma-separated fields: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime');
          const ts = f[0];
          // 19 digits: FILETIMEs up to year 30828 (2^63 ticks); more would lose the low digits' exactness.
          if (!isDigits(ts) || ts.length <= LOW_DIGITS || ts.length > 19)
            throw new LineError('Timestamp: a Windows FILETIME (integer 100 ns ticks, at most 19 digits)');
          const hi = Number(ts.slice(0, -LOW_DIGITS));
          const lo = Number(ts.slice(-LOW_DIGITS));
          if (!rb) {
            hi0 = hi;
            lo0 = lo;
            const epochNs = Number((BigInt(ts) - FILETIME_UNIX_EPOCH) * 100n);
            rb = new ReorderBuffer(b, meta, { windowNs: 10e9, timing: true, rebase: true, anchorEpochNs: epochNs });
          }
          const t = ((hi - hi0) * 10 ** LOW_DIGITS + (lo - lo0)) * 100;
          let op: number;
          if (f[3] === 'Read') op = Op.READ;
          else if (f[3] === 'Write') op = Op.WRITE;
          else throw new LineError('Type: Read or Write');
          const disk = deviceOf(num(f[2], 'DiskNumber'), 'DiskNumber');
          const offset = num(f[4], 'Offset');
          const sector = sectorOf(offset, 'Offset', 1);
          const size = sizeBytes(f[5], 'Size');
          const rt = timeNsOf(num(f[6], 'ResponseTime') * 100, 'ResponseTime');
          if (host === undefined) host = f[1];
          else if (host !== f[1] && !meta.warnings.some((w) => w.startsWith('several hosts'))) {
            meta.warnings.push(`several hosts in one file (${host}, ${f[1]}...): devices are numbered by DiskNumber only`);
          }
          if (offset % SECTOR_BYTES !== 0) unaligned++;
          rb.push(t, sector, size, op, disk, 0, NaN, t + rt);
          return true;
        },
        finish(_b, meta) {
          rb?.finish();
          if (unaligned) meta.warnings.push(`${unaligned} byte offsets are not multiples of 512: rounded down to the sector`);
        },
      };
    });
  },
};
