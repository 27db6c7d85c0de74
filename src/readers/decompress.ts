/**
 * bz2 / xz / zstd decompression as a Node Transform stream, on the native
 * addon's Decompressor (libbz2, liblzma, libzstd). Each chunk is decompressed
 * on the libuv thread pool, so it overlaps with parsing the previous one.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { native } from '../native.js';

export type NativeCodec = 'bz2' | 'xz' | 'zstd';

interface NativeDecompressor {
  push(chunk: Buffer, cb: (err: Error | null, out: Buffer[]) => void): void;
  end(): Buffer[];
}

/** Slices fed to the decoder, so one call's output (up to ~50x for bz2) stays bounded. */
const SLICE = 256 * 1024;

export class NativeDecompressStream extends Transform {
  private readonly d: NativeDecompressor;
  /** Compressed bytes handed to the decoder so far (for error positions). */
  consumed = 0;

  constructor(readonly codec: NativeCodec) {
    super();
    const Ctor = native().Decompressor as new (kind: string) => NativeDecompressor;
    this.d = new Ctor(codec);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    const next = (): void => {
      if (off >= chunk.length) return cb();
      const part = chunk.subarray(off, off + SLICE);
      this.d.push(part, (err, out) => {
        if (err) return cb(Object.assign(err, { compressedOffset: this.consumed, compressedEnd: this.consumed + part.length }));
        this.consumed += part.length;
        off += part.length;
        for (const b of out) this.push(b);
        next();
      });
    };
    next();
  }

  override _flush(cb: TransformCallback): void {
    try {
      for (const b of this.d.end()) this.push(b);
      cb();
    } catch (e) {
      cb(Object.assign(e as Error, { compressedOffset: this.consumed, truncated: true }));
    }
  }
}
