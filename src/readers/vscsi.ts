/**
 * VMware vSCSI traces as CSV (CloudPhysics, converted by libCacheSim):
 *   version,time,op,size,lbn
 * `op` is the SCSI opcode in hex, `size` bytes, `lbn` 512-byte blocks, `time`
 * whole seconds (libCacheSim's FAQ: "time is in seconds"; its vscsi reader
 * divides the original microseconds by 10^6), so many requests share a time.
 */
import { Op } from '../trace/model.js';
import { LineError, num, openLineFormat, sectorOf, sizeBytes, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { exactly, headLines, looksLike, isDigits } from './text.js';
import type { TraceFormat } from './types.js';

const HEADER = 'version,time,op,size,lbn';

/** SCSI opcode -> Op flags for the commands that move or drop data. */
const OPCODES = new Map<number, number>([
  [0x08, Op.READ], // READ(6)
  [0x28, Op.READ], // READ(10)
  [0xa8, Op.READ], // READ(12)
  [0x88, Op.READ], // READ(16)
  [0x0a, Op.WRITE], // WRITE(6)
  [0x2a, Op.WRITE], // WRITE(10)
  [0xaa, Op.WRITE], // WRITE(12)
  [0x8a, Op.WRITE], // WRITE(16)
  [0x2e, Op.WRITE], // WRITE AND VERIFY(10)
  [0x8e, Op.WRITE], // WRITE AND VERIFY(16)
  [0x41, Op.WRITE], // WRITE SAME(10)
  [0x93, Op.WRITE], // WRITE SAME(16)
  [0x35, Op.FLUSH], // SYNCHRONIZE CACHE(10)
  [0x91, Op.FLUSH], // SYNCHRONIZE CACHE(16)
  [0x42, Op.DISCARD], // UNMAP
]);

function isHex(s: string | undefined): boolean {
  return s !== undefined && s.length > 0 && s.length <= 2 && /^[0-9a-fA-F]+$/.test(s);
}

function isVscsiRow(l: string): boolean {
  const f = exactly(l.split(','), 5);
  return f !== undefined && isDigits(f[0]) && isDigits(f[1]) && isHex(f[2]) && isDigits(f[3]) && isDigits(f[4]);
}

export const vscsiFormat: TraceFormat = {
  name: 'vscsi',
  description: 'vSCSI CSV (CloudPhysics via libCacheSim): version,time(s),op(SCSI opcode hex),size(bytes),lbn(512 B)',
  sniff(head) {
    const lines = headLines(head);
    const [first] = lines ?? [];
    if (!lines || first === undefined) return 0;
    if (first.trim().toLowerCase() === HEADER) return 0.99;
    // Without the header: a hex opcode column (letters a-f show up in writes) is the mark.
    return looksLike(lines, isVscsiRow) && lines.some((l) => /[a-f]/i.test(l.split(',')[2] ?? '')) ? 0.6 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'vscsi', opts, () => {
      let rb: ReorderBuffer | undefined;
      const skippedOps = new Map<string, number>();
      return {
        parse(line, b, meta, lineNo) {
          if (lineNo === 1 && line.trim().toLowerCase() === HEADER) return false;
          const f = exactly(line.split(','), 5);
          if (!f) throw new LineError(`5 comma-separated fields: ${HEADER}`);
          const opcode = f[2];
          if (!isHex(opcode)) throw new LineError('op: a SCSI opcode in hex (28 READ(10), 2a WRITE(10)...)');
          const op = OPCODES.get(parseInt(opcode, 16));
          const t = timeNsOf(num(f[1], 'time') * 1e9, 'time');
          const bytes = sizeBytes(f[3], 'size');
          const lbn = sectorOf(num(f[4], 'lbn'), 'lbn');
          num(f[0], 'version');
          if (op === undefined) {
            skippedOps.set(opcode, (skippedOps.get(opcode) ?? 0) + 1);
            return false;
          }
          rb ??= new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: true });
          rb.push(t, lbn, bytes, op, 0, 0);
          return true;
        },
        finish(_b, meta) {
          rb?.finish();
          meta.warnings.push('vSCSI times have 1 s resolution: inter-arrival times within a second are unknown');
          if (skippedOps.size) {
            const list = [...skippedOps].map(([k, v]) => `${k}: ${v}`).join(', ');
            meta.warnings.push(`skipped SCSI commands that move no data (opcode: count): ${list}`);
          }
        },
      };
    });
  },
};
