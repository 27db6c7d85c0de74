/**
 * One capture per device: a lock file /run/ssdtune/collect-<maj>_<min>.lock
 * holding the capturing pid. A lock whose pid is gone is stale and taken over,
 * so a killed capture never blocks the next one.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ERR_COLLECT_BUSY } from '../errors.js';
import { registerUndo } from './cleanup.js';
import type { BlockDevice } from './device.js';

export const LOCK_DIR = process.env.SSDTUNE_RUN_DIR ?? '/run/ssdtune';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DeviceLock {
  file: string;
  release(): void;
}

export function lockDevice(dev: BlockDevice): DeviceLock {
  mkdirSync(LOCK_DIR, { recursive: true });
  const file = `${LOCK_DIR}/collect-${dev.major}_${dev.minor}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      const release = registerUndo(() => {
        try {
          if (Number(readFileSync(file, 'utf8').trim()) === process.pid) unlinkSync(file);
        } catch {
          /* already gone */
        }
      });
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(file, 'utf8').trim());
      } catch {
        continue; // removed meanwhile: retry
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw ERR_COLLECT_BUSY(dev.path, owner, file);
      }
      if (owner === process.pid) throw ERR_COLLECT_BUSY(dev.path, owner, file);
      try {
        unlinkSync(file); // stale: its process is gone
      } catch {
        /* raced with another taker */
      }
    }
  }
  throw ERR_COLLECT_BUSY(dev.path, 'another process', file);
}
