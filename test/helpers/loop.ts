/**
 * Scratch loop devices for the host tests, in a known state. A loop number keeps its queue settings after it is
 * detached (loop.ts gives back what it found, but another tool, or a process killed with SIGKILL, leaves its own
 * to the number's next user), and udev rules on some distributions
 * give every block device a scheduler. The tests that need the kernel's bound on nr_requests without a scheduler
 * (the tag depth) would then depend on the machine's history: they start from none themselves, on a device they
 * created.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createLoopDevice, type LoopDevice } from '../../src/blockdev/loop.js';
import { resolveDevice } from '../../src/blockdev/resolve.js';
import { parseScheduler, readAttr, writeAttr } from '../../src/blockdev/sysfs.js';

/** A new loop device of `sizeBytes` (a sparse file, or with `fill` one of real data) whose queue has no scheduler. */
export function loopWithoutScheduler(sizeBytes: number, o: { fill?: boolean } = {}): LoopDevice {
  const loop = createLoopDevice({ sizeBytes, ...(o.fill ? { fill: true } : {}) });
  try {
    const dev = resolveDevice(loop.path);
    if (parseScheduler(readAttr(dev, 'scheduler')).active !== 'none') writeAttr(dev, 'scheduler', 'none');
  } catch (e) {
    loop.destroy();
    throw e;
  }
  return loop;
}

/**
 * What writing max_sectors_kb=`kb` does to a read_ahead_kb of 8 on this kernel, probed on the test's own device
 * through sysfs (not through ssdtune), then given back: the raised value, or undefined where the kernel leaves it.
 */
export function readaheadAfterMaxSectors(queue: string, kb: number): string | undefined {
  const [ra, msk] = ['read_ahead_kb', 'max_sectors_kb'].map((f) => readFileSync(`${queue}/${f}`, 'utf8').trim());
  writeFileSync(`${queue}/read_ahead_kb`, '8');
  writeFileSync(`${queue}/max_sectors_kb`, String(kb));
  const raised = readFileSync(`${queue}/read_ahead_kb`, 'utf8').trim();
  writeFileSync(`${queue}/max_sectors_kb`, msk!);
  writeFileSync(`${queue}/read_ahead_kb`, ra!);
  return raised === '8' ? undefined : raised;
}

/** A max_sectors_kb the device does not have (64, or 32 where it has 64), and what writing it does to a read_ahead_kb of 8. */
export function maxSectorsCoupling(queue: string): { kb: number; raised: string | undefined } {
  const hw = Number(readFileSync(`${queue}/max_hw_sectors_kb`, 'utf8'));
  const kb = Math.min(hw, readFileSync(`${queue}/max_sectors_kb`, 'utf8').trim() === '64' ? 32 : 64);
  return { kb, raised: readaheadAfterMaxSectors(queue, kb) };
}
