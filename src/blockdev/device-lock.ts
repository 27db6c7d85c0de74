/**
 * Machine-wide locks on a block device, one per purpose: a lock file
 * /run/ssdtune/<purpose>-<major>_<minor>.lock held with flock and naming the
 * owner's pid (util/pid-lock.ts: the kernel releases it when its owner ends,
 * so a killed process never blocks the next one). Machine-wide rather than per
 * ConfDB: two ssdtune processes with different data directories reach one
 * device as surely as two sharing one.
 */
import { acquirePidLock } from '../util/pid-lock.js';
import { registerUndo } from '../util/cleanup.js';

/**
 * Fixed, not configurable: a lock excludes only the processes that look for it in the same place, so a directory
 * taken from the environment (SSDTUNE_RUN_DIR, read until it let two processes each hold their own lock of one
 * disk) would make it per process again. Tests need no directory of their own: each locks the devices it creates.
 */
export const LOCK_DIR = '/run/ssdtune';

/**
 * - collect: one capture per device;
 * - queue: one change of a disk's queue attributes at a time (apply, a live evaluation's trial, revert).
 */
export type DeviceLockPurpose = 'collect' | 'queue';

export interface DeviceLock {
  file: string;
  /** Removes the lock (also run by the process's exit cleanup). */
  release(): void;
}

/** Take the lock or throw `busy(owner, file)`: owner is the holding pid (this process's own when it already holds it). */
export function lockBlockDevice(
  purpose: DeviceLockPurpose,
  dev: { major: number; minor: number },
  busy: (owner: number | string, file: string) => Error,
): DeviceLock {
  const file = `${LOCK_DIR}/${purpose}-${dev.major}_${dev.minor}.lock`;
  const unlock = acquirePidLock(file, (owner) => busy(owner, file));
  return { file, release: registerUndo(unlock) };
}
