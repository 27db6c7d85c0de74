/**
 * Mapping a trace's requests onto a device: the plan both the live replay
 * (which issues it with io_uring) and the readahead model (which replays it
 * through its page-cache model) work from. Pure: no device, no native code,
 * so the model can use it without loading the replay stack.
 */
import { Op, SECTOR_BYTES, type TraceBatch } from '../../trace/model.js';

/** Requests mapped onto the device, ready for the native replay. */
export interface ReplayPlan {
  offsets: Float64Array;
  lengths: Uint32Array;
  writes: Uint8Array;
  timesNs: Float64Array;
  /** Writes dropped because the device is not scratch. */
  writesSkipped: number;
  /** Requests that are neither read nor write (flush, discard). */
  otherSkipped: number;
}

const MAX_REQUEST = 4 << 20;

/**
 * Map trace requests into a device of `deviceBytes`: offsets relative to the
 * lowest sector (keeps locality and strides), wrapped into the device, aligned
 * to `align`; lengths rounded up to `align`, capped at 4 MiB.
 */
export function planReplay(batch: TraceBatch, deviceBytes: number, opts: { allowWrite: boolean; align: number; maxRequests?: number }): ReplayPlan {
  const n0 = Math.min(batch.length, opts.maxRequests ?? Infinity);
  let minSector = Infinity;
  for (let i = 0; i < n0; i++) if (batch.sector[i]! < minSector) minSector = batch.sector[i]!;
  const idx: number[] = [];
  let writesSkipped = 0;
  let otherSkipped = 0;
  for (let i = 0; i < n0; i++) {
    const op = batch.op[i]!;
    if (op & (Op.DISCARD | Op.FLUSH) || !(op & (Op.READ | Op.WRITE)) || batch.bytes[i] === 0) otherSkipped++;
    else if (op & Op.WRITE && !opts.allowWrite) writesSkipped++;
    else idx.push(i);
  }
  const n = idx.length;
  const plan: ReplayPlan = {
    offsets: new Float64Array(n),
    lengths: new Uint32Array(n),
    writes: new Uint8Array(n),
    timesNs: new Float64Array(n),
    writesSkipped,
    otherSkipped,
  };
  const t0 = n ? batch.timeNs[idx[0]!]! : 0;
  const a = opts.align;
  for (let j = 0; j < n; j++) {
    const i = idx[j]!;
    const len = Math.min(MAX_REQUEST, Math.ceil(batch.bytes[i]! / a) * a, Math.floor(deviceBytes / a) * a);
    let off = ((batch.sector[i]! - minSector) * SECTOR_BYTES) % deviceBytes;
    off = Math.floor(off / a) * a;
    if (off + len > deviceBytes) off = Math.floor((deviceBytes - len) / a) * a;
    plan.offsets[j] = off;
    plan.lengths[j] = len;
    plan.writes[j] = batch.op[i]! & Op.WRITE ? 1 : 0;
    plan.timesNs[j] = Math.max(0, batch.timeNs[i]! - t0);
  }
  return plan;
}
