/**
 * Kernel blktrace backend: BLKTRACESETUP/START/STOP/TEARDOWN through the
 * addon, and the per-CPU relay files <debugfs>/block/<name>/trace<cpu>, which
 * already hold standard blk_io_trace records. They are copied as they fill
 * into per-CPU files <dir>/<name>.blktrace.<cpu> (what blktrace(8) writes),
 * and decoded by the project's blktrace file reader, so there is one parser
 * of that format.
 *
 * Under kernel lockdown the setup ioctl succeeds but opening a relay file
 * fails with EPERM ("Lockdown: blktrace: debugfs access is restricted"):
 * that is detected, everything is torn down, and a coded error names the
 * backends that do work.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERR_COLLECT_BACKEND, ERR_COLLECT_LOCKDOWN } from '../errors.js';
import { native } from '../native.js';
import { openTrace } from '../readers/registry.js';
import { registerUndo } from '../util/cleanup.js';
import { deviceAlive, type BlockDevice } from '../blockdev/resolve.js';
import { LiveCapture } from './live.js';
import type { CaptureOptions } from './types.js';

interface BlktraceIoctls {
  blktraceSetup(fd: number, o: { bufSize?: number; bufNr?: number; actMask?: number; startLba?: number; endLba?: number }): string;
  blktraceStart(fd: number): void;
  blktraceStop(fd: number): void;
  blktraceTeardown(fd: number): void;
}

export function debugfsRoot(): string | undefined {
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'debugfs' && dir) return dir;
    }
  } catch {
    /* no /proc */
  }
  return undefined;
}

function ioctls(): BlktraceIoctls {
  return native().collector as BlktraceIoctls;
}

/** Kernel blktrace session on one device: setup, relay files open, torn down by `close()`. */
export class BlktraceSession {
  readonly name: string;
  readonly dir: string;
  readonly relays: { cpu: number; fd: number }[] = [];
  private fd: number;
  private started = false;
  private readonly undo: () => void;

