/**
 * `openCollector`: the one way to start a live capture. `auto` tries the
 * backends in order of preference (eBPF, tracefs, kernel blktrace) and keeps
 * the first that starts, saying which and why the others were passed over.
 */
import { ERR_COLLECT_BACKEND, ERR_COLLECT_NOT_ROOT, isSsdtuneError } from '../errors.js';
import { BlktraceCapture, BlktraceSession } from './blktrace-kernel.js';
import { requireCapturable, resolveDevice, type BlockDevice } from '../blockdev/resolve.js';
import { checkBackend, PREFERENCE } from './doctor.js';
import { EbpfCapture } from './ebpf.js';
import { lockDevice } from './lock.js';
import { TracefsCapture } from './tracefs.js';
import type { BackendName, CaptureOptions, Collector } from './types.js';

export type { BackendName, CaptureOptions, Collector, CollectorStats } from './types.js';
export { BACKENDS } from './types.js';

export interface OpenCollectorOptions extends CaptureOptions {
  backend?: BackendName | 'auto';
  /** blktrace backend: keep its per-CPU files in this directory. */
  blktraceDir?: string;
}

export interface OpenedCollector {
  collector: Collector;
  /** Why this backend: what auto chose and what it passed over. */
  choice: string;
}

function start(b: BackendName, dev: BlockDevice, opts: OpenCollectorOptions): Collector {
  if (b === 'ebpf') return new EbpfCapture(dev, opts);
  if (b === 'tracefs') return new TracefsCapture(dev, opts);
  return new BlktraceCapture(dev, { ...opts, ...(opts.blktraceDir ? { keepDir: opts.blktraceDir } : {}) });
}

/** Probe blktrace on this device: setup, open the relay files, tear down. */
export function probeBlktraceOn(dev: BlockDevice): () => void {
  return () => new BlktraceSession(dev).close();
}

export async function openCollector(device: string, opts: OpenCollectorOptions = {}): Promise<OpenedCollector> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw ERR_COLLECT_NOT_ROOT('collect');
  const dev = requireCapturable(resolveDevice(device));
  const lock = lockDevice(dev);
  const withLock = (c: Collector): Collector => {
    c.onEnd(() => lock.release());
    return c;
  };
  try {
    const wanted = opts.backend ?? 'auto';
    if (wanted !== 'auto') return { collector: withLock(start(wanted, dev, opts)), choice: `${wanted} (asked for)` };
    const passed: string[] = [];
    for (const b of PREFERENCE) {
      const check = checkBackend(b, b === 'blktrace' ? probeBlktraceOn(dev) : undefined);
      if (!check.works) {
        passed.push(`${b}: ${check.reason}`);
        continue;
      }
      try {
        const c = start(b, dev, opts);
        const why = passed.length ? `; passed over ${passed.join('; ')}` : '';
        return { collector: withLock(c), choice: `${b} (auto: ${check.reason}${why})` };
      } catch (e) {
        if (!isSsdtuneError(e)) throw e;
        passed.push(`${b}: ${e.message}`);
      }
    }
    throw ERR_COLLECT_BACKEND('auto', `no backend works: ${passed.join('; ')}`, 'see `ssdtune doctor`');
  } catch (e) {
    lock.release();
    throw e;
  }
}
