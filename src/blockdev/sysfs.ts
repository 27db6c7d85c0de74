/**
 * The block-layer sysfs surface ssdtune may touch (docs/devices.md): the
 * allow-list of queue attributes, and reading/writing them on the disk that
 * owns a device's request queue (resolve.ts finds it). Nothing outside the allow-list is ever written: writeAttr checks it
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
