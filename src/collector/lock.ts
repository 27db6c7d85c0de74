/**
 * One capture per device: a lock file /run/ssdtune/collect-<maj>_<min>.lock
 * holding the capturing pid. A lock whose pid is gone is stale and taken over,
 * so a killed capture never blocks the next one.
 */
import { ERR_COLLECT_BUSY } from '../errors.js';
import { acquirePidLock } from '../util/pid-lock.js';
import { registerUndo } from '../util/cleanup.js';
import type { BlockDevice } from '../blockdev/resolve.js';

export const LOCK_DIR = process.env.SSDTUNE_RUN_DIR ?? '/run/ssdtune';

export interface DeviceLock {
  file: string;
  release(): void;
}

export function lockDevice(dev: BlockDevice): DeviceLock {
  const file = `${LOCK_DIR}/collect-${dev.major}_${dev.minor}.lock`;
  const unlock = acquirePidLock(file, (owner) => ERR_COLLECT_BUSY(dev.path, owner, file));
  return { file, release: registerUndo(unlock) };
}
