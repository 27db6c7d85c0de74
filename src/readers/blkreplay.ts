/**
 * blkreplay `.load` files (Thomas Schoebel-Theuer, 1&1; schoebel/blkreplay):
 * a free-text licence header, the column line
 *   start ; sector; length ; op ;  replay_delay=0 ; replay_duration=0
 * then one request per line:
 *       0.449518165 ;     37766917 ;   14 ; W ; 0.0 ; 0.0
 * `start` is seconds.nanoseconds since the trace began, `sector` and `length`
 * are 512-byte sectors, `op` is blkparse's RWBS field (R, W, RA read-ahead...).
 * The files are made by scripts/conv_blktrace_to_load.sh, which prints
 * `blkparse -f '%2a ; %6T.%9t ; %12S ; %4n ; %3d ; 0.0 ; 0.0'`, renames Q
 * events to D and keeps the D lines: every request that was queued and
 * dispatched unmerged appears twice, as its Q and its D, microseconds apart.
 * blkreplay itself (src/blkreplay.c) reads `%ld.%ld ; %lld ; %d ; %c`, skips
 * lines that do not scan (the header), and replays R and W by their first
 * letter; the last two columns are its own results and are ignored here.
 *
 * Rules of this reader:
 * - Text before the first request line is header, skipped (one file repeats its
 *   licence); after it, a line that is not a request is an error.
 * - Op: the RWBS string decoded as the blkparse reader does (decodeRwbs: D
 *   discard, W, R, a leading F preflush, then A read-ahead, S sync, M metadata,
 *   F FUA); N (no data) lines are counted in a warning and skipped.
 * - A line repeating the sector, length and op of a request less than 1 ms
 *   earlier that was not yet paired is that request's dispatch (D) after its
 *   queue (Q) event: it is dropped and counted in a warning, so each request
 *   counts once (the Q's time is its arrival).
 */
import { LineError, openLineFormat, sectorOf, sizeOf, timeNsOf } from './line-reader.js';
import { ReorderBuffer } from './reorder.js';
import { atLeast, headLines, isDigits } from './text.js';
import { decodeRwbs, parseTime } from './blkparse.js';
import type { TraceFormat } from './types.js';

const COLUMNS = /^\s*start\s*;\s*sector\s*;\s*length\s*;\s*op\s*;/;
const ROW = /^\s*\d+\.\d+\s*;\s*\d+\s*;\s*\d+\s*;\s*[A-Z]+\s*;/;
/** Queue -> dispatch pairing window. */
const PAIR_NS = 1e6;
/** Unpaired requests remembered at most (bounded memory whatever the input). */
const PAIR_MAX = 4096;

/** The RWBS strings blkparse prints (see decodeRwbs). */
const RWBS = /^(F?[DEWRN]|F)[FASMB]*$/;

function field(s: string, name: string): number {
  const t = s.trim();
  if (!isDigits(t)) throw new LineError(`${name}: a whole number of 512-byte sectors`);
  return Number(t);
}

export const blkreplayFormat: TraceFormat = {
  name: 'blkreplay',
  description: 'blkreplay .load (1&1): start(s.ns) ; sector ; length(sectors) ; op(RWBS) ; replay_delay ; replay_duration',
  sniff(head) {
    const lines = headLines(head, 400);
    if (!lines?.length) return 0;
    const rows = lines.findIndex((l) => ROW.test(l));
    if (lines.some((l) => COLUMNS.test(l))) return 0.95;
    if (rows < 0) return 0;
    const body = lines.slice(rows);
    return body.filter((l) => ROW.test(l)).length >= 0.75 * body.length ? 0.8 : 0;
  },
  open(path, opts) {
    return openLineFormat(path, 'blkreplay', opts, () => {
      let started = false;
      let rb: ReorderBuffer | undefined;
      /** Unpaired requests of the last PAIR_NS: key -> time. Insertion order is time order. */
      const pending = new Map<string, number>();
      let paired = 0;
      let noData = 0;
      return {
        parse(line, b, meta) {
          const f = atLeast(line.split(';'), 4);
          if (!f || !ROW.test(line)) {
            if (!started || line.trim() === '') return false;
            throw new LineError('start ; sector ; length ; op [; replay_delay ; replay_duration]');
          }
          started = true;
          const ts = parseTime(f[0].trim());
          if (Number.isNaN(ts)) throw new LineError('start: seconds.nanoseconds (e.g. 12.000023289)');
          const t = timeNsOf(ts, 'start');
          const sector = sectorOf(field(f[1], 'sector'), 'sector');
          const bytes = sizeOf(field(f[2], 'length'), 'length', 512);
          const rwbs = f[3].trim();
          if (!RWBS.test(rwbs)) throw new LineError('op: a blkparse RWBS field (R, W, D, F, N, then A, S, M, F)');
          const op = decodeRwbs(rwbs);
          if (op === 0) {
            noData++;
            return false;
          }
          for (const [k, t0] of pending) {
            if (t - t0 < PAIR_NS && pending.size <= PAIR_MAX) break;
            pending.delete(k);
          }
          const key = `${sector}|${bytes}|${op}`;
          const q = pending.get(key);
          if (q !== undefined && t - q < PAIR_NS) {
            pending.delete(key);
            paired++;
            return false;
          }
          pending.set(key, t);
          rb ??= new ReorderBuffer(b, meta, { windowNs: 10e9, timing: false, rebase: false });
          rb.push(t, sector, bytes, op, 0, 0);
          return true;
        },
        finish(_b, meta) {
          rb?.finish();
          if (paired)
            meta.warnings.push(
              `${paired} lines repeat the sector, length and op of a request less than 1 ms before: blkreplay's converter keeps both the queue (Q) and the dispatch (D) event of a request; each was counted once, at its Q time`,
            );
          if (noData) meta.warnings.push(`${noData} lines with op N (no data) skipped`);
        },
      };
    });
  },
};
