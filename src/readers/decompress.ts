/**
 * gzip / bz2 / xz / zstd decompression in the native addon
 * (native/src/decompress_engine.h), pulled in bounded pieces: the decoder is
 * asked for the next piece (at most `outChunk` bytes, on the libuv thread
 * pool) only when the consumer of this generator asks for it, and is lent the
 * next compressed slice only when it has used up the last. Memory is one
 * output piece, one input slice and the codec's own state (bounded by
 * `memLimit`), whatever the compression ratio: a decompression bomb costs
 * time, not memory, and the caps in input.ts stop it.
 */
import { native } from '../native.js';

export type Codec = 'gzip' | 'bz2' | 'xz' | 'zstd';

/** Native Status (decompress_engine.h). */
const enum Status {
  OUTPUT_FULL = 0,
  NEED_INPUT = 1,
  END = 2,
}

interface NativeDecompressor {
  decode(input: Buffer | null, eof: boolean, cb: (err: Error | null, out: Buffer | null, status: Status, inputLeft: number) => void): void;
}

/** A decoder failure and where in the compressed data it happened. */
export class DecodeError extends Error {
  constructor(
    message: string,
    /** Compressed bytes consumed before the failure. */
    readonly compressedOffset: number,
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

export interface DecodeOptions {
  /** Largest decoder state (xz dictionary, zstd window), bytes. */
  memLimit: number;
  /** Largest piece of output per decoder call, bytes. */
  outChunk: number;
}

export class Decoder {
  private readonly d: NativeDecompressor;
  /** Compressed bytes the decoder has consumed. */
  consumed = 0;

  constructor(codec: Codec, opts: DecodeOptions) {
    const Ctor = native().Decompressor as new (kind: string, memLimit: number, outChunk: number) => NativeDecompressor;
    this.d = new Ctor(codec, opts.memLimit, opts.outChunk);
  }

  /**
   * The decompressed pieces of `input` (compressed slices, pulled one at a
   * time), each at most outChunk bytes. Throws DecodeError on corrupt or
   * truncated data.
   */
  async *decode(input: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
    let lent = 0; // bytes of the current slice
    let eof = false;
    let next: Buffer | null = null;
    let left = 0;
    for (;;) {
      if (left === 0 && !eof) {
        const r = await input.next();
        if (r.done) eof = true;
        else {
          next = r.value;
          lent = r.value.length;
          if (lent === 0) continue;
        }
      }
      const { out, status, inputLeft } = await this.call(next, eof, next ? lent : left);
      left = inputLeft;
      next = null;
      if (out) yield out;
      if (status === Status.END) return;
      if (status === Status.NEED_INPUT && eof) return; // the engine reports truncation as an error itself
    }
  }

  /** One native decode; `avail` is the input lent and not yet used (the new slice's length, or what is left). */
  private call(input: Buffer | null, eof: boolean, avail: number): Promise<{ out: Buffer | null; status: Status; inputLeft: number }> {
    return new Promise((resolve, reject) => {
      this.d.decode(input, eof, (err, out, status, inputLeft) => {
        this.consumed += avail - inputLeft;
        if (err) reject(new DecodeError(err.message, this.consumed, /ends before the end/.test(err.message)));
        else resolve({ out, status, inputLeft });
      });
    });
  }
}
