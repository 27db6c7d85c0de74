/**
 * The size limit of a streamed body (trace uploads, fleet captures, ConfDB
 * imports): a body that declares no length (chunked) is counted as it comes,
 * so what reads it never holds more than the limit whatever is sent.
 */
import { Transform, type Readable } from 'node:stream';
import { ERR_UPLOAD_TOO_LARGE } from '../errors.js';

/** A pass-through that fails with `tooLarge()` (ERR_UPLOAD_TOO_LARGE) once more than `limit` bytes have gone through it. */
export class ByteCap extends Transform {
  /** Bytes seen so far (including the chunk that went over). */
  bytes = 0;
  constructor(
    readonly limit: number,
    private readonly tooLarge: () => Error = () => ERR_UPLOAD_TOO_LARGE(limit),
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes <= this.limit) return cb(null, chunk);
    cb(this.tooLarge());
  }
}

/**
 * `body` through a ByteCap. When the cap fails (over the limit) or whatever
 * reads it stops early, `body` is detached and drained, never destroyed: a
 * request body must be read to its end for its refusal (a 413) to be answered,
 * where destroying it resets the connection. An error of `body` fails the cap.
 */
export function capped(body: Readable, limit: number): ByteCap {
  const cap = new ByteCap(limit);
  body.on('error', (e) => cap.destroy(e));
  cap.on('close', () => {
    if (body.readableEnded) return;
    body.unpipe(cap);
    body.resume();
  });
  return body.pipe(cap);
}
