/**
 * The one way ssdtune names a block device. A device is given as a path
 * (/dev/nvme0n1p2, /dev/disk/by-id/..., /sys/class/block/sda) or a kernel
 * name (loop0, nvme0n1p2) and resolves to the device itself and the whole
 * disk that owns its request queue: queue attributes are the disk's, and
 * block request tracepoints report the disk's dev_t with disk-relative
 * sectors, so a partition is its sector range on the disk.
 *
 * What a caller needs beyond existence is checked by the caller: capture
 * needs a blk-mq queue and media (requireCapturable), tuning needs only the
 * queue directory (checked here, every block device with attributes has one).
 */
import { existsSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ERR_COLLECT_DEVICE, ERR_DEVICE } from '../errors.js';

/** Where the kernel lists every block device and partition by name. */
export const SYS_CLASS_BLOCK = '/sys/class/block';

/** The whole disk a device belongs to: the owner of the request queue. */
export interface Disk {
  /** Kernel name: loop0, nvme0n1, sda, vda, zram0. */
  name: string;
  major: number;
  minor: number;
  /** "major:minor", as sysfs and /proc/self/mountinfo print it (to notice a name reused by another device). */
  devNumber: string;
  /** Kernel-internal dev_t (MINORBITS = 20), as tracepoints and blktrace record it. */
  dev: number;
  /** The disk's sysfs directory (/sys/devices/.../block/<name>), holding queue/. */
  sysDir: string;
}

export interface BlockDevice {
  /** What the user gave, for messages. */
  given: string;
  /** Device node: `given` when it was a node, else /dev/<name>. */
  path: string;
  /** Kernel name of the device given: loop0, nvme0n1p2. */
  name: string;
  major: number;
  minor: number;
  /** The device's own sysfs directory. */
  sysDir: string;
  /** The whole disk (the device itself unless a partition). */
  disk: Disk;
  /** Set for a partition: its first sector and length on the disk. */
  partition?: { start: number; sectors: number };
  /** The disk has a blk-mq request queue (block request events fire only then). */
  requestBased: boolean;
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
  if (!m) throw ERR_DEVICE(where, `expected "major:minor", read "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

// Kernel block names: letters, digits and a few separators; never a path.
const NAME_RE = /^[A-Za-z0-9._:+-]+$/;
const USAGE = 'expected a device node under /dev, a /sys/class/block entry or a kernel name such as sda, nvme0n1, loop0';

/** The real sysfs directory of what `given` names. */
function sysDirOf(given: string): { sysDir: string; node?: string } {
  if (!given) throw ERR_DEVICE('(empty)', 'no device given');
  if (!given.startsWith('/')) {
    if (!NAME_RE.test(given)) throw ERR_DEVICE(given, `not a block device name (${USAGE})`);
    const classDir = path.join(SYS_CLASS_BLOCK, given);
    if (!existsSync(classDir)) throw ERR_DEVICE(given, `no such device (${classDir} is missing)`);
    return { sysDir: realpathSync(classDir) };
  }
  let real: string;
  try {
    real = realpathSync(given);
  } catch {
    throw ERR_DEVICE(given, 'no such device');
  }
  if (real.startsWith('/sys/')) {
    if (!existsSync(path.join(real, 'dev'))) throw ERR_DEVICE(given, `not a block device (${USAGE})`);
    return { sysDir: real };
  }
  // The name as given, not its real path: a /proc magic link (/dev/stdout on a pipe) resolves to "pipe:[4737985]",
  // a path that does not exist.
  let st: Stats;
  try {
    st = statSync(given);
  } catch {
    throw ERR_DEVICE(given, 'no such device');
  }
  if (!st.isBlockDevice()) throw ERR_DEVICE(given, `not a block device (${USAGE})`);
  // A node is found by its number, not its name: nodes made elsewhere (containers, udev
  // symlinks, mknod) need not carry the kernel name. st.rdev is the glibc makedev encoding.
  const rdev = st.rdev;
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) throw ERR_DEVICE(given, `${sys} is missing (device gone?)`);
  return { sysDir: realpathSync(sys), node: given };
}

export function resolveDevice(given: string): BlockDevice {
  const { sysDir, node } = sysDirOf(given);
  const name = path.basename(sysDir);
  const [major, minor] = majMin(readSys(path.join(sysDir, 'dev')), path.join(sysDir, 'dev'));
  const isPartition = existsSync(path.join(sysDir, 'partition'));
  // A partition shares its disk's request queue.
  const diskSys = isPartition ? path.dirname(sysDir) : sysDir;
  const devNumber = readSys(path.join(diskSys, 'dev'));
  const [dmaj, dmin] = majMin(devNumber, path.join(diskSys, 'dev'));
  const diskName = path.basename(diskSys);
  if (!existsSync(path.join(diskSys, 'queue'))) throw ERR_DEVICE(given, `${diskName} has no request queue (${diskSys}/queue)`);
  return {
    given,
    path: node ?? `/dev/${name}`,
    name,
    major,
    minor,
    sysDir,
    disk: { name: diskName, major: dmaj, minor: dmin, devNumber, dev: kernelDev(dmaj, dmin), sysDir: diskSys },
    ...(isPartition ? { partition: { start: Number(readSys(path.join(sysDir, 'start'))), sectors: Number(readSys(path.join(sysDir, 'size'))) } } : {}),
    requestBased: existsSync(path.join(diskSys, 'mq')),
  };
}

/**
 * What a live capture needs beyond a resolved device: a node to open, media,
 * and a request-based (blk-mq) queue, since block request tracepoints fire
 * only for those; bio-based drivers (zram, device-mapper, md, brd) never
 * create requests.
 */
export function requireCapturable(d: BlockDevice): BlockDevice {
  if (!existsSync(d.path)) throw ERR_COLLECT_DEVICE(d.given, `no device node ${d.path} (pass the node's path)`);
  if (Number(readSys(path.join(d.sysDir, 'size'))) === 0) throw ERR_COLLECT_DEVICE(d.given, 'the device has no media (size 0; a detached loop device?)');
  if (!d.requestBased) {
    throw ERR_COLLECT_DEVICE(
      d.given,
      `${d.disk.name} is bio-based (no blk-mq request queue, as zram, device-mapper and md): block request events never fire for it; capture the disk underneath instead`,
    );
  }
  return d;
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

/** A sysfs file of the disk, trimmed; '' when the driver does not provide it. */
export function readDiskFile(disk: Disk, file: string): string {
  try {
    return readSys(path.join(disk.sysDir, file));
  } catch {
    return '';
  }
}

/**
 * Which medium the disk is, beyond its name (names follow probe order, and a
 * loop device's number is reused): its world-wide id or serial number; for a
 * loop device, its backing file; else only the name. A device's way back is
 * kept for its medium (HostStateRecord.medium).
 */
export function diskMedium(disk: Disk): string {
  const backing = readDiskFile(disk, 'loop/backing_file');
  if (backing) return `loop:${backing}`;
  for (const file of ['wwid', 'device/wwid', 'serial', 'device/serial']) {
    const v = readDiskFile(disk, file);
    if (v) return `${path.basename(file)}:${v}`;
  }
  return `name:${disk.name}`;
}

/**
 * The medium as measured: for a loop device, also whether it bypasses the page cache (direct I/O measures as
 * another device). Measurements are kept per identity (ConfigRecord.measuredOn).
 */
export function diskIdentity(disk: Disk): string {
  const medium = diskMedium(disk);
  return medium.startsWith('loop:') ? `${medium}:dio=${readDiskFile(disk, 'loop/dio') || '?'}` : medium;
}
