/**
 * Scratch loop devices backed by a file ssdtune creates itself: the only
 * devices the tests and benchmarks write sysfs of (or data to). Needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, ftruncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LoopDevice {
  /** /dev/loopN */
  path: string;
  /** loopN */
  name: string;
  backingFile: string;
  /** Detach the device and delete its backing file (idempotent). */
  destroy(): void;
}

export interface LoopOptions {
  sizeBytes: number;
  /** Open the backing file with O_DIRECT (losetup --direct-io=on), so the backing file's page cache is bypassed. */
  directIo?: boolean;
  /** Directory for the backing file (default: a new temp dir). */
  dir?: string;
  /** Fill with a repeating non-zero pattern so reads are of real data (default: sparse). */
  fill?: boolean;
  /** Scan partitions (losetup -P). */
  partscan?: boolean;
  /** Called with the backing file before it is attached (e.g. to write a partition table into it). */
  beforeAttach?: (backingFile: string) => void;
}

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

export function createLoopDevice(opts: LoopOptions): LoopDevice {
  const dir = mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'ssdtune-loop-'));
  const backingFile = path.join(dir, 'backing.img');
  if (opts.fill) {
    // 1 MiB chunks of a pattern that differs per chunk (no zero pages, no dedup).
    const chunk = Buffer.alloc(1 << 20);
    const fd = openSync(backingFile, 'w');
    try {
      for (let off = 0; off < opts.sizeBytes; off += chunk.length) {
        chunk.fill(((off >> 20) % 251) + 1);
        writeFileSync(fd, chunk.subarray(0, Math.min(chunk.length, opts.sizeBytes - off)));
      }
    } finally {
      closeSync(fd);
    }
  } else {
    const fd = openSync(backingFile, 'w');
    ftruncateSync(fd, opts.sizeBytes);
    closeSync(fd);
  }
  const args = ['--find', '--show'];
  if (opts.directIo) args.push('--direct-io=on');
  if (opts.partscan) args.push('--partscan');
  let dev: string;
  try {
    opts.beforeAttach?.(backingFile);
    dev = execFileSync('losetup', [...args, backingFile], { encoding: 'utf8' }).trim();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let destroyed = false;
  return {
    path: dev,
    name: path.basename(dev),
    backingFile,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        // The kernel can report the device busy for a moment after its last user closed it.
        for (let attempt = 0; ; attempt++) {
          try {
            execFileSync('losetup', ['--detach', dev], { stdio: 'ignore' });
            break;
          } catch (e) {
            if (attempt >= 20) throw e;
            execFileSync('sleep', ['0.1']);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
