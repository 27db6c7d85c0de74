/**
 * The block-layer sysfs surface ssdtune may touch (docs/devices.md): the
 * allow-list of queue attributes, and reading/writing them on the disk that
 * owns a device's request queue (resolve.ts finds it), in the kernel's order:
 * the applier's changes and a scratch loop device's restore (loop.ts) write
 * through writeOrdered, which holds what the kernel changes beside a write.
 * Nothing outside the allow-list is ever written: writeAttr checks it again
 * itself so no caller can bypass it.
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
 * Write order, ssdtune's and its exports' (host/export.ts): each attribute after every write that may change it, so
 * that a value the target names is the last written to it. The scheduler first: switching it recreates queue/iosched
 * and resets nr_requests. max_sectors_kb before read_ahead_kb: writing it may raise read_ahead_kb. nr_requests before
 * the scheduler's tunables, which come last: under mq-deadline writing nr_requests sets async_depth (both measured
 * on Linux 6.18, see writeOrdered). With the tunables before nr_requests, ssdtune still ended at a named async_depth
 * (written back after nr_requests changed it, and reported as held), but tuned and udev, which write an export in
 * this order and never read back, ended at nr_requests' value.
 */
const ORDER = ['scheduler', 'max_sectors_kb', 'read_ahead_kb', 'wbt_lat_usec', 'rq_affinity', 'nomerges', 'nr_requests', IOSCHED_PREFIX];

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

/**
 * What the kernel changes when the scheduler is switched away from `from`: nr_requests (reset to a default
 * of the new scheduler's and the tag depth's) and `from`'s tunables (gone with it). Measured on Linux 6.18, a loop
 * device switched none, mq-deadline and kyber into each other, every queue file read before and after: these are
 * all a switch changes (wbt_lat_usec, read_ahead_kb and the rest kept their values). The one list of an apply's
 * side effects (host/applier.ts: plan), of what a record naming no host may show changed by them (unaccounted),
 * and of what writeOrdered does not hold.
 */
export function switchResets(from: string): string[] {
  return ['nr_requests', ...(IOSCHED_TUNABLES[from] ?? []).map((t) => IOSCHED_PREFIX + t)];
}

export interface WriteFailure {
  key: string;
  value: string;
  reason: string;
}

/** An attribute the kernel changed when another was written, and that was written back to the value it had. */
export interface Held {
  key: string;
  /** Its value before that write: the value it was held at. */
  from: string;
  /** The value the write gave it. */
  to: string;
  /** The write that changed it (`max_sectors_kb=64`). */
  by: string;
}

/** One held attribute in words, as every report of them says it: `read_ahead_kb at 8 (writing max_sectors_kb=64 made it 128)`. */
export function describeHeld(h: Held): string {
  return `${h.key} at ${h.from} (writing ${h.by} made it ${h.to})`;
}

/** The distinct holds of several writes (a measurement's repetitions, a search's evaluations), in first-seen order. */
export function distinctHeld(lists: Iterable<readonly Held[] | undefined>): Held[] {
  const seen = new Map<string, Held>();
  for (const list of lists)
    for (const h of list ?? []) seen.set(describeHeld(h), seen.get(describeHeld(h)) ?? { key: h.key, from: h.from, to: h.to, by: h.by });
  return [...seen.values()];
}

const errorReason = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '')}` : err.message;
};

/** Write `value` to `key` and read it back: throws the kernel's refusal, or what it read back instead. */
function writeVerified(dev: BlockDevice, key: string, value: string): Snapshot {
  writeAttr(dev, key, value);
  const now = readSnapshot(dev);
  if (!matches(key, value, now[key] ?? '')) throw new Error(`read back ${now[key] ?? '(absent)'}`);
  return now;
}

/**
 * Write `target` in ORDER, skipping values already in place, verifying each.
 * iosched keys are written only when their file exists once the scheduler is
 * set (a snapshot's tunables belong to its scheduler). Stops at the first
 * failure unless `keepGoing` (rollback does its best on everything).
 *
 * A write changes only what it names. The kernel couples some attributes, and which ones depends on the kernel
 * (Linux 6.18: writing max_sectors_kb raises read_ahead_kb to a floor of its own, max_sectors_kb 64 took it from 8
 * to 128, 1280 to 2560, and never lowers it; under mq-deadline, writing nr_requests sets async_depth to it; some
 * kernels turn wbt off on a switch to bfq). So no table of them is kept: after each write every other attribute
 * the snapshot knows is read back, and one the write changed is held: written back, verified, to the value it had
 * before the write, and reported (`held`). Not held:
 * - one the target names and writes later (ORDER): its own write comes;
 * - after a scheduler switch made here, what a switch resets (switchResets: nr_requests; the old scheduler's
 *   tunables, gone; the new one's, new) unless the target names it, for the rest of the write: the kernel gives a
 *   new scheduler its defaults, some following another attribute (mq-deadline's async_depth follows nr_requests),
 *   and holding them would write the old scheduler's depth under the new one. `revert` gives them back.
 * Anything else a switch changes is held (on this machine nothing else changed; where a switch to bfq turns wbt
 * off, wbt_lat_usec is written back: a configuration that wants it off names it).
 * One the kernel will not take back (refused, or read back otherwise) fails the write, naming both attributes.
 */
export function writeOrdered(dev: BlockDevice, target: Record<string, string>, keepGoing: boolean): { held: Held[]; failures: WriteFailure[] } {
  const held: Held[] = [];
  const failures: WriteFailure[] = [];
  const keys = orderKeys(Object.keys(target));
  const defaults = new Set<string>();
  for (const [i, key] of keys.entries()) {
    const value = target[key]!;
    try {
      if (key.startsWith(IOSCHED_PREFIX) && !hasAttr(dev, key)) {
        throw new Error(`queue/iosched/${key.slice(IOSCHED_PREFIX.length)} does not exist under scheduler ${readNormalised(dev, 'scheduler')}`);
      }
      const before = readSnapshot(dev);
      if (matches(key, value, before[key] ?? readNormalised(dev, key))) continue;
      const after = writeVerified(dev, key, value);
      if (key === 'scheduler') {
        for (const k of [...switchResets(before.scheduler ?? ''), ...switchResets(after.scheduler ?? '')]) if (!(k in target)) defaults.add(k);
      }
      const later = new Set(keys.slice(i + 1));
      const changed = Object.keys(before).filter((k) => k !== key && after[k] !== undefined && after[k] !== before[k] && !later.has(k) && !defaults.has(k));
      for (const other of changed) {
        const hold: Held = { key: other, from: before[other]!, to: after[other]!, by: `${key}=${value}` };
        try {
          writeVerified(dev, other, hold.from);
          held.push(hold);
        } catch (e) {
          const reason = `writing ${hold.by} changed ${other} from ${hold.from} to ${hold.to}, and the kernel would not take ${hold.from} back (${errorReason(e)})`;
          failures.push({ key: other, value: hold.from, reason });
          if (!keepGoing) return { held, failures };
        }
      }
      // A kernel coupling both ways would undo the write by the hold.
      const now = changed.length ? readNormalised(dev, key) : value;
      if (!matches(key, value, now)) throw new Error(`holding ${changed.join(', ')} at their earlier values made the kernel change it to ${now}`);
    } catch (e) {
      failures.push({ key, value, reason: errorReason(e) });
      if (!keepGoing) break;
    }
  }
  return { held, failures };
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
