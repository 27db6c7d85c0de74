/**
 * Which collector backends work on this machine, and for each that does not,
 * why and what to do. Probes are real but leave nothing behind: the eBPF
 * probe loads and attaches the program (filtered to a device that cannot
 * exist) and detaches it; the tracefs probe creates and removes an instance;
 * the blktrace probe sets up, opens the relay files of and tears down either
 * the given device or a 1 MiB scratch loop device made for the purpose.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { featureStatus } from '../native.js';
import { BlktraceSession, debugfsRoot } from './blktrace-kernel.js';
import { resolveDevice } from '../blockdev/resolve.js';
import { kernelSupport, newEbpfSession } from './ebpf.js';
import { createLoop, haveTool } from './testbed.js';
import { tracefsRoot } from './tracefs.js';
import type { BackendName } from './types.js';

export interface BackendCheck {
  backend: BackendName;
  works: boolean;
  /** What was found (works) or why not. */
  reason: string;
  /** What to do about it (empty when it works). */
  fix: string;
}

/** Order of preference for `auto`: cheapest per event and richest timing first. */
export const PREFERENCE: readonly BackendName[] = ['ebpf', 'tracefs', 'blktrace'];

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function nonRoot(b: BackendName): BackendCheck {
  return { backend: b, works: false, reason: 'not running as root', fix: 'run as root (sudo ssdtune ...)' };
}

/** Kernel lockdown mode, when securityfs exposes it ("none", "integrity", "confidentiality"). */
export function lockdownMode(): string | undefined {
  try {
    const s = readFileSync('/sys/kernel/security/lockdown', 'utf8');
    return /\[(\w+)\]/.exec(s)?.[1];
  } catch {
    return undefined;
  }
}

/** The oldest kernel the eBPF backend runs on: BPF ring buffer (5.8); tp_btf programs need 5.5. */
export const EBPF_MIN_KERNEL = [5, 8] as const;

/** "6.18.44-fc" -> [6, 18]; undefined when unreadable. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function checkEbpf(): BackendCheck {
  const b = 'ebpf';
  const min = EBPF_MIN_KERNEL.join('.');
  const feature = featureStatus('ebpf');
  if (!feature.available) return { backend: b, works: false, reason: feature.detail, fix: feature.fix };
  const k = kernelSupport();
  const v = kernelVersion(k.release);
  if (v && (v[0] < EBPF_MIN_KERNEL[0] || (v[0] === EBPF_MIN_KERNEL[0] && v[1] < EBPF_MIN_KERNEL[1]))) {
    return {
      backend: b,
      works: false,
      reason: `kernel ${k.release} is older than ${min}, the oldest the eBPF backend runs on (BPF ring buffer)`,
      fix: `use a kernel >= ${min} with BTF, or --backend tracefs`,
    };
  }
  if (k.btfError)
    return {
      backend: b,
      works: false,
      reason: `${k.btfError} (minimum kernel ${min}, built with CONFIG_DEBUG_INFO_BTF)`,
      fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or --backend tracefs',
    };
  if (!isRoot()) return nonRoot(b);
  // Load and attach for real, filtered to a dev_t no disk has, then detach.
  try {
    const s = newEbpfSession({ dev: 0xfffff, sectorLo: 0, sectorHi: -1, ringBytes: 1 << 16, onRecords: () => undefined });
    s.start();
    s.stop();
  } catch (e) {
    return {
      backend: b,
      works: false,
      reason: `loading the program failed: ${(e as Error).message}`,
      fix: 'check dmesg and that the kernel allows BPF (kernel.unprivileged_bpf_disabled does not matter for root; lockdown "confidentiality" blocks it); or use --backend tracefs',
    };
  }
  const layout = [
    `disk from ${k.diskField}`,
    `block_rq_issue(${k.rqTracepointQueueArg ? 'q, rq' : 'rq'})`,
    k.mergeTracepoint ? 'block_rq_merge attached' : 'no block_rq_merge tracepoint',
    k.cmpxchg ? 'in-flight slot table (BPF cmpxchg)' : 'in-flight hash map only (no BPF cmpxchg)',
    // Rare, counted losses rather than a failure: say so where a user looks first.
    ...(k.initTaskGate ? ['no BPF program runs while PID 1 is current (completions landing there are counted as lost)'] : []),
  ].join(', ');
  return { backend: b, works: true, reason: `tp_btf programs load and attach on kernel ${k.release} (minimum ${min}; ${layout}; ${feature.detail})`, fix: '' };
}

export function checkTracefs(): BackendCheck {
  const b = 'tracefs';
  if (!isRoot()) return nonRoot(b);
  const root = tracefsRoot();
  if (!root) return { backend: b, works: false, reason: 'tracefs is not mounted', fix: 'mount -t tracefs nodev /sys/kernel/tracing' };
  for (const ev of ['block_rq_issue', 'block_rq_complete']) {
    if (!existsSync(path.join(root, 'events', 'block', ev, 'format')))
      return {
        backend: b,
        works: false,
        reason: `the kernel has no block/${ev} tracepoint`,
        fix: 'use a kernel with CONFIG_BLK_DEV_IO_TRACE / tracepoints, or --backend ebpf',
      };
  }
  const probe = path.join(root, 'instances', `ssdtune-${process.pid}-doctor`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    return {
      backend: b,
      works: false,
      reason: `cannot create a tracefs instance in ${root}/instances: ${(e as Error).message}`,
      fix: 'run as root with tracefs mounted read-write',
    };
  }
  return { backend: b, works: true, reason: `block_rq_* events available in ${root}; private instances can be created`, fix: '' };
}

/**
 * Without a device, what can be known: root, debugfs, lockdown mode. Whether
 * the relay files open is only known by trying on a device (`probe`).
 */
