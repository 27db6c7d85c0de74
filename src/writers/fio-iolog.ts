/**
 * fio iolog version 3 writer, for `fio --read_iolog=FILE` replay:
 *   fio version 3 iolog
 *   <usec> <file> add|open|close
 *   <usec> <file> read|write|trim|sync <offset_bytes> <length_bytes>
 * Times are microseconds from the start of the trace (fio's replay sleeps to
 * them), non-decreasing. Each trace device maps to one file or block device
 * to replay on; fio reads names with %256s, so they cannot contain spaces.
 */
import { Op, SECTOR_BYTES, type TraceBatch } from '../trace/model.js';
import { ERR_USAGE } from '../errors.js';
import { writeTextAtomically, type WriteResult } from './lines.js';
import { col } from '../util/at.js';

export interface FioIologOptions {
  /** Where each trace device is replayed: one path for all, or a mapping. */
  target: string | ((device: number) => string);
}

function checkName(name: string): string {
  if (!name || /\s/.test(name) || name.length > 256) throw ERR_USAGE(`fio iolog target "${name}": must be a path without spaces, at most 256 characters`);
  return name;
}

export async function writeFioIolog(source: AsyncIterable<TraceBatch>, out: string, opts: FioIologOptions): Promise<WriteResult> {
  const nameOf =
    typeof opts.target === 'string'
      ? (
          (n: string) => () =>
            n
        )(checkName(opts.target))
      : (d: number) => checkName((opts.target as (d: number) => string)(d));
  const names = new Map<number, string>();
  const opened = new Set<string>();
  let written = 0;
  let skipped = 0;
  let clamped = 0;
  let prev = 0;
  await writeTextAtomically(out, async (write) => {
    await write('fio version 3 iolog\n');
    for await (const b of source) {
      let text = '';
      // every column has the batch's length
      for (const [i, op] of b.op.entries()) {
        let act: string;
        if (op & Op.DISCARD) act = 'trim';
        else if (op & Op.WRITE) act = 'write';
        else if (op & Op.READ) act = 'read';
        else if (op & Op.FLUSH) act = 'sync';
        else {
          skipped++;
          continue;
        }
        let us = Math.max(0, Math.round(col(b.timeNs, i) / 1000));
        if (us < prev) {
          us = prev;
          clamped++;
        }
        prev = us;
        const dev = col(b.device, i);
        let name = names.get(dev);
        if (name === undefined) names.set(dev, (name = nameOf(dev)));
        if (!opened.has(name)) {
          // fio registers files while parsing, so adding one mid-log is fine.
          opened.add(name);
          text += `${us} ${name} add\n${us} ${name} open\n`;
        }
        const len = act === 'sync' ? 0 : col(b.bytes, i);
        const offset = act === 'sync' ? 0 : Math.floor(col(b.sector, i)) * SECTOR_BYTES;
        text += `${us} ${name} ${act} ${offset} ${len}\n`;
        written++;
      }
      if (text) await write(text);
    }
    let text = '';
    for (const name of opened) text += `${prev} ${name} close\n`;
    await write(text);
  });
  const warnings: string[] = [];
  if (skipped) warnings.push(`${skipped} requests that neither read, write, trim nor flush were left out`);
  if (clamped) warnings.push(`${clamped} requests out of time order were given the preceding time`);
  return { written, skipped, warnings };
}
