/**
 * eBPF backend: the addon features/ssdtune_ebpf.node, which embeds the BPF
 * program (native/bpf/biotrace.bpf.c) as a generated skeleton. The kernel
 * side filters the device, pairs insert/issue/complete and sends one 72-byte
 * record per completed request (layout: native/bpf/biotrace.h).
 */
import { ERR_COLLECT_BACKEND } from '../errors.js';
import { featureStatus, nativeFeature } from '../native.js';
import type { BlockDevice } from '../blockdev/resolve.js';
import { deviceAlive } from '../blockdev/resolve.js';
import { LiveCapture } from './live.js';
import type { CaptureOptions } from './types.js';

/** struct biorec, native/bpf/biotrace.h */
const REC = { bytes: 72, queue: 0, issue: 8, complete: 16, sector: 24, size: 32, op: 36, dev: 40, pid: 44, error: 48, flags: 52, comm: 56 } as const;
const F_ISSUE_SEEN = 2;

interface NativeSession {
  start(): void;
  stop(): void;
  stats(): {
    ringbufFull: number;
    startMapFull: number;
    submitted: number;
    delivered: number;
    untracked: number;
    orphaned: number;
    unfinished: number;
    /** Runs each program's kernel recursion guard skipped, every device included. */
    recursionMisses: { insert: number; issue: number; merge: number; complete: number };
    /** KernelSupport.initTaskGate of the running kernel. */
    initTaskGate: boolean;
    running: boolean;
    pollError: string;
  };
}

export interface EbpfSessionOptions {
  /** major << 20 | minor of the disk; 0 = every device */
  dev: number;
  sectorLo: number;
  /** -1 = no upper bound */
  sectorHi: number;
  ringBytes: number;
  slotBits?: number;
  /** false: the in-flight hash map only, the path kernels without BPF cmpxchg (< 5.12) take */
  slotTable?: boolean;
  onRecords(buf: Buffer | null): void;
}

/** A native session, or a coded error saying why the eBPF backend cannot run (addon or program missing). */
export function newEbpfSession(o: EbpfSessionOptions): NativeSession {
  const st = featureStatus('ebpf');
  if (!st.available) throw ERR_COLLECT_BACKEND('ebpf', st.detail, `${st.fix}; or use --backend tracefs`);
  const Session = nativeFeature('ebpf').EbpfSession as new (o: EbpfSessionOptions) => NativeSession;
  return new Session(o);
}

/** What the running kernel offers the BPF program (read from its BTF and by probing; see ebpf_session.cc). */
export interface KernelSupport {
  release: string;
  btfError: string;
  rqTracepointQueueArg: boolean;
  mergeTracepoint: boolean;
  diskField: string;
  cmpxchg: boolean;
  /** The kernel runs no BPF program while the current task belongs to PID 1 (bpf_prog_aux.init_owned). */
  initTaskGate: boolean;
}

export function kernelSupport(): KernelSupport {
  return (nativeFeature('ebpf').kernelSupport as () => KernelSupport)();
}

/**
 * Causes of a lost request, as stats().lostBy names them. An issued request whose completion the
 * program never ran for is found when its request struct is reused (or is still tracked at stop:
 * `unfinished`). The kernel skips a program for two reasons, and for no other:
 */
export const LOST_RECURSION = "completion skipped by the kernel's BPF recursion guard";
/** Kernels with bpf_prog_aux.init_owned run no BPF program while PID 1 is the current task: a completion softirq that lands on it passes unseen. */
export const LOST_INIT_TASK = 'completion ran while PID 1 was the current task (this kernel runs no BPF program then)';
/** Neither cause applies: reported rather than hidden. */
export const LOST_UNSEEN = 'completion not seen by the eBPF program';

/**
 * Splits the completions the program never ran for by cause, as they are found: each new one goes to
 * the recursion guard while its skips (counted by the kernel for every device, so an upper bound for
 * ours) are not yet used up, else to PID 1 where the kernel has that gate. Counts only grow, and they
 * add up to the kernel program's orphan count exactly.
 */