  constructor(
    readonly device: BlockDevice,
    opts: { bufSize?: number; bufNr?: number } = {},
  ) {
    const debugfs = debugfsRoot();
    if (!debugfs)
      throw ERR_COLLECT_BACKEND('blktrace', 'debugfs is not mounted', 'mount it: mount -t debugfs nodev /sys/kernel/debug; or use --backend ebpf / tracefs');
    this.fd = openSync(device.path, 'r');
    try {
      this.name = ioctls().blktraceSetup(this.fd, { bufSize: opts.bufSize ?? 512 << 10, bufNr: opts.bufNr ?? 8, actMask: 0xffff });
    } catch (e) {
      closeSync(this.fd);
      const err = e as Error & { errno?: number };
      if (err.errno === 16)
        throw ERR_COLLECT_BACKEND(
          'blktrace',
          `${device.path} is already traced by another blktrace (BLKTRACESETUP: EBUSY)`,
          'stop the other blktrace, or use --backend ebpf / tracefs',
        );
      throw ERR_COLLECT_BACKEND('blktrace', err.message, 'use --backend ebpf or --backend tracefs');
    }
    this.undo = registerUndo(() => this.teardown());
    this.dir = path.join(debugfs, 'block', this.name);
    try {
      const cpus = readdirSync(this.dir)
        .map((f) => /^trace(\d+)$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]));
      for (const cpu of cpus.sort((a, b) => a - b)) {
        const file = path.join(this.dir, `trace${cpu}`);
        try {
          this.relays.push({ cpu, fd: openSync(file, 'r') });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EPERM') throw ERR_COLLECT_LOCKDOWN(file);
          throw e;
        }
      }
      if (this.relays.length === 0)
        throw ERR_COLLECT_BACKEND('blktrace', `${this.dir} has no trace<cpu> relay files`, 'use --backend ebpf or --backend tracefs');
    } catch (e) {
      this.undo();
      throw e;
    }
  }

  start(): void {
    ioctls().blktraceStart(this.fd);
    this.started = true;
  }

  /** Copy what each relay file holds into `sink(cpu, bytes)`; returns bytes moved. */
  drain(sink: (cpu: number, data: Buffer) => void): number {
    const buf = Buffer.allocUnsafe(1 << 20);
    let total = 0;
    for (const r of this.relays) {
      for (;;) {
        const n = readSync(r.fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        sink(r.cpu, buf.subarray(0, n));
        total += n;
      }
    }
    return total;
  }

  /** Events the relay channels dropped (the kernel's `dropped` file). */
  dropped(): number {
    try {
      return Number(readFileSync(path.join(this.dir, 'dropped'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  stopTracing(): void {
    if (this.started) {
      this.started = false;
      ioctls().blktraceStop(this.fd);
    }
  }

  close(): void {
    this.undo();
  }

  /** Synchronous and idempotent (runs from exit/signal handlers too). */
  private teardown(): void {
    for (const r of this.relays.splice(0)) {
      try {
        closeSync(r.fd);
      } catch {
        /* closed */
      }
    }
    if (this.fd < 0) return;
    try {
      this.stopTracing();
    } catch {
      /* not started */
    }
    try {
      ioctls().blktraceTeardown(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/**
 * The backend: relay data copied to per-CPU files while the capture runs;
 * at stop they are read back with the blktrace reader and emitted.
 */
export class BlktraceCapture extends LiveCapture {
  readonly backend = 'blktrace' as const;
  readonly session: BlktraceSession;
  readonly outDir: string;
  private readonly outFds = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;
  private readonly ownDir: boolean;

  /** `keepDir`: write the per-CPU files there and keep them (the collect command's output). */
  constructor(device: BlockDevice, opts: CaptureOptions & { keepDir?: string } = {}) {
    super(device, opts, 'blktrace');
    this.session = new BlktraceSession(device);
    this.ownDir = !opts.keepDir;
    this.outDir = opts.keepDir ?? mkdtempSync(path.join(os.tmpdir(), 'ssdtune-blktrace-'));
    this.session.start();
    this.timer = setInterval(() => {
      try {
        this.session.drain((cpu, data) => this.append(cpu, data));
        if (!deviceAlive(device)) {
          this.deviceVanished();
          void this.stop();
        }
      } catch (e) {
        void this.stop(e);
      }
    }, 100);
  }

  /** Per-CPU output file paths, blktrace(8) naming. */
  files(): string[] {
    return [...this.outFds.keys()].sort((a, b) => a - b).map((cpu) => path.join(this.outDir, `${this.session.name}.blktrace.${cpu}`));
  }

  private append(cpu: number, data: Buffer): void {
    let fd = this.outFds.get(cpu);
    if (fd === undefined) {
      fd = openSync(path.join(this.outDir, `${this.session.name}.blktrace.${cpu}`), 'w');
      this.outFds.set(cpu, fd);
    }
    writeSync(fd, data);
  }

  stop(err?: unknown): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      let failure = err;
      try {
        this.session.stopTracing();
        this.session.drain((cpu, data) => this.append(cpu, data));
        this.addLost('blktrace relay dropped', this.session.dropped());
      } catch (e) {
        failure ??= e;
      }
      try {
        this.session.close();
      } catch (e) {
        failure ??= e;
      }
      for (const fd of this.outFds.values()) closeSync(fd);
      const files = this.files();
      try {
        if (failure === undefined && files.length > 0 && existsSync(files[0]!)) {
          // The shared reader pairs Q/D/C into requests and merges the CPUs.
          const src = await openTrace(files[0]!, { format: 'blktrace' });
          for (const w of src.meta.warnings) this.meta.warnings.push(w);
          for await (const b of src) {
            // The reader's times are relative to the set's own origin (its
            // Unix time in meta.baseTimeNs when the kernel's timestamp note is
            // there): move them onto this capture's monotonic timeline.
            const shift = this.baseMono + (src.meta.baseTimeNs > 0 ? src.meta.baseTimeNs - this.meta.baseTimeNs : 0);
            for (let i = 0; i < b.length; i++) {
              this.addRequest(
                b.timeNs[i]! + shift,
                b.issueNs ? b.issueNs[i]! + shift : NaN,
                b.completeNs ? b.completeNs[i]! + shift : NaN,
                b.sector[i]!,
                b.bytes[i]!,
                b.op[i]!,
                b.device[i]!,
                b.pid[i]!,
              );
            }
            for (const [pid, name] of src.meta.processes) this.noteProcess(pid, name);
          }
        }
      } catch (e) {
        failure ??= e;
      } finally {
        if (this.ownDir) rmSync(this.outDir, { recursive: true, force: true });
      }
      this.finish(failure);
    })();
    return this.stopping;
  }
}
