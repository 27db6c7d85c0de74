/**
 * What makes two devices alike for tuning: a fleet's configurations are
 * learned and pinned per class (service/fleet.ts), and a live measurement's
 * site includes it (service/measurement-site.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDiskFile, type BlockDevice } from './resolve.js';

/** A device's class, as an agent reports it. */
export interface DeviceClass {
  model: string;
  capacityBytes: number;
  rotational: boolean;
  /** Hardware queues (blk-mq). */
  queues: number;
  /** Kernel release (uname -r). */
  kernel: string;
}

/** The class key configurations are learned and pinned under: kind, model, size (GiB), queues, kernel major.minor. */
export function deviceClassKey(c: DeviceClass): string {
  const kernel = /^(\d+\.\d+)/.exec(c.kernel)?.[1] ?? c.kernel;
  return `${c.rotational ? 'rot' : 'flash'}|${c.model.trim() || '-'}|${Math.round(c.capacityBytes / 2 ** 30)}G|q${c.queues}|${kernel}`;
}

/** The device's class, from sysfs: model, capacity, rotational, hardware queues; and the kernel. */
export function deviceClassOf(dev: BlockDevice): DeviceClass {
  const read = (f: string) => readDiskFile(dev.disk, f);
  const mq = path.join(dev.disk.sysDir, 'mq');
  return {
    model: read('device/model') || dev.disk.name.replace(/\d+$/, ''),
    capacityBytes: Number(read('size') || 0) * 512,
    rotational: read('queue/rotational') === '1',
    queues: existsSync(mq) ? readdirSync(mq).length : 0,
    kernel: os.release(),
  };
}
