/**
 * The `host` configuration space (docs/tuning.md), built per device from
 * what its sysfs offers: schedulers it lists, max_sectors_kb up to
 * max_hw_sectors_kb, nr_requests up to the tag depth without a scheduler,
 * and the active scheduler's tunables. The baseline is what the device has
 * now, so grades are relative to the current (usually default) settings.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { defineSpace } from '../space/space.js';
import type { ConfigSpace, Configuration, Constraint, ParamSpec } from '../space/types.js';
import { resolveDevice, type BlockDevice } from '../blockdev/resolve.js';
import { IOSCHED_PREFIX, IOSCHED_TUNABLES, readSnapshot, type Snapshot } from '../blockdev/sysfs.js';
import { ioschedReadBack, readLimits } from './validate.js';

/** read_ahead_kb candidates: 0 (off) and powers of two 4 KiB .. 16 MiB. */
export const READ_AHEAD_KB_VALUES = [0, ...Array.from({ length: 13 }, (_, i) => 4 << i)] as const;

function withValue(values: readonly number[], v: number): number[] {
  return [...new Set([...values, v])].filter(Number.isFinite).sort((a, b) => a - b);
}

function pow2(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi; v *= 2) out.push(v);
  return out;
}

/** Hardware tag depth (the nr_requests ceiling without a scheduler), from mq/<n>/nr_tags. */
export function tagDepth(dev: BlockDevice): number | undefined {
  const mq = path.join(dev.disk.sysDir, 'mq');
  if (!existsSync(mq)) return undefined;
  const depths = readdirSync(mq)
    .map((q) => path.join(mq, q, 'nr_tags'))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, 'utf8').trim()));
  return depths.length ? Math.min(...depths) : undefined;
}

/** Build the space from a device's sysfs (reads only). */
export function buildHostSpace(device: string | BlockDevice): ConfigSpace {
  const dev = typeof device === 'string' ? resolveDevice(device) : device;
  const snap: Snapshot = readSnapshot(dev);
  const limits = readLimits(dev);
  const num = (k: string) => Number(snap[k]);
  const params: ParamSpec[] = [];

  params.push({
    name: 'read_ahead_kb',
    kind: 'ordinal',
    unit: 'KiB',
    group: 'readahead',
    description: 'maximum readahead window of the page cache for this device',
    values: withValue(READ_AHEAD_KB_VALUES, num('read_ahead_kb')),
    default: num('read_ahead_kb'),
  });
  if (snap.max_sectors_kb !== undefined) {
    const hw = Number.isFinite(limits.maxHwSectorsKb) ? limits.maxHwSectorsKb : num('max_sectors_kb');
    params.push({
      name: 'max_sectors_kb',
      kind: 'ordinal',
      unit: 'KiB',
      group: 'readahead',
      description: 'largest request the block layer issues (readahead windows are split at it)',
      values: withValue(withValue(pow2(32, hw), hw), num('max_sectors_kb')),
      default: num('max_sectors_kb'),
    });
  }
  if (snap.scheduler !== undefined) {
    params.push({
      name: 'scheduler',
      kind: 'categorical',
      group: 'queue',
      description: 'I/O scheduler (elevator)',
      values: limits.schedulers,
      default: limits.activeScheduler,
    });
  }
  if (snap.nr_requests !== undefined) {
    params.push({
      name: 'nr_requests',
      kind: 'ordinal',
      unit: 'requests',
      group: 'queue',
      description: 'request queue depth (scheduler tags)',
      values: withValue(pow2(16, 2048), num('nr_requests')),
      default: num('nr_requests'),
    });
  }
  if (snap.wbt_lat_usec !== undefined) {
    params.push({
      name: 'wbt_lat_usec',
      kind: 'ordinal',
      unit: 'us',
      group: 'throttle',
      description: 'writeback throttling latency target (0 = off)',
      values: withValue([0, 1000, 2000, 5000, 10000, 20000, 75000], num('wbt_lat_usec')),
      default: num('wbt_lat_usec'),
    });
  }
  if (snap.rq_affinity !== undefined) {
    params.push({
      name: 'rq_affinity',
      kind: 'ordinal',
      group: 'cpu',
      description: 'complete on the submitting CPU (1: group, 2: exact)',
      values: [0, 1, 2],
      default: num('rq_affinity'),
    });
  }
  if (snap.nomerges !== undefined) {
    params.push({
      name: 'nomerges',
      kind: 'ordinal',
      group: 'merge',
      description: '0 merge, 1 simple merges only, 2 no merging',
      values: [0, 1, 2],
      default: num('nomerges'),
    });
  }
  // The active scheduler's tunables: a factor-of-4 range around the current value.
  for (const t of IOSCHED_TUNABLES[limits.activeScheduler] ?? []) {
    const key = IOSCHED_PREFIX + t;
    if (snap[key] === undefined) continue;
    const v = num(key);
    // Candidates the kernel would round (jiffies tunables) are snapped to what it prints back.
    const raw =
      v === 0
        ? [0, 1]
        : v === 1 && /front_merges|low_latency|strict_guarantees/.test(t)
          ? [0, 1]
          : [Math.max(1, Math.round(v / 4)), Math.max(1, Math.round(v / 2)), v * 2, v * 4];
    const values = withValue(
      raw.map((x) => ioschedReadBack(t, x)).filter((x) => x >= 0),
      v,
    );
    params.push({ name: key, kind: 'ordinal', group: 'iosched', description: `${limits.activeScheduler} tunable ${t}`, values, default: v });
  }

  const constraints: Constraint[] = [];
  const depth = tagDepth(dev);
  if (depth !== undefined && snap.nr_requests !== undefined) {
    constraints.push({
      name: 'nr_requests_tag_depth',
      description: `without a scheduler nr_requests cannot exceed the hardware tag depth (${depth})`,
      check: (c) => c.scheduler !== 'none' || Number(c.nr_requests) <= depth,
    });
  }
  // Baseline: the parameters' defaults, i.e. what the device has now.
  // The device node, not `device`: another thread rebuilding the constraints resolves it again.
  return defineSpace({ name: 'host', params, constraints, origin: { module: import.meta.url, export: 'buildHostSpace', args: [dev.path] } });
}

/**
 * The attributes to write for a configuration of this space: iosched tunables
 * are dropped when the configuration picks another scheduler (they would not exist).
 */
export function hostConfigToApply(space: ConfigSpace, config: Configuration): Record<string, string | number> {
  const sched = String(space.baseline.scheduler);
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith(IOSCHED_PREFIX) && config.scheduler !== sched) continue;
    out[k] = typeof v === 'boolean' ? Number(v) : v;
  }
  return out;
}

/**
 * The part of the `host` space the readahead model evaluates, for when no
 * device is at hand (tuning from a trace alone): read_ahead_kb and
 * max_sectors_kb with the kernel's usual defaults (128 KiB, 1280 KiB).
 */
export function readaheadModelSpace(): ConfigSpace {
  return defineSpace({
    name: 'host',
    params: [
      {
        name: 'read_ahead_kb',
        kind: 'ordinal',
        unit: 'KiB',
        group: 'readahead',
        description: 'maximum readahead window',
        values: READ_AHEAD_KB_VALUES,
        default: 128,
      },
      {
        name: 'max_sectors_kb',
        kind: 'ordinal',
        unit: 'KiB',
        group: 'readahead',
        description: 'largest request the block layer issues',
        values: [128, 256, 512, 1280],
        default: 1280,
      },
    ],
  });
}
