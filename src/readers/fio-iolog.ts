/**
 * fio iolog, versions 2 and 3 (fio HOWTO "Trace file format"; fio iolog.c):
 *   fio version 2 iolog              fio version 3 iolog
 *   <file> add|open|close            <usec> <file> add|open|close
 *   <file> <action> <offset> <len>   <usec> <file> <action> <offset> <len>
 * action: read, write, trim, sync, datasync (and v2's wait). Offsets and lengths
 * are bytes. v3 timestamps are microseconds since the job started (fio writes
 * utime_since_now()). v2 lines carry no time: it comes from `wait` lines, whose
 * offset fio's replay compares with milliseconds since the job started.
 * Each file becomes one device, numbered by its `add` order.
 */
import { Op } from '../trace/model.js';
import { LineError, num, openLineFormat, sectorOf, sizeBytes, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { field, headLines, splitWs } from './text.js';
import type { TraceFormat } from './types.js';

const ACTIONS: Record<string, number> = {
  read: Op.READ,
  write: Op.WRITE,
  trim: Op.DISCARD,
  sync: Op.FLUSH | Op.SYNC,
  datasync: Op.FLUSH,
};
const FILE_ACTIONS = new Set(['add', 'open', 'close']);

export const fioIologFormat: TraceFormat = {
  name: 'fio-iolog',
  description: 'fio iolog v2/v3 (--write_iolog / --read_iolog): [usec] file action [offset_bytes length_bytes]',
  sniff(head) {
    const lines = headLines(head, 1);
    const first = lines?.[0]?.trim();
    return first === 'fio version 2 iolog' || first === 'fio version 3 iolog' ? 1 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'fio-iolog', opts, () => {
      let version = 0;
      const f: string[] = [];
      const files = new Map<string, number>();
      let waitNs = 0;
      let rb: ReorderBuffer | undefined;
      const fileNo = (name: string): number => {
        let d = files.get(name);
        if (d === undefined) files.set(name, (d = files.size));
        return d;
      };
      return {
        parse(line, b, meta, lineNo) {
          if (lineNo === 1) {
            const h = line.trim();
            if (h === 'fio version 2 iolog') version = 2;
            else if (h === 'fio version 3 iolog') version = 3;
            else throw new LineError('the header "fio version 2 iolog" or "fio version 3 iolog"');
            return false;
          }
          // f is reused from line to line: only fields below n are this line's
          const n = splitWs(line, f);
          if (n === 0) return false;
          const k = version === 3 ? 1 : 0; // index of the file name
          let tNs = waitNs;
          if (version === 3) tNs = timeNsOf(num(f[0], 'timestamp (usec)') * 1000, 'timestamp (usec)');
          if (n === k + 2) {
            if (!FILE_ACTIONS.has(field(f, k + 1))) throw new LineError('a file action: add, open or close');
            fileNo(field(f, k));
            return false;
          }
          if (n !== k + 4) throw new LineError(version === 3 ? 'usec file action [offset length]' : 'file action [offset length]');
          const act = field(f, k + 1);
          if (act === 'wait' && version === 2) {
            waitNs = timeNsOf(num(f[k + 2], 'wait time') * 1e6, 'wait time');
            return false;
          }
          const op = ACTIONS[act];
          if (op === undefined) throw new LineError('an I/O action: read, write, trim, sync or datasync');
          const offset = num(f[k + 2], 'offset (bytes)');
          const len = sizeBytes(f[k + 3], 'length (bytes)');
          rb ??= new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: false });
          rb.push(tNs, sectorOf(offset, 'offset (bytes)', 1), len, op, fileNo(field(f, k)), 0);
          return true;
        },
        finish(_b, meta) {
          rb?.finish();
          if (version === 2 && waitNs === 0) meta.warnings.push('fio v2 iolog without wait lines: requests carry no timing (all at t=0)');
        },
      };
    });
  },
};
