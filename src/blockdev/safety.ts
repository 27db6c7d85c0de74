/**
 * Before replaying anything on a device: is it in use? A mounted partition,
 * a holder (device-mapper, md) or a filesystem signature means someone's data
 * lives there, so the live evaluator refuses unless forced.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ERR_HOST_UNSAFE, ERR_PERMISSION } from '../errors.js';
import { resolveDevice, type BlockDevice } from './resolve.js';

/** The disk and its partitions: name -> major:minor. */
function familyDevNumbers(dev: BlockDevice): Map<string, string> {
  const out = new Map([[dev.disk.name, dev.disk.devNumber]]);
  for (const e of readdirSync(dev.disk.sysDir)) {
    const p = path.join(dev.disk.sysDir, e);
    if (existsSync(path.join(p, 'partition'))) out.set(e, readFileSync(path.join(p, 'dev'), 'utf8').trim());
  }
  return out;
}

/** Mount points of the device or its partitions (from /proc/self/mountinfo, by major:minor). */
export function mountsOf(dev: BlockDevice): string[] {
  const nums = new Set(familyDevNumbers(dev).values());
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && nums.has(f[2]!)) out.push(f[4]!);
  }
  // Swap is not in mountinfo.
  if (existsSync('/proc/swaps')) {
    for (const line of readFileSync('/proc/swaps', 'utf8').split('\n').slice(1)) {
      const name = line.split(/\s+/)[0];
      if (name && [...familyDevNumbers(dev).keys()].some((n) => name === `/dev/${n}`)) out.push(`swap ${name}`);
    }
  }
  return out;
}

/** Devices stacked on this one (dm, md, bcache) for the disk and each partition. */
export function holdersOf(dev: BlockDevice): string[] {
  const out: string[] = [];
  for (const name of familyDevNumbers(dev).keys()) {
    const dir = name === dev.disk.name ? path.join(dev.disk.sysDir, 'holders') : path.join(dev.disk.sysDir, name, 'holders');
    if (existsSync(dir)) out.push(...readdirSync(dir));
  }
  return out;
}

// Magic bytes of common signatures, for machines without blkid: [offset, bytes, name].
const MAGIC: [number, Buffer, string][] = [
  [0x438, Buffer.from([0x53, 0xef]), 'ext2/3/4'],
  [0, Buffer.from('XFSB'), 'xfs'],
  [0x10040, Buffer.from('_BHRfS_M'), 'btrfs'],
  [4086, Buffer.from('SWAPSPACE2'), 'swap'],
  [0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]), 'LUKS'],
  [0x1000, Buffer.from([0x10, 0x20, 0xf5, 0xf2]), 'f2fs'],
  [510, Buffer.from([0x55, 0xaa]), 'partition table (MBR/GPT)'],
];

/** The signature found on the device (filesystem, swap, LUKS, partition table), or undefined. */
export function signatureOf(devPath: string): string | undefined {
  try {
    const out = execFileSync('blkid', ['-p', '-o', 'export', devPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const type = /^(?:TYPE|PTTYPE)=(.*)$/m.exec(out);
    if (type) return type[1];
  } catch (e) {
    const status = (e as { status?: number }).status;
    // blkid exits 2 when it finds nothing; anything else (missing binary) falls back to magic bytes.
    if (status === 2) return undefined;
  }
  let fd: number;
  try {
    fd = openSync(devPath, 'r');
  } catch (e) {
    throw ERR_PERMISSION(
      `${devPath}: cannot read its first bytes to check it holds no one's data (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    const buf = Buffer.alloc(0x10048);
    const n = readSync(fd, buf, 0, buf.length, 0);
    for (const [off, magic, name] of MAGIC) {
      if (off + magic.length <= n && buf.subarray(off, off + magic.length).equals(magic)) return name;
    }
  } finally {
    closeSync(fd);
  }
  return undefined;
}

/**
 * The device a live replay may use: a whole disk (a partition shares its disk's queue, which the replay tunes), free
 * to replay on (assertReplaySafe). The one check of a live tune's device: made when the request is submitted, so a
 * wrong device is refused at once (service/catalog.ts), and again when the replay starts (LiveEvaluator), since the
 * device may have changed meanwhile.
 */
export function replayDevice(given: string, force: boolean): BlockDevice {
  const dev = resolveDevice(given);
  if (dev.partition) throw ERR_HOST_UNSAFE(given, `is a partition of ${dev.disk.name}; replay on the whole disk`);
  assertReplaySafe(dev, given, force);
  return dev;
}

/** Throw unless the device is free to replay on (or `force`). */
export function assertReplaySafe(dev: BlockDevice, devPath: string, force: boolean): void {
  const mounts = mountsOf(dev);
  if (mounts.length) throw ERR_HOST_UNSAFE(dev.disk.name, `in use: mounted at ${mounts.join(', ')}; the live evaluator never replays on a mounted device`);
  const holders = holdersOf(dev);
  // No front end offers force (LiveOptions.force is for programs that made the device): the messages do not suggest it.
  if (holders.length && !force)
    throw ERR_HOST_UNSAFE(dev.disk.name, `in use by ${holders.join(', ')}; the live evaluator replays only on a device nothing is stacked on`);
  if (force) return;
  const sig = signatureOf(devPath);
  if (sig)
    throw ERR_HOST_UNSAFE(
      dev.disk.name,
      `has a ${sig} signature (someone's data); the live evaluator replays only on a device with no filesystem or partition table`,
    );
}
