/**
 * Resolves the block device a capture is for: its disk, and when it is a
 * partition, the partition's sector range on that disk (block request
 * tracepoints report the whole disk's dev_t and disk-relative sectors).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ERR_COLLECT_DEVICE } from '../errors.js';

export interface BlockDevice {
  /** Path the user gave. */
  path: string;
  /** Kernel name, e.g. loop0, nvme0n1p2. */
  name: string;
  major: number;
  minor: number;
  /** The whole disk the device belongs to (itself unless a partition). */
  disk: { name: string; major: number; minor: number; dev: number };
  /** Set for a partition: its first sector and length on the disk. */
  partition?: { start: number; sectors: number };
}

/** Linux kernel-internal dev_t encoding (MINORBITS = 20), as tracepoints and blktrace record it. */
export function kernelDev(major: number, minor: number): number {
  return ((major << 20) | minor) >>> 0;
}

function readSys(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

function majMin(s: string, where: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw ERR_COLLECT_DEVICE(where, `expected "major:minor", read "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Block request tracepoints fire only for request-based (blk-mq) queues;
 * bio-based drivers (zram, device-mapper, md, brd) never create requests.
 */
function requireRequestQueue(devPath: string, diskSys: string): void {
  if (!existsSync(path.join(diskSys, 'mq'))) {
    throw ERR_COLLECT_DEVICE(devPath, `${path.basename(diskSys)} is bio-based (no blk-mq request queue, as zram, device-mapper and md): block request events never fire for it; capture the disk underneath instead`);
  }
}

export function resolveDevice(devPath: string): BlockDevice {
  if (!existsSync(devPath)) throw ERR_COLLECT_DEVICE(devPath, 'no such device');
  const st = statSync(devPath);
  if (!st.isBlockDevice()) throw ERR_COLLECT_DEVICE(devPath, 'not a block device');
  // st.rdev is the user-space dev_t encoding (glibc makedev).
  const rdev = st.rdev;
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) throw ERR_COLLECT_DEVICE(devPath, `${sys} is missing (device gone?)`);
  const real = realpathSync(sys);
  const name = path.basename(real);
  if (Number(readSys(path.join(real, 'size'))) === 0) throw ERR_COLLECT_DEVICE(devPath, 'the device has no media (size 0; a detached loop device?)');
  if (existsSync(path.join(real, 'partition'))) {
    const parent = path.dirname(real);
    requireRequestQueue(devPath, parent);
    const [dmaj, dmin] = majMin(readSys(path.join(parent, 'dev')), path.join(parent, 'dev'));
    return {
      path: devPath,
      name,
      major,
      minor,
      disk: { name: path.basename(parent), major: dmaj, minor: dmin, dev: kernelDev(dmaj, dmin) },
      partition: { start: Number(readSys(path.join(real, 'start'))), sectors: Number(readSys(path.join(real, 'size'))) },
    };
  }
  requireRequestQueue(devPath, real);
  return { path: devPath, name, major, minor, disk: { name, major, minor, dev: kernelDev(major, minor) } };
}

/**
 * True while the device still exists and has media (a capture checks this to
 * notice removal; a detached loop device keeps its node but drops to size 0).
 */
export function deviceAlive(d: BlockDevice): boolean {
  try {
    return Number(readSys(`/sys/dev/block/${d.major}:${d.minor}/size`)) > 0;
  } catch {
    return false;
  }
}
