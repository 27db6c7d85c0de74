/**
 * Scratch block devices and fio runs for the collector's tests, benchmarks
 * and the doctor's blktrace probe: a loop device over a sparse file in a temp dir (never a device
 * that holds data: a signature check refuses one), a zram disk, or a slow
 * device (a loop device over a FUSE daemon's file), always torn down by
 * `destroy()`, and at exit however the process ends (util/cleanup.ts) should
 * it end first. Only devices created here are ever written.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLoopDevice, type LoopDevice } from '../blockdev/loop.js';
import { PROJECT_ROOT } from '../native.js';
import { killAtExit, registerUndo } from '../util/cleanup.js';
import { running } from '../util/running.js';

export interface ScratchDevice {
  path: string;
  name: string;
  /** Partition device nodes (createLoop with `partition`). */
  partitions?: string[];
  destroy(): void;
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** blkid finds no filesystem, partition table or RAID signature on `dev`. */
export function hasSignature(dev: string): boolean {
  // exit 2 = nothing found; 0 = something found
  return spawnSync('blkid', ['-p', dev], { stdio: 'ignore' }).status === 0;
}

export interface LoopOptions {
  /** Directory of the backing file (default the system temp dir; /dev/shm puts it in RAM). */
  dir?: string;
  /** Write a DOS partition table with one partition [start, start+sectors) to the backing file first. */
  partition?: { start: number; sectors: number };
}

