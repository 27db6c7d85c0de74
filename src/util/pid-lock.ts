/**
 * Lock files that hold the owner's pid, created with O_EXCL. A lock whose pid
 * is gone is stale and taken over, so a killed process never blocks the next
 * one. Used for one capture per device and one retune per device.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { running } from './running.js';

/**
 * Take `file` or throw `busy(owner)` (owner: the holding pid, or 'another
 * process' when the race could not be settled). The returned function
 * removes the lock if this process still holds it.
 */
export function acquirePidLock(file: string, busy: (owner: number | string) => Error, mode = 0o644): () => void {
  mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', mode);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (Number(readFileSync(file, 'utf8').trim()) === process.pid) unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner: number;
      try {
        owner = Number(readFileSync(file, 'utf8').trim());
      } catch {
        continue; // removed meanwhile: retry
      }
      // Held by this very process (a second capture/retune from the same server) or by a live one.
      if (owner === process.pid || (Number.isInteger(owner) && owner > 0 && running(owner))) throw busy(owner);
      try {
        unlinkSync(file); // stale: its process is gone
      } catch {
        /* raced with another taker */
      }
    }
  }
  throw busy('another process');
}
