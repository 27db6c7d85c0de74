/**
 * MQSim ASCII trace (DiskSim style, see shared/MQSIM.md):
 *   <arrival_ns> <device_no> <start_sector> <size_sectors> <type 0=write 1=read>
 * One request per line, single spaces, arrival times non-decreasing.
 */
import { Op, SECTOR_BYTES } from '../trace/model.js';
import { LineError, deviceOf, num, openLineFormat, sectorOf, sizeBytes, sizeOf, timeNsOf } from './line-reader.js';
import { headLines, looksLike, splitWs } from './text.js';
import type { TraceFormat } from './types.js';

const LINE = /^\d+ \d+ \d+ \d+ [01]$/;

export const mqsimFormat: TraceFormat = {
  name: 'mqsim',
  description: 'MQSim ASCII trace: arrival_ns device start_sector size_sectors type(1=read,0=write)',
  sniff(head) {
    const lines = headLines(head);
    return lines && looksLike(lines, (l) => LINE.test(l.trimEnd())) ? 0.9 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'mqsim', opts, () => {
      let first = NaN;
      let prev = -Infinity;
      /** Check an arrival time and return it relative to the first request. */
      const arrival = (t: number): number => {
        timeNsOf(t, 'arrival_ns');
        if (t < prev) throw new LineError(`arrival_ns non-decreasing (previous ${prev})`);
        prev = t;
        if (Number.isNaN(first)) first = t;
        return t - first;
      };
      const f: string[] = [];
      return {
        parse(line, b) {
          const n = splitWs(line, f);
          if (n === 0) return false;
          if (n !== 5) throw new LineError('5 space-separated fields: arrival_ns device sector size type');
          const t = arrival(num(f[0], 'arrival_ns'));
          const type = f[4];
          if (type !== '0' && type !== '1') throw new LineError('type 0 (write) or 1 (read)');
          b.push(
            t,
            sectorOf(num(f[2], 'start_sector'), 'start_sector'),
            sizeBytes(f[3], 'size_sectors', SECTOR_BYTES),
            type === '1' ? Op.READ : Op.WRITE,
            deviceOf(num(f[1], 'device'), 'device'),
          );
          return true;
        },
        fast: {
          kinds: ['int', 'int', 'int', 'int', 'bit'],
          row(v, o, b) {
            // the scanner wrote this row's 5 fields at v[o..o+4] (scanRows checks the rows fit in v)
            const device = deviceOf(v[o + 1]!, 'device');
            const size = sizeOf(v[o + 3]!, 'size_sectors', SECTOR_BYTES);
            const op = v[o + 4] === 1 ? Op.READ : Op.WRITE;
            b.push(arrival(v[o]!), v[o + 2]!, size, op, device);
            return true;
          },
        },
      };
    });
  },
};
