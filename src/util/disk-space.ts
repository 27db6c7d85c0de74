/**
 * Keeping free space on a file system that other writers need. The server's uploads (traces, fleet captures) go to
 * the data directory, where the embedded ConfDB writes too: uploads that filled the file system would leave
 * LevelDB unable to write (ENOSPC), failing every request that stores a record, job updates included. An upload
 * is refused instead once the space left would fall below a reserve.
 */
import { statfsSync } from 'node:fs';
import { Transform } from 'node:stream';
import { ERR_NO_SPACE } from '../errors.js';

/** Bytes an unprivileged writer can still use on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** How often a stream looks at the free space again: what it may write beyond the reserve at most. */
export const SPACE_CHECK_BYTES = 8 << 20;

/**
 * A pass-through that fails with SSDTUNE_NO_SPACE when the file system holding `dir` has less than `reserve`
 * bytes free: at once, and again after every SPACE_CHECK_BYTES that go through it.
 */
export class SpaceGuard extends Transform {
  private sinceCheck = 0;
  constructor(
    private readonly dir: string,
    private readonly reserve: number,
    private readonly what: string,
  ) {
    super();
    this.check();
  }

  private check(): void {
    const free = freeBytes(this.dir);
    if (free < this.reserve) throw ERR_NO_SPACE(this.what, this.dir, free, this.reserve);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, data?: Buffer) => void): void {
    this.sinceCheck += chunk.length;
    if (this.sinceCheck >= SPACE_CHECK_BYTES) {
      this.sinceCheck = 0;
      try {
        this.check();
      } catch (e) {
        return cb(e as Error);
      }
    }
    cb(null, chunk);
  }
}
