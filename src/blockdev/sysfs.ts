/**
 * The block-layer sysfs surface ssdtune may touch (docs/devices.md): the
 * allow-list of queue attributes, and reading/writing them on the disk that
 * owns a device's request queue (resolve.ts finds it), in the kernel's order:
 * the applier's changes and a scratch loop device's restore (loop.ts) write
 * through writeOrdered. Nothing outside the allow-list is ever written: writeAttr checks it
 * again itself so no caller can bypass it.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERR_HOST_ATTRIBUTE } from '../errors.js';
import type { BlockDevice } from './resolve.js';

/** Queue attributes ssdtune tunes, keyed as in configurations (file queue/<key>). */
export const QUEUE_ATTRS = ['scheduler', 'nr_requests', 'max_sectors_kb', 'read_ahead_kb', 'wbt_lat_usec', 'rq_affinity', 'nomerges'] as const;
export type QueueAttr = (typeof QUEUE_ATTRS)[number];

/** Tunables per scheduler (files queue/iosched/<name>), keyed in configurations as `iosched.<name>`. */
export const IOSCHED_TUNABLES: Readonly<Record<string, readonly string[]>> = {
  'mq-deadline': ['read_expire', 'write_expire', 'writes_starved', 'front_merges', 'fifo_batch', 'async_depth', 'prio_aging_expire'],
  kyber: ['read_lat_nsec', 'write_lat_nsec'],
  bfq: [
    'slice_idle',
    'slice_idle_us',
    'low_latency',
    'back_seek_max',
    'back_seek_penalty',
    'fifo_expire_async',
    'fifo_expire_sync',
    'max_budget',
    'strict_guarantees',
    'timeout_sync',
  ],
};

export const IOSCHED_PREFIX = 'iosched.';

/** The file behind a configuration key, or undefined when the key is not on the allow-list. */
export function attrPath(dev: BlockDevice, key: string): string | undefined {
  if ((QUEUE_ATTRS as readonly string[]).includes(key)) return path.join(dev.disk.sysDir, 'queue', key);
  if (key.startsWith(IOSCHED_PREFIX)) {
    const tunable = key.slice(IOSCHED_PREFIX.length);
    if (Object.values(IOSCHED_TUNABLES).some((l) => l.includes(tunable))) return path.join(dev.disk.sysDir, 'queue', 'iosched', tunable);
  }
  return undefined;
}

export function hasAttr(dev: BlockDevice, key: string): boolean {
  const p = attrPath(dev, key);
  return p !== undefined && existsSync(p);
}

/** Read an attribute (trimmed); for `scheduler`, the raw list (see parseScheduler). */
export function readAttr(dev: BlockDevice, key: string): string {
  const p = attrPath(dev, key);
  if (!p) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'not on the allow-list');
  return readFileSync(p, 'utf8').trim();
}