export function checkBlktrace(probe?: () => void): BackendCheck {
  const b = 'blktrace';
  if (!isRoot()) return nonRoot(b);
  const debugfs = debugfsRoot();
  if (!debugfs) return { backend: b, works: false, reason: 'debugfs is not mounted', fix: 'mount -t debugfs nodev /sys/kernel/debug' };
  try {
    accessSync(path.join(debugfs, 'block'), constants.R_OK);
  } catch {
    return {
      backend: b,
      works: false,
      reason: `${debugfs}/block is not accessible (kernel without CONFIG_BLK_DEV_IO_TRACE, or lockdown)`,
      fix: 'use --backend ebpf or --backend tracefs',
    };
  }
  const mode = lockdownMode();
  if (mode && mode !== 'none')
    return {
      backend: b,
      works: false,
      reason: `kernel lockdown "${mode}" restricts debugfs, so the relay files cannot be opened`,
      fix: 'use --backend ebpf or --backend tracefs (boot with lockdown=none to use blktrace)',
    };
  let where = 'the device';
  if (!probe) {
    if (!haveTool('losetup'))
      return {
        backend: b,
        works: true,
        reason: `debugfs at ${debugfs}, lockdown ${mode ?? 'not reported'}; relay access is only confirmed at capture time (no losetup for a scratch probe)`,
        fix: '',
      };
    where = 'a scratch loop device';
    probe = () => {
      const loop = createLoop(1);
      try {
        new BlktraceSession(resolveDevice(loop.path)).close();
      } finally {
        loop.destroy();
      }
    };
  }
  try {
    probe();
  } catch (e) {
    return { backend: b, works: false, reason: (e as Error).message, fix: 'use --backend ebpf or --backend tracefs' };
  }
  return { backend: b, works: true, reason: `BLKTRACESETUP on ${where} succeeded and its relay files open`, fix: '' };
}

export function checkBackend(b: BackendName, blktraceProbe?: () => void): BackendCheck {
  if (b === 'ebpf') return checkEbpf();
  if (b === 'tracefs') return checkTracefs();
  return checkBlktrace(blktraceProbe);
}

export function doctor(blktraceProbe?: () => void): BackendCheck[] {
  return PREFERENCE.map((b) => checkBackend(b, blktraceProbe));
}
