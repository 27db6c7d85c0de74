/**
 * eBPF backend: native/bpf/biotrace.bpf.o loaded by the addon's EbpfSession.
 * The kernel side filters the device, pairs insert/issue/complete and sends
 * one 72-byte record per completed request (layout: native/bpf/biotrace.h).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ERR_COLLECT_BACKEND } from '../errors.js';
import { native, PROJECT_ROOT } from '../native.js';
import type { BlockDevice } from '../blockdev/resolve.js';
import { deviceAlive } from '../blockdev/resolve.js';
import { LiveCapture } from './live.js';
import type { CaptureOptions } from './types.js';

/** Built by scripts/build-bpf.sh; the environment may point elsewhere (another build, or tests of the not-built path). */
export function bpfObjectPath(): string {
  return process.env.SSDTUNE_BPF_OBJECT ?? path.join(PROJECT_ROOT, 'native', 'bpf', 'biotrace.bpf.o');
}
function bpfStatusPath(): string {
  return process.env.SSDTUNE_BPF_STATUS ?? path.join(PROJECT_ROOT, 'native', 'bpf', 'build-status.json');
}

/** struct biorec, native/bpf/biotrace.h */
const REC = { bytes: 72, queue: 0, issue: 8, complete: 16, sector: 24, size: 32, op: 36, dev: 40, pid: 44, error: 48, flags: 52, comm: 56 } as const;
const F_ISSUE_SEEN = 2;

interface NativeSession {
  start(): void;
  stop(): void;
  stats(): { ringbufFull: number; startMapFull: number; submitted: number; delivered: number; running: boolean };
}

/** Why the eBPF object is missing, from scripts/build-bpf.sh's status file. */
export function bpfBuildStatus(): { built: boolean; reason: string } {
  const obj = bpfObjectPath();
  if (existsSync(obj)) return { built: true, reason: `${obj} present` };
  try {
    const s = JSON.parse(readFileSync(bpfStatusPath(), 'utf8')) as { built: boolean; reason: string };
    return { built: false, reason: s.built ? `${obj} was built but is now missing` : s.reason };
  } catch {
    return { built: false, reason: `${obj} not built (scripts/build-bpf.sh has not run)` };
  }
}

function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 2 ** 32;
}

export class EbpfCapture extends LiveCapture {
  readonly backend = 'ebpf' as const;
  private session: NativeSession | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private drained!: Promise<void>;

  constructor(device: BlockDevice, opts: CaptureOptions = {}) {
    super(device, opts, 'ebpf');
    const addon = native().collector as Record<string, unknown> | undefined;
    if (!addon?.ebpfSupported) {
      throw ERR_COLLECT_BACKEND('ebpf', String(addon?.ebpfUnsupportedReason ?? 'the native addon has no collector'), 'Install libbpf-dev and rebuild (npm run build:native), or use --backend tracefs');
    }
    const st = bpfBuildStatus();
    if (!st.built) throw ERR_COLLECT_BACKEND('ebpf', st.reason, 'Install clang, bpftool and libbpf-dev, then npm run build:native; or use --backend tracefs');
    let endStream!: () => void;
    this.drained = new Promise((r) => (endStream = r));
    const Session = addon.EbpfSession as new (o: object) => NativeSession;
    const p = device.partition;
    this.session = new Session({
      object: bpfObjectPath(),
      dev: device.disk.dev,
      sectorLo: p ? p.start : 0,
      sectorHi: p ? p.start + p.sectors : -1,
      ringBytes: opts.ringBytes ?? 8 << 20,
      ...(opts.slotBits !== undefined ? { slotBits: opts.slotBits } : {}),
      onRecords: (buf: Buffer | null) => {
        if (buf === null) endStream();
        else {
          try {
            this.decode(buf);
          } catch (e) {
            void this.stop(e);
          }
        }
      },
    });
    try {
      this.session.start();
    } catch (e) {
      this.session = undefined;
      throw ERR_COLLECT_BACKEND('ebpf', (e as Error).message, 'Check `ssdtune doctor`; --backend tracefs needs no BPF');
    }
    // Release ordered batches regularly, and notice a vanished device.
    this.timer = setInterval(() => {
      if (!deviceAlive(device)) {
        this.deviceVanished();
        void this.stop();
        return;
      }
      this.syncLost();
      this.release();
    }, 100);
  }

  private decode(buf: Buffer): void {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 0; off + REC.bytes <= buf.byteLength; off += REC.bytes) {
      const flags = dv.getUint32(off + REC.flags, true);
      const issue = flags & F_ISSUE_SEEN ? u64(dv, off + REC.issue) : NaN;
      const pid = dv.getUint32(off + REC.pid, true);
      this.addRequest(u64(dv, off + REC.queue), issue, u64(dv, off + REC.complete), u64(dv, off + REC.sector), dv.getUint32(off + REC.size, true), dv.getUint32(off + REC.op, true), dv.getUint32(off + REC.dev, true), pid);
      if (pid && !this.meta.processes.has(pid)) {
        const c = buf.subarray(off + REC.comm, off + REC.comm + 16);
        const z = c.indexOf(0);
        this.noteProcess(pid, c.subarray(0, z < 0 ? 16 : z).toString('latin1'));
      }
    }
  }

  private syncLost(): void {
    if (!this.session) return;
    const s = this.session.stats();
    const known = (this.counters.lostBy['ring buffer full'] ?? 0) + (this.counters.lostBy['in-flight map full'] ?? 0);
    const now = s.ringbufFull + s.startMapFull;
    if (now > known) {
      this.addLost('ring buffer full', s.ringbufFull - (this.counters.lostBy['ring buffer full'] ?? 0));
      this.addLost('in-flight map full', s.startMapFull - (this.counters.lostBy['in-flight map full'] ?? 0));
    }
  }

  stop(err?: unknown): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      const s = this.session;
      if (s) {
        s.stop(); // detaches, drains the ring buffer; onRecords(null) follows the last chunk
        await this.drained;
        this.syncLost();
      }
      this.finish(err);
    })();
    return this.stopping;
  }
}
