/**
 * Applies a host configuration through sysfs, all or nothing
 * (docs/devices.md): validate everything first, record the previous values before the
 * first write, write in the kernel's order, read every write back, and on
 * any failure restore the snapshot taken before the first write.
 */
import { ERR_HOST_APPLY, ERR_HOST_ROOT, ERR_HOST_STATE } from '../errors.js';
import {
  IOSCHED_PREFIX, activeIoschedKeys, hasAttr, parseScheduler, readAttr, readSnapshot, writeAttr, type Snapshot,
} from '../blockdev/sysfs.js';
import { resolveDevice, type BlockDevice } from '../blockdev/resolve.js';
import { readLimits, validateConfig } from './validate.js';
import type { StateStore } from './state.js';

/**
 * Write order. The scheduler first: switching it recreates queue/iosched and
 * resets nr_requests, so its tunables come next and nr_requests last.
 * max_sectors_kb precedes read_ahead_kb because readahead windows are split
 * into requests of at most max_sectors_kb.
 */
const ORDER = ['scheduler', IOSCHED_PREFIX, 'max_sectors_kb', 'read_ahead_kb', 'wbt_lat_usec', 'rq_affinity', 'nomerges', 'nr_requests'];

function rank(key: string): number {
  const i = ORDER.indexOf(key.startsWith(IOSCHED_PREFIX) ? IOSCHED_PREFIX : key);
  return i < 0 ? ORDER.length : i;
}

