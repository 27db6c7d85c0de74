/**
 * Scratch loop devices backed by a file ssdtune creates itself: the only
 * devices the tests and benchmarks write sysfs of (or data to). Needs root.
 * A loop number keeps its queue settings (scheduler, nr_requests,
 * read_ahead_kb, ...) after it is detached, so its next user would inherit
 * what ours set: the allow-listed queue attributes (sysfs.ts, what ssdtune
 * may change) are read when the device is attached and written back before
 * it is detached.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync, ftruncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERR_HOST_RESTORE } from '../errors.js';
import { registerUndo } from '../util/cleanup.js';
import { resolveDevice, type BlockDevice } from './resolve.js';
import { describeLeft, readSnapshot, restoreTo, type Snapshot } from './sysfs.js';

export interface LoopDevice {
  /** /dev/loopN */
  path: string;
  /** loopN */
  name: string;
  backingFile: string;
  /**
   * Give the queue settings back as they were found, detach the device and delete its backing file (idempotent;
   * run at exit too, however the process ends: util/cleanup.ts). Settings that could not be given back are
   * reported (SSDTUNE_HOST_RESTORE) once the device is detached all the same.
   */
  destroy(): void;
}

interface AttachOptions {
  /** Open the backing file with O_DIRECT (losetup --direct-io=on), so the backing file's page cache is bypassed. */
  directIo?: boolean;
  /** Scan partitions (losetup -P). */
  partscan?: boolean;
}

/** A loop device over a new backing file of its own, removed with the device. */
export interface NewBackingOptions extends AttachOptions {
  sizeBytes: number;
  /** Directory for the backing file (default: a new temp dir). */
  dir?: string;
  /** Fill with a repeating non-zero pattern so reads are of real data (default: sparse). */
  fill?: boolean;
  /** Called with the backing file before it is attached (e.g. to write a partition table into it). */
  beforeAttach?: (backingFile: string) => void;
}

/** A loop device over a file its caller made (a FUSE daemon's file): destroy() detaches, the file stays. */
export interface ExistingBackingOptions extends AttachOptions {
  backingFile: string;
}

export type LoopOptions = NewBackingOptions | ExistingBackingOptions;

export function canUseLoopDevices(): string | undefined {
  if (process.platform !== 'linux') return 'loop devices are Linux only';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'creating loop devices needs root';
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'losetup (util-linux) is not installed';
  }
  return undefined;
}

/**
 * The backing file loop device `dev` is attached to now, or undefined when it is attached to none. The kernel
 * appends " (deleted)" to a file removed while attached.
 */
function attachedFile(dev: string): string | undefined {
  try {
    return readFileSync(`/sys/block/${path.basename(dev)}/loop/backing_file`, 'utf8')
      .trim()
      .replace(/ \(deleted\)$/, '');
  } catch {
    return undefined; // no loop/ directory: not attached (or no such device)
  }
}

/**
 * Detaches loop device `dev` if it is still attached to `backingFile` (as the kernel named it when attached), retrying for 2 s: the kernel can report
 * it busy for a moment after its last user closed it. The device is named by number, and a number freed by
 * anyone (`losetup -d` in a test, a kernel autoclear) is the next `losetup --find` of any process: detaching by
 * number alone would then detach another process's device. So the device is checked to be ours first, and a
 * device that is no longer ours is already detached as far as we are concerned.
 */
function detachLoop(dev: string, backingFile: string): void {
  for (let attempt = 0; ; attempt++) {
    if (attachedFile(dev) !== backingFile) return;
    try {
      execFileSync('losetup', ['--detach', dev], { stdio: 'ignore' });
      return;
    } catch (e) {
      if (attempt >= 20) throw e;
      execFileSync('sleep', ['0.1']);
    }
  }
}

export function createLoopDevice(opts: LoopOptions): LoopDevice {
  const own = 'sizeBytes' in opts ? opts : undefined;
  const dir = own ? mkdtempSync(path.join(own.dir ?? os.tmpdir(), 'ssdtune-loop-')) : undefined;
  const backingFile = dir ? path.join(dir, 'backing.img') : (opts as ExistingBackingOptions).backingFile;
  let dev: string | undefined;
  // The backing file as the kernel names it (absolute, symlinks resolved): what detachLoop checks the device by.
  let attachedAs: string | undefined;
  // The queue settings the number had when we attached it.
  let found: { queue: BlockDevice; settings: Snapshot } | undefined;
  const destroy = registerUndo(() => {
    // What could not be given back, reported once the device is detached all the same.
    let unreturned: string | undefined;
    try {
      // Only while the number is still ours (a number detached by someone else may be another process's now).
      if (found && dev && attachedFile(dev) === (attachedAs ?? backingFile)) {
        try {
          const r = restoreTo(found.queue, found.settings); // every attribute is tried, whatever failed before it
          if (r.left.length) unreturned = describeLeft(r);
        } catch (e) {
          unreturned = (e as Error).message;
        }
      }
      if (dev) detachLoop(dev, attachedAs ?? backingFile);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    if (unreturned) {
      throw ERR_HOST_RESTORE(
        dev!,
        'the queue settings the loop number had when attached',
        unreturned,
        'it was detached all the same: its next user inherits them',
      );
    }
  });
  try {
    if (own) makeBackingFile(backingFile, own);
    const args = ['--find', '--show'];
    if (opts.directIo) args.push('--direct-io=on');
    if (opts.partscan) args.push('--partscan');
    dev = execFileSync('losetup', [...args, backingFile], { encoding: 'utf8' }).trim();
    attachedAs = attachedFile(dev);
    const queue = resolveDevice(dev);
    found = { queue, settings: readSnapshot(queue) };
  } catch (e) {
    destroy();
    throw e;
  }
  return { path: dev, name: path.basename(dev), backingFile, destroy };
}

function makeBackingFile(file: string, opts: NewBackingOptions): void {
  const fd = openSync(file, 'w');
  try {
    if (opts.fill) {
      // 1 MiB chunks of a pattern that differs per chunk (no zero pages, no dedup).
      const chunk = Buffer.alloc(1 << 20);
      for (let off = 0; off < opts.sizeBytes; off += chunk.length) {
        chunk.fill(((off >> 20) % 251) + 1);
        writeFileSync(fd, chunk.subarray(0, Math.min(chunk.length, opts.sizeBytes - off)));
      }
    } else ftruncateSync(fd, opts.sizeBytes);
  } finally {
    closeSync(fd);
  }
  opts.beforeAttach?.(file);
}
