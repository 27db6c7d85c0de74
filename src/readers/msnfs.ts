/**
 * The `ts_ms devno block size_blocks op` family used by trace replayers
 * (huaicheng/replayer, IODA) for the SNIA MS Production Server traces (MSN-FS):
 *   <time ms since trace start, fractional> <device> <start block> <size in blocks> <1=read, 0=write>
 * A block is a 512-byte sector (the replayer multiplies both by 512).
 */
import { Op, SECTOR_BYTES, type TraceBuilder, type TraceMeta } from '../trace/model.js';
import { LineError, num, openLineFormat, sizeBytes, sizeOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { headLines, looksLike, isDecimal, isDigits, splitWs } from './text.js';
import type { TraceFormat } from './types.js';

function isMsnfsLine(l: string): boolean {
  const f = l.trim().split(/\s+/);
  return f.length === 5 && isDecimal(f[0]) && isDigits(f[1]) && isDigits(f[2]) && isDigits(f[3]) && (f[4] === '0' || f[4] === '1');
}

export const msnfsFormat: TraceFormat = {
  name: 'msnfs',
  description: 'Replayer text (SNIA MS Production Server / MSN-FS): ts_ms device block(512 B) size_blocks op(1=read,0=write)',
  sniff(head) {
    const lines = headLines(head);
    if (!lines || !looksLike(lines, isMsnfsLine)) return 0;
    // Integer-only times also fit MQSim's layout; fractional milliseconds are this family's mark.
    return lines.some((l) => l.trimStart().split(/\s/)[0].includes('.')) ? 0.9 : 0.5;
  },
  open(path, opts) {
    return openLineFormat(path, 'msnfs', opts, () => {
      const f: string[] = [];
      let rb: ReorderBuffer | undefined;
      const reorder = (b: TraceBuilder, meta: TraceMeta): ReorderBuffer => (rb ??= new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: false }));
      return {
        parse(line, b, meta) {
          const n = splitWs(line, f);
          if (n === 0) return false;
          if (n !== 5) throw new LineError('5 space-separated fields: ts_ms device block size_blocks op');
          const rb = reorder(b, meta);
          const op = f[4];
          if (op !== '0' && op !== '1') throw new LineError('op 1 (read) or 0 (write)');
          rb.push(Math.round(num(f[0], 'ts_ms') * 1e6), num(f[2], 'block'), sizeBytes(f[3], 'size_blocks', SECTOR_BYTES), op === '1' ? Op.READ : Op.WRITE, num(f[1], 'device'), 0);
          return true;
        },
        fast: {
          kinds: ['dec', 'int', 'int', 'int', 'bit'],
          row(v, o, b, meta) {
            reorder(b, meta).push(Math.round(v[o] * 1e6), v[o + 2], sizeOf(v[o + 3], 'size_blocks', SECTOR_BYTES), v[o + 4] === 1 ? Op.READ : Op.WRITE, v[o + 1], 0);
            return true;
          },
        },
        finish() {
          rb?.finish();
        },
      };
    });
  },
};
