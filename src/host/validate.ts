/**
 * Checks a host configuration against what this kernel and device offer,
 * before anything is written: the scheduler list, max_hw_sectors_kb, the
 * kernel's documented ranges, the active scheduler's tunables.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import { ERR_HOST_ATTRIBUTE, ERR_HOST_VALUE } from '../errors.js';
import { IOSCHED_PREFIX, IOSCHED_TUNABLES, QUEUE_ATTRS, hasAttr, parseScheduler, readAttr, readQueueFile, type Snapshot } from '../blockdev/sysfs.js';
import type { BlockDevice } from '../blockdev/resolve.js';
import { shown } from '../util/shown.js';

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
/** Tunables the kernel clamps from below instead of refusing (mq-deadline STORE_INT min 1): a smaller value reads back changed. */
const MIN_ONE_TUNABLES = new Set(['async_depth']);
/**
 * Tunables kept in jiffies and shown in milliseconds (STORE_JIFFIES): the
 * kernel rounds a value up to whole jiffies and prints jiffies_to_msecs() as
 * a signed int, so 1 reads back 4 at HZ=250 and 2147483647 reads back negative.
 */
const JIFFY_TUNABLES = new Set(['read_expire', 'write_expire', 'prio_aging_expire', 'fifo_expire_sync', 'fifo_expire_async', 'timeout_sync']);

const INT_MAX = 2 ** 31 - 1;

let hzCache: number | null | undefined;
/** The kernel's CONFIG_HZ, from /proc/config.gz or /boot/config-<release>; null when neither says. */
export function kernelHz(): number | null {
  if (hzCache !== undefined) return hzCache;
  let text = '';
  try {
    if (existsSync('/proc/config.gz')) text = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
    else if (existsSync(`/boot/config-${os.release()}`)) text = readFileSync(`/boot/config-${os.release()}`, 'latin1');
  } catch {
    text = '';
  }
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  hzCache = m ? Number(m[1]) : null;
  return hzCache;
}

/** What the kernel prints back for `ms` written to a jiffies tunable (msecs_to_jiffies, then jiffies_to_msecs), as a signed int. */
export function jiffiesRoundTrip(ms: number, hz: number): number {
  const j = Math.ceil((ms * hz) / 1000);
  const back = 1000 % hz === 0 ? (1000 / hz) * j : Math.floor((j * 1000) / hz);
  return back > INT_MAX ? back - 2 ** 32 : back;
}

let pageKbCache: number | undefined;
/** The page size in KiB: read_ahead_kb is kept in whole pages. */
export function pageKb(): number {
  if (pageKbCache === undefined) {
    try {
      pageKbCache = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) / 1024 || 4;
    } catch {
      pageKbCache = 4;
    }
  }
  return pageKbCache;
}

/** What the device offers, read once. */
export interface DeviceLimits {
  schedulers: string[];
  activeScheduler: string;
  maxHwSectorsKb: number;
  logicalBlockSize: number;
}

export function readLimits(dev: BlockDevice): DeviceLimits {
  // A bio-based device (zram, brd) has no queue/scheduler: it queues no requests, which is what `none` means.
  const s = hasAttr(dev, 'scheduler') ? parseScheduler(readAttr(dev, 'scheduler')) : { available: [], active: 'none' };
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
  if (!/^-?\d+$/.test(s)) throw ERR_HOST_VALUE(dev.disk.name, key, shown(raw), `expected an integer${what ? ' ' + what : ''}`);
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
  // Two spellings of one attribute (read_ahead_kb and queue/read_ahead_kb): which one was meant is a guess.
  const spelled = new Map<string, string>();
  for (const [given, [key]] of Object.keys(config).map((k, i) => [k, entries[i]!] as const)) {
    const other = spelled.get(key);
    if (other !== undefined) throw ERR_HOST_VALUE(dev.disk.name, key, shown(config[given]), `given twice, as "${other}" and "${given}": keep one`);
    spelled.set(key, given);
  }
  const schedEntry = entries.find(([k]) => k === 'scheduler');
  let scheduler = limits.activeScheduler;
  if (schedEntry) {
    const v = String(schedEntry[1]).trim();
    if (!('scheduler' in current))
      throw ERR_HOST_ATTRIBUTE(dev.disk.name, 'scheduler', 'this device has no I/O scheduler (a bio-based device, such as zram or brd, queues no requests)');
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
      out[key] = BOOL_TUNABLES.has(tunable) ? intIn(dev, key, raw, 0, 1) : intIn(dev, key, raw, MIN_ONE_TUNABLES.has(tunable) ? 1 : 0, INT_MAX);
      if (JIFFY_TUNABLES.has(tunable)) checkJiffies(dev, key, Number(out[key]));
      continue;
    }
    if (!(QUEUE_ATTRS as readonly string[]).includes(key)) {
      throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, `allowed: ${QUEUE_ATTRS.join(', ')}, iosched.<tunable>`);
    }
    if (!(key in current)) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'this device does not expose it');
    switch (key as (typeof QUEUE_ATTRS)[number]) {
      case 'read_ahead_kb': {
        out[key] = intIn(dev, key, raw, LIMITS.readAheadKb[0], LIMITS.readAheadKb[1], 'KiB');
        const page = pageKb();
        if (Number(out[key]) % page !== 0)
          throw ERR_HOST_VALUE(
            dev.disk.name,
            key,
            out[key],
            `the kernel keeps readahead in whole ${page} KiB pages and would read back ${Math.floor(Number(out[key]) / page) * page}: give a multiple of ${page}`,
          );
        break;
      }
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

/** The value of an iosched tunable as the kernel will print it back (jiffies tunables round up to whole jiffies). */
export function ioschedReadBack(tunable: string, value: number): number {
  const hz = kernelHz();
  return JIFFY_TUNABLES.has(tunable) && hz !== null ? jiffiesRoundTrip(value, hz) : value;
}

/** A jiffies tunable must read back as written: a whole number of jiffies that fits the kernel's int. */
function checkJiffies(dev: BlockDevice, key: string, ms: number): void {
  const hz = kernelHz();
  if (hz === null) return; // unknown tick rate: the applier's read-back check still refuses a rounded value
  const back = jiffiesRoundTrip(ms, hz);
  if (back === ms) return;
  const tick = 1000 / hz;
  const why =
    back < 0 || back > INT_MAX
      ? `the kernel would overflow it and read back ${back}`
      : `the kernel keeps it in jiffies of ${Number.isInteger(tick) ? tick : tick.toFixed(3)} ms (HZ=${hz}) and would read back ${back}`;
  const largest = Math.floor((Math.floor((INT_MAX * hz) / 1000) * 1000) / hz);
  throw ERR_HOST_VALUE(
    dev.disk.name,
    key,
    String(ms),
    `${why}: give a multiple of ${Number.isInteger(tick) ? tick : `${tick.toFixed(3)} ms that reads back unchanged`} up to ${largest - (Number.isInteger(tick) ? largest % tick : 0)}`,
  );
}
