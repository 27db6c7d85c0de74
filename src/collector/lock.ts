/** One capture per device: its `collect` lock (blockdev/device-lock.ts), holding the capturing pid. */
import { ERR_COLLECT_BUSY } from '../errors.js';
import { lockBlockDevice, type DeviceLock } from '../blockdev/device-lock.js';
import type { BlockDevice } from '../blockdev/resolve.js';

export type { DeviceLock };

export function lockDevice(dev: BlockDevice): DeviceLock {
  return lockBlockDevice('collect', dev, (owner, file) => ERR_COLLECT_BUSY(dev.path, owner, file));
}
