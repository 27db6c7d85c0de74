/**
 * MQSim ASCII trace writer (shared/MQSIM.md §3): one request per line,
 *   <arrival_ns> <device> <start_sector> <size_sectors> <type 0=write 1=read>
 * five fields, single spaces, no header, arrival times absolute integer ns and
 * non-decreasing (MQSim exits otherwise). MQSim has no trim and no flush, so
 * discards and empty flushes are left out and counted.
 */
import { Op, SECTOR_BYTES, type TraceBatch } from '../trace/model.js';
import { writeTextAtomically, type WriteResult } from './lines.js';
import { col } from '../util/at.js';

export async function writeMqsim(source: AsyncIterable<TraceBatch>, out: string): Promise<WriteResult> {
  let written = 0;
  let discards = 0;
  let empty = 0;
  let clamped = 0;
  let prev = 0;
  await writeTextAtomically(out, async (write) => {
    for await (const b of source) {
      let text = '';
      // every column has the batch's length
      for (const [i, op] of b.op.entries()) {
        const bytes = col(b.bytes, i);
        if (op & Op.DISCARD) {
          discards++;
          continue;
        }
        if (bytes === 0 || !(op & (Op.READ | Op.WRITE))) {
          empty++;
          continue;
        }
        let t = Math.max(0, Math.round(col(b.timeNs, i)));
        if (t < prev) {
          t = prev;
          clamped++;
        }
        prev = t;
        const type = op & Op.WRITE ? 0 : 1;
        text += `${t} ${col(b.device, i)} ${Math.floor(col(b.sector, i))} ${Math.ceil(bytes / SECTOR_BYTES)} ${type}\n`;
        written++;
      }
      if (text) await write(text);
    }
  });
  const warnings: string[] = [];
  if (discards) warnings.push(`${discards} discards left out: MQSim traces have no trim`);
  if (empty) warnings.push(`${empty} requests without data (flushes) left out`);
  if (clamped) warnings.push(`${clamped} requests out of time order were given the preceding time (MQSim needs non-decreasing times)`);
  return { written, skipped: discards + empty, warnings };
}
