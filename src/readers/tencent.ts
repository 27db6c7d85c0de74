/**
 * SNIA Tencent Cloud Block Storage traces, CSV without header:
 *   Timestamp(unix s),Offset(sectors),Size(sectors),IOType(0=read,1=write),VolumeID
 * Thousands of volumes are interleaved in one file; VolumeID becomes the
 * device, and `splitByDevice` (split.ts) separates them. Timestamps have 1 s
 * resolution and are written by several collectors, so lines are slightly out
 * of order: the reader sorts them within a 10 s window.
 */
import { Op, SECTOR_BYTES } from '../trace/model.js';
import { LineError, deviceOf, num, openLineFormat, sectorOf, sizeBytes, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { exactly, headLines, looksLike, isDigits } from './text.js';
import type { TraceFormat } from './types.js';

function isTencentLine(l: string): boolean {
  const f = exactly(l.split(','), 5);
  // Unix seconds have 9-10 digits (2001..2286), which tells these rows from other 5-column CSVs.
  return (
    f !== undefined &&
    isDigits(f[0]) &&
    (f[0].length === 10 || f[0].length === 9) &&
    isDigits(f[1]) &&
    isDigits(f[2]) &&
    (f[3] === '0' || f[3] === '1') &&
    isDigits(f[4])
  );
}

export const tencentFormat: TraceFormat = {
  name: 'tencent',
  description: 'SNIA Tencent CBS CSV: Timestamp(unix s),Offset(sectors),Size(sectors),IOType(0=read,1=write),VolumeID',
  sniff(head) {
    const lines = headLines(head);
    if (!lines?.length) return 0;
    return looksLike(lines, isTencentLine) ? 0.9 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'tencent', opts, () => {
      let t0 = NaN;
      let rb: ReorderBuffer | undefined;
      return {
        parse(line, b, meta, lineNo) {
          const all = line.split(',');
          if (lineNo === 1 && !isDigits(all[0])) return false; // a header some copies carry
          const f = exactly(all, 5);
          if (!f) throw new LineError('5 comma-separated fields: Timestamp,Offset,Size,IOType,VolumeID');
          const ts = num(f[0], 'Timestamp (unix seconds)');
          timeNsOf(ts * 1e9, 'Timestamp (unix seconds)');
          if (!rb) {
            t0 = ts;
            rb = new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: true, anchorEpochNs: ts * 1e9 });
          }
          const type = f[3];
          if (type !== '0' && type !== '1') throw new LineError('IOType 0 (read) or 1 (write)');
          rb.push(
            (ts - t0) * 1e9,
            sectorOf(num(f[1], 'Offset (sectors)'), 'Offset (sectors)'),
            sizeBytes(f[2], 'Size (sectors)', SECTOR_BYTES),
            type === '0' ? Op.READ : Op.WRITE,
            deviceOf(num(f[4], 'VolumeID'), 'VolumeID'),
            0,
          );
          return true;
        },
        finish() {
          rb?.finish();
        },
      };
    });
  },
};