export function orderKeys(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The value as the kernel prints it now, normalised like a Snapshot. */
function readNormalised(dev: BlockDevice, key: string): string {
  const raw = readAttr(dev, key);
  return key === 'scheduler' ? parseScheduler(raw).active : raw;
}

/** Does the read-back value match what was written? */
function matches(key: string, wanted: string, got: string): boolean {
  // -1 asks the kernel for its default, which then reads back as a number.
  if (key === 'wbt_lat_usec' && wanted === '-1') return /^\d+$/.test(got);
  return wanted === got;
}

export interface Change {
  key: string;
  from: string | undefined;
  to: string;
}

export interface WriteFailure {
  key: string;
  value: string;
  reason: string;
}

/**
 * Write `target` in ORDER, skipping values already in place, verifying each.
 * iosched keys are written only when their file exists once the scheduler is
 * set (a snapshot's tunables belong to its scheduler). Stops at the first
 * failure unless `keepGoing` (rollback does its best on everything).
 */
function writeOrdered(dev: BlockDevice, target: Record<string, string>, keepGoing: boolean): { written: string[]; failures: WriteFailure[] } {
  const written: string[] = [];
  const failures: WriteFailure[] = [];
  for (const key of orderKeys(Object.keys(target))) {
    const value = target[key]!;
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

/** Restore a snapshot (best effort); returns what could not be restored. */
function restore(dev: BlockDevice, snap: Snapshot): WriteFailure[] {
  return writeOrdered(dev, snap, true).failures;
}

/** Does the device still hold exactly the snapshot's values? */
function differences(dev: BlockDevice, snap: Snapshot): string[] {
  const now = readSnapshot(dev);
  return Object.keys(snap).filter((k) => now[k] !== snap[k]);
}

/** Write `target` all or nothing; on failure restore `before` and throw. */
function transact(dev: BlockDevice, target: Record<string, string>, before: Snapshot): void {
  const { failures } = writeOrdered(dev, target, false);
  if (failures.length === 0) return;
  const f = failures[0]!;
  const rollbackFailures = restore(dev, before);
  const left = differences(dev, before);
  const outcome = rollbackFailures.length === 0 && left.length === 0
    ? 'every attribute was rolled back to its previous value'
    : `ROLLBACK INCOMPLETE: ${[...rollbackFailures.map((r) => `${r.key}=${r.value} (${r.reason})`), ...left].join(', ')}`;
  throw ERR_HOST_APPLY(dev.disk.name, f.key, f.value, f.reason, outcome);
}

/** Writing sysfs needs root: say so before anything else is attempted. */
export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw ERR_HOST_ROOT(what);
}

/** Every attribute a target would change, in write order, with the current value. */
function diff(current: Snapshot, target: Record<string, string>): Change[] {
  return orderKeys(Object.keys(target))
    .filter((k) => !matches(k, target[k]!, current[k] ?? ''))
    .map((k) => ({ key: k, from: current[k], to: target[k]! }));
}

export interface ApplyOptions {
  store: StateStore;
  dryRun?: boolean;
}

export interface ApplyResult {
  device: BlockDevice;
  dryRun: boolean;
  /** The validated configuration as the kernel will print it. */
  target: Record<string, string>;
  /** Attributes changed (or that would change), in write order. */
  changes: Change[];
  /** Attributes the kernel changes as a side effect (a new scheduler resets nr_requests and its tunables). */
  sideEffects: string[];
  /** Values after the apply (as read back), or the current ones on a dry run. */
  after: Snapshot;
}

export async function applyHostConfig(device: string, config: Record<string, unknown>, opts: ApplyOptions): Promise<ApplyResult> {
  const dev = resolveDevice(device);
  const before = readSnapshot(dev);
  const target = validateConfig(dev, config, before, readLimits(dev));
  const changes = diff(before, target);
  const sideEffects = target.scheduler && target.scheduler !== before.scheduler
    ? ['nr_requests', ...activeIoschedKeys(dev, before.scheduler ?? '')].filter((k) => !(k in target))
    : [];
  if (opts.dryRun || changes.length === 0) return { device: dev, dryRun: !!opts.dryRun, target, changes, sideEffects, after: before };
  requireRoot(`applying to ${dev.disk.name}`);

  // Record before the first write; a second apply keeps the original values.
  const existing = await opts.store.get(dev.disk.name);
  if (existing && existing.devNumber !== dev.disk.devNumber) {
    throw ERR_HOST_STATE(dev.disk.name, `state recorded for device ${existing.devNumber} but ${dev.disk.name} is now ${dev.disk.devNumber}; remove its entry from the state store`);
  }
  await opts.store.put({
    device: dev.disk.name,
    devNumber: dev.disk.devNumber,
    savedAt: existing?.savedAt ?? new Date().toISOString(),
    previous: existing?.previous ?? before,
    applied: { ...(existing?.applied ?? {}), ...target },
  });
  try {
    transact(dev, target, before);
  } catch (e) {
    if (existing) await opts.store.put(existing);
    else await opts.store.delete(dev.disk.name);
    throw e;
  }
  return { device: dev, dryRun: false, target, changes, sideEffects, after: readSnapshot(dev) };
}

export interface RevertResult {
  device: BlockDevice;
  changes: Change[];
  after: Snapshot;
  dryRun: boolean;
}

/** Restore what the device had before ssdtune's first apply (also all or nothing). */
export async function revertHostConfig(device: string, opts: ApplyOptions): Promise<RevertResult> {
  const dev = resolveDevice(device);
  const rec = await opts.store.get(dev.disk.name);
  if (!rec) throw ERR_HOST_STATE(dev.disk.name, 'ssdtune has not applied anything to this device (nothing to revert)');
  if (rec.devNumber !== dev.disk.devNumber) {
    throw ERR_HOST_STATE(dev.disk.name, `state was recorded for device ${rec.devNumber} but ${dev.disk.name} is now ${dev.disk.devNumber}; not reverting a different device`);
  }
  const before = readSnapshot(dev);
  const changes = diff(before, rec.previous);
  if (opts.dryRun) return { device: dev, changes, after: before, dryRun: true };
  if (changes.length > 0) {
    requireRoot(`reverting ${dev.disk.name}`);
    transact(dev, rec.previous, before);
  }
  await opts.store.delete(dev.disk.name);
  return { device: dev, changes, after: readSnapshot(dev), dryRun: false };
}