/** A DOS MBR with one Linux partition (type 0x83) in LBA form. */
function writeMbr(file: string, start: number, sectors: number): void {
  const mbr = Buffer.alloc(512);
  const e = 446;
  mbr[e + 4] = 0x83;
  mbr.fill(0xff, e + 1, e + 4); // CHS "use LBA"
  mbr.fill(0xff, e + 5, e + 8);
  mbr.writeUInt32LE(start, e + 8);
  mbr.writeUInt32LE(sectors, e + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, mbr, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
}

export function createLoop(sizeMiB = 64, opts: LoopOptions = {}): ScratchDevice {
  const part = opts.partition;
  const loop = createLoopDevice({
    sizeBytes: sizeMiB << 20,
    ...(opts.dir ? { dir: opts.dir } : {}),
    // Direct I/O to the backing file makes the loop device take the file
    // system's 4 KiB logical block size, which would rescale an MBR's LBAs.
    ...(part ? { partscan: true } : { directIo: true }),
    // The table goes into the backing file, never onto a device: it is ours.
    ...(part ? { beforeAttach: (file: string) => writeMbr(file, part.start, part.sectors) } : {}),
  });
  const dev = loop.path;
  const made: string[] = [];
  const destroy = registerUndo(() => {
    for (const n of made) rmSync(n, { force: true });
    try {
      loop.destroy();
    } catch {
      /* a test may have detached it already (device-gone cases); the backing dir is removed regardless */
    }
  });
  const name = path.basename(dev);
  if (opts.partition) {
    // Without udev (containers) nobody creates /dev/loopNp1: make the node from sysfs.
    const sys = `/sys/block/${name}/${name}p1/dev`;
    // The scan at attach time can miss the table (seen on 6.18 without
    // udev): ask again every half second for up to 3 s.
    for (let i = 0; i < 60 && !existsSync(sys); i++) {
      spawnSync('sleep', ['0.05']);
      if (i % 10 === 9) {
        spawnSync('blockdev', ['--rereadpt', dev], { stdio: 'ignore' });
        spawnSync('partx', ['-a', dev], { stdio: 'ignore' });
      }
    }
    const node = `/dev/${name}p1`;
    try {
      if (!existsSync(node)) {
        const [maj, min] = readFileSync(sys, 'utf8').trim().split(':');
        execFileSync('mknod', [node, 'b', maj!, min!]);
        made.push(node);
      }
    } catch (e) {
      destroy();
      throw e;
    }
    return { path: dev, name, partitions: [node], destroy };
  }
  if (hasSignature(dev)) {
    destroy();
    throw new Error(`${dev} shows a signature right after creation: refusing to use it`);
  }
  return { path: dev, name, destroy };
}

/** A zram disk of `sizeMiB` (RAM-backed: no backing-file cost in the figures). */
export function createZram(sizeMiB = 256): ScratchDevice {
  if (!existsSync('/sys/class/zram-control/hot_add')) throw new Error('zram is not available (modprobe zram)');
  const id = readFileSync('/sys/class/zram-control/hot_add', 'utf8').trim();
  const name = `zram${id}`;
  const destroy = registerUndo(() => {
    try {
      writeFileSync(`/sys/block/${name}/reset`, '1');
    } catch {
      /* not set up */
    }
    try {
      writeFileSync('/sys/class/zram-control/hot_remove', id);
    } catch {
      /* gone */
    }
  });
  try {
    writeFileSync(`/sys/block/${name}/disksize`, `${sizeMiB}M`);
  } catch (e) {
    destroy();
    throw e;
  }
  return { path: `/dev/${name}`, name, destroy };
}

const FUSE_SOURCE = path.join(PROJECT_ROOT, 'bench', 'fuse-delay.c');

/** Why the FUSE device cannot be built here, or undefined when it can. */
export function fuseMissing(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is absent (kernel without CONFIG_FUSE_FS, or not exposed to this container)';
  if (!existsSync(FUSE_SOURCE)) return `${FUSE_SOURCE} is missing (run from the source tree)`;
  if (!haveTool('cc')) return 'no C compiler (apt-get install build-essential)';
  if (spawnSync('pkg-config', ['--exists', 'fuse3']).status !== 0) return 'libfuse3 is not installed (apt-get install libfuse3-dev)';
  return undefined;
}

/**
 * A loop device (direct I/O) over the file of bench/fuse-delay.c's file
 * system, whose backing file lives in /dev/shm: apart from FUSE's own cost,
 * every request takes the added service time. The helper is compiled into
 * a temporary directory; destroy() (or the exit, however the process
 * ends) detaches the loop device, unmounts, stops the helper and removes
 * every file it made, in that order.
 */
export function createFuseLoop(serviceUs: number): ScratchDevice {
  const work = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-bench-fuse-'));
  const back = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'ssdtune-bench-fuse-'));
  const mnt = path.join(work, 'mnt');
  let helper: ReturnType<typeof spawn> | undefined;
  let loop: LoopDevice | undefined;
  let mounted = false;
  const destroy = registerUndo(() => {
    try {
      loop?.destroy();
      loop = undefined;
      if (mounted) spawnSync('umount', [mnt], { stdio: 'ignore' });
      mounted = false;
    } finally {
      const pid = helper?.pid;
      helper?.kill('SIGTERM');
      helper = undefined;
      // Gone before its files go (a zombie until node reaps it counts as gone).
      for (let i = 0; pid && i < 100 && running(pid); i++) spawnSync('sleep', ['0.05']);
      rmSync(work, { recursive: true, force: true });
      rmSync(back, { recursive: true, force: true });
    }
  });
  try {
    const bin = path.join(work, 'fuse-delay');
    const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
    execFileSync('cc', ['-O2', '-Wall', FUSE_SOURCE, ...flags, '-o', bin], { stdio: ['ignore', 'ignore', 'inherit'] });
    const img = path.join(back, 'backing.img');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, 256 << 20);
    closeSync(fd);
    mkdirSync(mnt);
    helper = spawn(bin, [img, mnt, String(serviceUs)], { stdio: ['ignore', 'ignore', 'inherit'] });
    mounted = true;
    const file = path.join(mnt, 'disk');
    for (let i = 0; i < 100 && !existsSync(file); i++) spawnSync('sleep', ['0.05']);
    if (!existsSync(file)) throw new Error(`fuse-delay did not mount ${mnt} within 5 s`);
    loop = createLoopDevice({ backingFile: file, directIo: true });
    // Without direct I/O the page cache would serve reads and the added latency would not show.
    if (readFileSync(`/sys/block/${loop.name}/loop/dio`, 'utf8').trim() !== '1') throw new Error(`${loop.path}: the kernel refused direct I/O over FUSE`);
    return { path: loop.path, name: loop.name, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

export interface FioIo {
  op: 'read' | 'write';
  offset: number;
  bytes: number;
}

export interface FioJob {
  rw: 'randread' | 'randwrite' | 'read' | 'write' | 'randrw';
  bs: number;
  ios: number;
  size?: string;
  offset?: number;
  rwmixread?: number;
  iodepth?: number;
  runtimeSec?: number;
  extra?: string[];
}

export interface FioResult {
  /** The I/Os fio issued, from its iolog (empty for time-based runs). */
  ios: FioIo[];
  iops: number;
  /** I/Os completed (read + write). */
  total: number;
  /** fio's own CPU (user+sys) per completed I/O, microseconds: the submit-side tracing cost lands here. */
  cpuUsPerIo: number;
  json: unknown;
}

function fioArgs(dev: string, job: FioJob, log: string): string[] {
  return [
    '--name=ssdtune',
    `--filename=${dev}`,
    `--rw=${job.rw}`,
    `--bs=${job.bs}`,
    '--direct=1',
    `--size=${job.size ?? '32M'}`,
    `--offset=${job.offset ?? 0}`,
    '--randrepeat=1',
    '--output-format=json',
    ...(job.iodepth ? [`--iodepth=${job.iodepth}`, '--ioengine=libaio'] : ['--ioengine=psync']),
    ...(job.ios > 0 ? [`--number_ios=${job.ios}`, `--write_iolog=${log}`] : []),
    ...(job.rwmixread !== undefined ? [`--rwmixread=${job.rwmixread}`] : []),
    ...(job.runtimeSec ? [`--runtime=${job.runtimeSec}`, '--time_based'] : []),
    ...(job.extra ?? []),
  ];
}

function fioResult(out: string, log: string, job: FioJob): FioResult {
  type Side = { iops: number; total_ios: number };
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: { read: Side; write: Side; usr_cpu: number; sys_cpu: number; job_runtime: number }[] };
  const iops = json.jobs.reduce((a, j) => a + j.read.iops + j.write.iops, 0);
  const total = json.jobs.reduce((a, j) => a + j.read.total_ios + j.write.total_ios, 0);
  const cpuUs = json.jobs.reduce((a, j) => a + ((j.usr_cpu + j.sys_cpu) / 100) * j.job_runtime * 1000, 0);
  const cpuUsPerIo = total > 0 ? cpuUs / total : NaN;
  const ios: FioIo[] = [];
  if (job.ios > 0) {
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const m = /\s(read|write)\s+(\d+)\s+(\d+)$/.exec(line.trim()); // v2 and v3 (timestamped) lines
      if (m) ios.push({ op: m[1] as 'read' | 'write', offset: Number(m[2]), bytes: Number(m[3]) });
    }
  }
  return { ios, iops, total, cpuUsPerIo, json };
}

/** Runs fio with O_DIRECT on `dev` (blocking: the event loop waits). */
export function runFio(dev: string, job: FioJob): FioResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-fio-'));
  try {
    const log = path.join(dir, 'iolog');
    const out = execFileSync('fio', fioArgs(dev, job, log), { encoding: 'utf8', maxBuffer: 64 << 20 });
    return fioResult(out, log, job);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs fio as `runFio` does, without blocking the event loop (a capture in this process keeps running). */
export async function runFioAsync(dev: string, job: FioJob): Promise<FioResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-fio-'));
  const removeDir = registerUndo(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const log = path.join(dir, 'iolog');
    const child = spawn('fio', fioArgs(dev, job, log), { stdio: ['ignore', 'pipe', 'pipe'] });
    // fio holds the device open: a loop device cannot be detached under it. SIGTERM, not SIGKILL: fio
    // runs each job in a forked process of its own session, which outlives a killed fio for the whole
    // runtime; asked to stop, fio ends its jobs itself.
    killAtExit(child, { signal: 'SIGTERM', graceMs: 5000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    if (code !== 0) throw new Error(`fio exited with ${code}: ${err}`);
    return fioResult(out, log, job);
  } finally {
    removeDir();
  }
}