export class OrphanCauses {
  private orphaned = 0;
  private recursionUsed = 0;

  /** The new orphans since the last call, by cause. */
  next(orphaned: number, recursionMisses: number, initTaskGate: boolean): [string, number][] {
    const fresh = orphaned - this.orphaned;
    if (fresh <= 0) return [];
    const recursion = Math.min(fresh, Math.max(0, recursionMisses - this.recursionUsed));
    this.orphaned = orphaned;
    this.recursionUsed += recursion;
    return [
      [LOST_RECURSION, recursion],
      [initTaskGate ? LOST_INIT_TASK : LOST_UNSEEN, fresh - recursion],
    ];
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
  private readonly orphans = new OrphanCauses();

  constructor(device: BlockDevice, opts: CaptureOptions = {}) {
    super(device, opts, 'ebpf');
    let endStream!: () => void;
    this.drained = new Promise((r) => (endStream = r));
    const p = device.partition;
    this.session = newEbpfSession({
      dev: device.disk.dev,
      sectorLo: p ? p.start : 0,
      sectorHi: p ? p.start + p.sectors : -1,
      ringBytes: opts.ringBytes ?? 8 << 20,
      ...(opts.slotBits !== undefined ? { slotBits: opts.slotBits } : {}),
      ...(opts.slotTable !== undefined ? { slotTable: opts.slotTable } : {}),
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
      const failed = this.session?.stats().pollError;
      if (failed) {
        void this.stop(ERR_COLLECT_BACKEND('ebpf', failed, 'the capture stopped; records up to the failure were kept'));
        return;
      }
      this.release();
    }, 100);
  }

  private decode(buf: Buffer): void {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 0; off + REC.bytes <= buf.byteLength; off += REC.bytes) {
      const flags = dv.getUint32(off + REC.flags, true);
      const issue = flags & F_ISSUE_SEEN ? u64(dv, off + REC.issue) : NaN;
      const pid = dv.getUint32(off + REC.pid, true);
      this.addRequest(
        u64(dv, off + REC.queue),
        issue,
        u64(dv, off + REC.complete),
        u64(dv, off + REC.sector),
        dv.getUint32(off + REC.size, true),
        dv.getUint32(off + REC.op, true),
        dv.getUint32(off + REC.dev, true),
        pid,
      );
      if (pid && !this.meta.processes.has(pid)) {
        const c = buf.subarray(off + REC.comm, off + REC.comm + 16);
        const z = c.indexOf(0);
        this.noteProcess(pid, c.subarray(0, z < 0 ? 16 : z).toString('latin1'));
      }
    }
  }

  /** Brings the kernel's loss counters into stats().lostBy, by cause (they only grow). */
  private syncLost(): void {
    if (!this.session) return;
    const s = this.session.stats();
    for (const [cause, n] of [
      ['ring buffer full', s.ringbufFull],
      ['in-flight map full', s.startMapFull],
    ] as const) {
      this.addLost(cause, n - (this.counters.lostBy[cause] ?? 0));
    }
    for (const [cause, n] of this.orphans.next(s.orphaned, s.recursionMisses.complete, s.initTaskGate)) this.addLost(cause, n);
    this.counters.unpaired = s.untracked;
  }

  stop(err?: unknown): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      const s = this.session;
      if (s) {
        s.stop(); // detaches, drains the ring buffer; onRecords(null) follows the last chunk
        await this.drained;
        this.syncLost();
        const st = s.stats();
        this.noteUnfinished(st.unfinished);
        if (st.unfinished > 0 && st.initTaskGate)
          this.meta.warnings.push('some of them may instead have completed while PID 1 was the current task, where this kernel runs no BPF program');
      }
      this.finish(err);
    })();
    return this.stopping;
  }
}
