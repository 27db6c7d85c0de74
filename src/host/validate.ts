/**
 * Checks a host configuration against what this kernel and device offer,
 * before anything is written: the scheduler list, max_hw_sectors_kb, the
 * kernel's documented ranges, the active scheduler's tunables.
 */
import { ERR_HOST_ATTRIBUTE, ERR_HOST_VALUE } from '../errors.js';
import {
  IOSCHED_PREFIX, IOSCHED_TUNABLES, QUEUE_ATTRS, hasAttr, parseScheduler, readAttr, readQueueFile, type Snapshot,
} from '../blockdev/sysfs.js';
import type { BlockDevice } from '../blockdev/resolve.js';

/** The kernel's bounds (block/blk-sysfs.c, block/elevator.h). */
export const LIMITS = {
  /** BLKDEV_MIN_RQ .. MAX_SCHED_RQ (16 * BLKDEV_DEFAULT_RQ). */
  nrRequests: [4, 2048] as const,
  /** Upper bound we accept for read_ahead_kb (1 GiB): beyond that it is a unit mistake. */
  readAheadKb: [0, 1 << 20] as const,
  /** -1 restores the default, 0 disables writeback throttling. */
  wbtLatUsec: [-1, 1e9] as const,
  rqAffinity: [0, 2] as const,
  nomerges: [0, 2] as const,
};

// Tunables that are booleans in the kernel.
const BOOL_TUNABLES = new Set(['front_merges', 'low_latency', 'strict_guarantees']);

/** What the device offers, read once. */
export interface DeviceLimits {
  schedulers: string[];
  activeScheduler: string;
  maxHwSectorsKb: number;
  logicalBlockSize: number;
}

export function readLimits(dev: BlockDevice): DeviceLimits {
  const s = parseScheduler(readAttr(dev, 'scheduler'));
  return {
    schedulers: s.available,
    activeScheduler: s.active,
    maxHwSectorsKb: Number(readQueueFile(dev, 'max_hw_sectors_kb') ?? 'NaN'),
    logicalBlockSize: Number(readQueueFile(dev, 'logical_block_size') ?? '512'),
  };
}

/** Accept `read_ahead_kb`, `queue/read_ahead_kb`, `iosched.fifo_batch`, `queue/iosched/fifo_batch`. */
export function canonicalKey(key: string): string {
  let k = key.trim().replace(/^queue\//, '');
  if (k.startsWith('iosched/')) k = IOSCHED_PREFIX + k.slice('iosched/'.length);
  return k;
}

function intIn(dev: BlockDevice, key: string, raw: unknown, lo: number, hi: number, what?: string): string {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^-?\d+$/.test(s)) throw ERR_HOST_VALUE(dev.disk.name, key, JSON.stringify(raw), `expected an integer${what ? ' ' + what : ''}`);
  const n = Number(s);
  if (n < lo || n > hi) throw ERR_HOST_VALUE(dev.disk.name, key, s, `expected ${lo}..${hi}${what ? ' ' + what : ''}`);
  return String(n);
}

/**
 * Validate and normalise a configuration for `dev` given its current state.
 * Returns the wanted value of each attribute as the kernel will print it.
 */
export function validateConfig(dev: BlockDevice, config: Record<string, unknown>, current: Snapshot, limits: DeviceLimits): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.entries(config).map(([k, v]) => [canonicalKey(k), v] as const);
  const schedEntry = entries.find(([k]) => k === 'scheduler');
  let scheduler = limits.activeScheduler;
  if (schedEntry) {
    const v = String(schedEntry[1]).trim();
    if (!limits.schedulers.includes(v)) throw ERR_HOST_VALUE(dev.disk.name, 'scheduler', v, `this device offers ${limits.schedulers.join(', ')}`);
    out.scheduler = v;
    scheduler = v;
  }
  for (const [key, raw] of entries) {
    if (key === 'scheduler') continue;
    if (key.startsWith(IOSCHED_PREFIX)) {
      const tunable = key.slice(IOSCHED_PREFIX.length);
      const allowed = IOSCHED_TUNABLES[scheduler];
      if (!allowed) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, `scheduler ${scheduler} has no tunables ssdtune writes`);
      if (!allowed.includes(tunable)) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, `${scheduler} tunables are ${allowed.join(', ')}`);
      // When the scheduler stays, the file must exist now (older kernels lack some tunables).
      if (scheduler === limits.activeScheduler && !hasAttr(dev, key)) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'this kernel does not expose it');
      out[key] = BOOL_TUNABLES.has(tunable) ? intIn(dev, key, raw, 0, 1) : intIn(dev, key, raw, 0, 2 ** 31 - 1);
      continue;
    }
    if (!(QUEUE_ATTRS as readonly string[]).includes(key)) {
      throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, `allowed: ${QUEUE_ATTRS.join(', ')}, iosched.<tunable>`);
    }
    if (!(key in current)) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'this device does not expose it');
    switch (key as (typeof QUEUE_ATTRS)[number]) {
      case 'read_ahead_kb':
        out[key] = intIn(dev, key, raw, LIMITS.readAheadKb[0], LIMITS.readAheadKb[1], 'KiB');
        break;
      case 'max_sectors_kb': {
        const lo = Math.max(4, Math.ceil(limits.logicalBlockSize / 1024));
        const hi = Number.isFinite(limits.maxHwSectorsKb) ? limits.maxHwSectorsKb : 1 << 20;
        out[key] = intIn(dev, key, raw, lo, hi, 'KiB (max_hw_sectors_kb bounds it)');
        break;
      }
      case 'nr_requests':
        out[key] = intIn(dev, key, raw, LIMITS.nrRequests[0], LIMITS.nrRequests[1]);
        break;
      case 'wbt_lat_usec':
        out[key] = intIn(dev, key, raw, LIMITS.wbtLatUsec[0], LIMITS.wbtLatUsec[1], 'us (-1 = kernel default, 0 = off)');
        break;
      case 'rq_affinity':
        out[key] = intIn(dev, key, raw, LIMITS.rqAffinity[0], LIMITS.rqAffinity[1]);
        break;
      case 'nomerges':
        out[key] = intIn(dev, key, raw, LIMITS.nomerges[0], LIMITS.nomerges[1]);
        break;
      default:
        throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'unhandled');
    }
  }
  return out;
}