/** Any other queue file (read-only limits such as max_hw_sectors_kb). */
export function readQueueFile(dev: BlockDevice, file: string): string | undefined {
  const p = path.join(dev.disk.sysDir, 'queue', file);
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

/** Write an allow-listed attribute. Throws the kernel's error (EINVAL...) as is. */
export function writeAttr(dev: BlockDevice, key: string, value: string): void {
  const p = attrPath(dev, key);
  if (!p) throw ERR_HOST_ATTRIBUTE(dev.disk.name, key, 'not on the allow-list');
  writeFileSync(p, value);
}

export interface SchedulerList {
  active: string;
  available: string[];
}

/** Parse `[mq-deadline] kyber bfq none` (the bracketed one is active). */
export function parseScheduler(raw: string): SchedulerList {
  const available: string[] = [];
  let active = '';
  for (const tok of raw.trim().split(/\s+/)) {
    if (!tok) continue;
    const m = /^\[(.+)\]$/.exec(tok);
    if (m) {
      active = m[1]!;
      available.push(active);
    } else available.push(tok);
  }
  // Devices without a request-based queue print "none" alone, unbracketed.
  if (!active && available.length === 1) active = available[0]!;
  return { active, available };
}

/** The allow-listed iosched tunables the active scheduler exposes now. */
export function activeIoschedKeys(dev: BlockDevice, scheduler: string): string[] {
  const allowed = IOSCHED_TUNABLES[scheduler];
  if (!allowed) return [];
  const dir = path.join(dev.disk.sysDir, 'queue', 'iosched');
  if (!existsSync(dir)) return [];
  const present = new Set(readdirSync(dir));
  return allowed.filter((t) => present.has(t)).map((t) => IOSCHED_PREFIX + t);
}

/** Normalised value of every allow-listed attribute present now (scheduler as its active name). */
export type Snapshot = Record<string, string>;

export function readSnapshot(dev: BlockDevice): Snapshot {
  const snap: Snapshot = {};
  for (const key of QUEUE_ATTRS) {
    if (!hasAttr(dev, key)) continue;
    snap[key] = key === 'scheduler' ? parseScheduler(readAttr(dev, key)).active : readAttr(dev, key);
  }
  for (const key of activeIoschedKeys(dev, snap.scheduler ?? '')) snap[key] = readAttr(dev, key);
  return snap;
}

/**
 * Write order. The scheduler first: switching it recreates queue/iosched and
 * resets nr_requests, so its tunables come next and nr_requests last.
 * max_sectors_kb precedes read_ahead_kb because readahead windows are split
 * into requests of at most max_sectors_kb.
 */
const ORDER = ['scheduler', IOSCHED_PREFIX, 'max_sectors_kb', 'read_ahead_kb', 'wbt_lat_usec', 'rq_affinity', 'nomerges', 'nr_requests'];

/**
 * Attributes the kernel changes when another is written. Writing max_sectors_kb commits the queue's limits, and the
 * kernel then raises read_ahead_kb to a floor of its own (Linux 6.18, a loop device: max_sectors_kb 64 took
 * read_ahead_kb from 8 to 128, 1280 took it to 2560; it never lowers it). A write ssdtune makes changes only what
 * it names, so a coupled attribute the target leaves out is held at the value it had, and written back after its
 * trigger (ORDER puts it later). The kernel's own resets on a scheduler switch are not held: they are the new
 * scheduler's defaults (switchResets in host/applier.ts).
 */
const COUPLED: Record<string, readonly string[]> = { max_sectors_kb: ['read_ahead_kb'] };

/** The current value of each attribute coupled to one `target` writes and that `target` leaves out. */
function heldValues(dev: BlockDevice, target: Record<string, string>): Record<string, string> {
  const held: Record<string, string> = {};
  for (const key of Object.keys(target)) {
    for (const other of COUPLED[key] ?? []) {
      if (!(other in target) && hasAttr(dev, other)) held[other] = readNormalised(dev, other);
    }
  }
  return held;
}

function rank(key: string): number {
  const i = ORDER.indexOf(key.startsWith(IOSCHED_PREFIX) ? IOSCHED_PREFIX : key);
  return i < 0 ? ORDER.length : i;
}

export function orderKeys(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The value as the kernel prints it now, normalised like a Snapshot. */
export function readNormalised(dev: BlockDevice, key: string): string {
  const raw = readAttr(dev, key);
  return key === 'scheduler' ? parseScheduler(raw).active : raw;
}

/** Does the read-back value match what was written? */
export function matches(key: string, wanted: string, got: string): boolean {
  // -1 asks the kernel for its default, which then reads back as a number.
  if (key === 'wbt_lat_usec' && wanted === '-1') return /^\d+$/.test(got);
  return wanted === got;
}

export interface WriteFailure {
  key: string;
  value: string;
  reason: string;
}

/**
 * Write `target` in ORDER, skipping values already in place, verifying each,
 * and holding the attributes coupled to those written (COUPLED) that it leaves
 * out. iosched keys are written only when their file exists once the scheduler is
 * set (a snapshot's tunables belong to its scheduler). Stops at the first
 * failure unless `keepGoing` (rollback does its best on everything).
 */
export function writeOrdered(dev: BlockDevice, target: Record<string, string>, keepGoing: boolean): { written: string[]; failures: WriteFailure[] } {
  const written: string[] = [];
  const failures: WriteFailure[] = [];
  const writes = { ...heldValues(dev, target), ...target };
  for (const key of orderKeys(Object.keys(writes))) {
    const value = writes[key]!;
    try {
      if (key.startsWith(IOSCHED_PREFIX) && !hasAttr(dev, key)) {
        throw new Error(`queue/iosched/${key.slice(IOSCHED_PREFIX.length)} does not exist under scheduler ${readNormalised(dev, 'scheduler')}`);
      }
      if (matches(key, value, readNormalised(dev, key))) continue;
      writeAttr(dev, key, value);
      written.push(key);
      const got = readNormalised(dev, key);
      if (!matches(key, value, got)) throw new Error(`read back ${got}`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      failures.push({ key, value, reason: err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '')}` : err.message });
      if (!keepGoing) break;
    }
  }
  return { written, failures };
}

/** Does the device still hold exactly the snapshot's values? */
function differences(dev: BlockDevice, snap: Snapshot): string[] {
  const now = readSnapshot(dev);
  return Object.keys(snap).filter((k) => now[k] !== snap[k]);
}

/** Bring the device back to `snap`, trying every attribute; what could not be restored. */
export function restoreTo(dev: BlockDevice, snap: Snapshot): { left: string[]; reasons: string[] } {
  const { failures } = writeOrdered(dev, snap, true);
  return { left: differences(dev, snap), reasons: failures.map((r) => `${r.key}=${r.value} (${r.reason})`) };
}

export function describeLeft(r: { left: string[]; reasons: string[] }): string {
  const unexplained = r.left.filter((k) => !r.reasons.some((x) => x.startsWith(`${k}=`)));
  return [...r.reasons, ...unexplained.map((k) => `${k} differs`)].join(', ');
}
