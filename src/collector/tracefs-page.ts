/**
 * Decoder of one tracefs ring-buffer page as `trace_pipe_raw` returns it
 * (kernel/trace/ring_buffer.c): a page header (timestamp, commit = bytes of
 * data plus missed-event flags), then events, each a 32-bit header
 * {type_len:5, time_delta:27} followed by its payload. type_len 1..28 is the
 * payload length in words; 0 means the length is in the next word; 29 is
 * padding, 30 a time extension, 31 an absolute time stamp.
 */
import type { PageLayout } from './tracefs-format.js';

const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
const TS_SHIFT = 2 ** 27;

export interface PageResult {
  events: number;
  /** Events the kernel dropped before this page (overwritten); -1 when it only says "some". */
  missed: number;
}

/** Calls onEvent(timestamp, payloadOffset, payloadLength) for each event of the page in `buf`. */
export function decodePage(buf: Buffer, layout: PageLayout, onEvent: (ts: number, off: number, len: number) => void): PageResult {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let ts = dv.getUint32(layout.timestampOffset, true) + dv.getUint32(layout.timestampOffset + 4, true) * 2 ** 32;
  const commitWord = dv.getUint32(layout.commitOffset, true);
  const commit = commitWord & 0x3fffffff;
  const start = layout.dataOffset;
  const end = Math.min(start + commit, buf.byteLength);
  let missed = 0;
  if (commitWord & MISSED_EVENTS) {
    // The count is stored as a long right after the data when there was room.
    missed = commitWord & MISSED_STORED && end + 8 <= buf.byteLength ? dv.getUint32(end, true) + dv.getUint32(end + 4, true) * 2 ** 32 : -1;
  }
  let events = 0;
  let off = start;
  while (off + 4 <= end) {
    const h = dv.getUint32(off, true);
    const typeLen = h & 31;
    const delta = h >>> 5;
    if (typeLen === TYPE_PADDING) {
      if (delta === 0 || off + 8 > end) break; // the rest of the page is padding
      off += 4 + dv.getUint32(off + 4, true); // a discarded event: skip it
      continue;
    }
    if (typeLen === TYPE_TIME_EXTEND) {
      ts += delta + dv.getUint32(off + 4, true) * TS_SHIFT;
      off += 8;
      continue;
    }
    if (typeLen === TYPE_TIME_STAMP) {
      ts = delta + dv.getUint32(off + 4, true) * TS_SHIFT;
      off += 8;
      continue;
    }
    ts += delta;
    let len: number;
    let data: number;
    if (typeLen === 0) {
      len = dv.getUint32(off + 4, true) - 4;
      data = off + 8;
    } else {
      len = typeLen * 4;
      data = off + 4;
    }
    if (len < 0 || data + len > end) break; // truncated page: stop rather than misread
    onEvent(ts, data, len);
    events++;
    off = data + len;
  }
  return { events, missed };
}
