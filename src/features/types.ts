/** The shapes the feature modules share (apart, so perio.ts and window-native.ts need not import each other). */
import type { TraceBatch } from '../trace/model.js';

/** N consecutive requests of one stream: the batch columns (completeNs when the source has it) plus where they sit. */
export interface RequestWindow extends Pick<TraceBatch, 'length' | 'timeNs' | 'sector' | 'bytes' | 'op' | 'device' | 'completeNs'> {
  /** Device id of the stream when split by device, else -1 (whole trace). */
  readonly stream: number;
  /** Window number within its stream (0-based). */
  readonly index: number;
  /** Index, within the stream, of the window's first request. */
  readonly firstRequest: number;
  /** Requests of the whole trace (every stream) up to and including the window's last: it lies within the first endRequest. */
  readonly endRequest: number;
  /** Arrival of the stream's request just before this window; NaN when the window starts the stream. */
  readonly prevTimeNs: number;
}

export interface PerIoFeatures {
  readonly length: number;
  readonly logIat: Float64Array;
  readonly logOffset: Float64Array;
  readonly logSize: Float64Array;
  readonly isRead: Uint8Array;
  readonly device: Uint32Array;
}
