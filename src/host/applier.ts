/**
 * Applies a host configuration through sysfs, all or nothing
 * (docs/devices.md): validate everything first, record the way back durably before the
 * first write, write in the kernel's order, read every write back, and on any
 * failure restore the snapshot taken before the first write.
 *
 * The record (a StateStore entry per disk) holds the values the device had
 * before ssdtune first changed it, and while a change is in flight a
 * `pending` mark with the values just before it. The mark is cleared only
 * once the change is complete or fully rolled back, so a crash, a kill -9 or a
 * rollback the kernel refuses part-way all leave the record behind, and
 * `revert` restores from it. Live evaluations go through the same path
 * (withTrialConfig), so their temporary configurations are recorded too.
 */
import { ERR_HOST_APPLY, ERR_HOST_RESTORE, ERR_HOST_ROOT, ERR_HOST_STATE } from '../errors.js';
import type { PendingDeviceChange } from '../confdb/records.js';
import {
  IOSCHED_PREFIX,
  IOSCHED_TUNABLES,
  describeLeft,
  matches,
  orderKeys,
  readSnapshot,
  restoreTo,
  switchResets,
  writeOrdered,
  type Held,
  type Snapshot,
} from '../blockdev/sysfs.js';
import { diskMedium, resolveDevice, type BlockDevice } from '../blockdev/resolve.js';
import { lockBlockDevice } from '../blockdev/device-lock.js';
import { IOSCHED_SWITCH_DEFAULTS } from '../blockdev/iosched-defaults.js';
import { registerUndo } from '../util/cleanup.js';
import { running, startedAt } from '../util/running.js';
import { readLimits, validateConfig } from './validate.js';
import type { HostStateRecord, StateStore } from './state.js';
import { describeHost, hostIdentity, type RecordingHost } from '../util/host-identity.js';

export interface Change {
  key: string;
  from: string | undefined;
  to: string;
}

const isRoot = (): boolean => typeof process.getuid !== 'function' || process.getuid() === 0;

/** Writing sysfs needs root: say so before anything else is attempted. */
export function requireRoot(what: string): void {
  if (!isRoot()) throw ERR_HOST_ROOT(what);
}

/** Every attribute a target would change, in write order, with the current value. */
function diff(current: Snapshot, target: Record<string, string>): Change[] {
  return orderKeys(Object.keys(target))
    .filter((k) => !matches(k, target[k]!, current[k] ?? ''))
    .map((k) => ({ key: k, from: current[k], to: target[k]! }));
}

/**
 * One change of a disk's queue at a time, whichever ssdtune process and whichever ConfDB makes it: its machine-wide
 * `queue` lock (blockdev/device-lock.ts), held from before the values a change starts from are read until its
 * record is settled. A per-ConfDB check is not enough: a process with another data directory would record the
 * other's trial values as the device's way back. Without root nothing here can be written and /run cannot be: no
 * lock (the change then stops at requireRoot).
 */
async function underQueueLock<T>(dev: BlockDevice, fn: () => Promise<T>): Promise<T> {
  if (!isRoot()) return fn();
  const lock = lockBlockDevice('queue', dev.disk, (owner, file) =>
    ERR_HOST_STATE(
      dev.disk.name,
      `busy: ${owner === process.pid ? 'this process is' : `pid ${owner} is`} changing its queue attributes (lock ${file}); try again when it ends`,
    ),
  );
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Is the process a pending mark names still at it? Not this one: it holds the
 * queue lock now, so its own earlier change has ended. Another: while that pid
 * lives (an ssdtune older than the lock, sharing the ConfDB; a dead one's mark
 * means interrupted), unless the process with that pid started after the mark
 * was written (2 s allowed for the clocks' resolution): the marking process was
 * killed and its pid reused, so the mark means interrupted too.
 */
function stillRunning(p: PendingDeviceChange): boolean {
  if (p.pid === process.pid) return false;
  const started = startedAt(p.pid);
  if (started !== undefined && started > Date.parse(p.startedAt) + 2000) return false;
  return running(p.pid);
}

function describePending(p: PendingDeviceChange): string {
  const what = p.op === 'trial' ? 'a live evaluation' : `an ${p.op === 'apply' ? 'apply' : 'revert'}`;
  return p.failed
    ? `${what} (pid ${p.pid}, ${p.startedAt}) failed and could not roll back: ${p.failed.reason}`
    : `${what} (pid ${p.pid}, ${p.startedAt}) was interrupted before it finished`;
}

/** Does the device show every value of `values` (as `matches` reads them back)? */
function shows(now: Snapshot, values: Record<string, string>): boolean {
  return Object.entries(values).every(([k, v]) => matches(k, v, now[k] ?? ''));
}

/**
 * Does the device show the value the kernel gives `key` when a queue switches to `scheduler`
 * (blockdev/iosched-defaults.ts)? One derived from nr_requests is the kernel's whatever it is, as nr_requests is.
 */
function freshAtSwitch(scheduler: string, key: string, now: Snapshot): boolean {
  const fresh = key.startsWith(IOSCHED_PREFIX) ? IOSCHED_SWITCH_DEFAULTS[scheduler]?.[key.slice(IOSCHED_PREFIX.length)] : undefined;
  return fresh === 'from nr_requests' || (fresh !== undefined && matches(key, fresh, now[key] ?? ''));
}

/**
 * `key=now (applied a, previous p)` for each attribute a record names that the device shows neither its
 * applied nor its previous value of, unless a scheduler switch explains it: the device shows the scheduler
 * the record applied, and the attribute is one a switch to it resets (nr_requests, to a value of the
 * kernel's; another scheduler's tunable, absent now; its own tunable, showing the value the kernel gives a
 * new scheduler's). An older ssdtune kept such attributes in `applied` after the kernel reset them (through
 * A→B→A too: A's tunables kept, the switch back gave them the kernel's values), and a reboot followed by a
 * partial re-apply leaves some attributes applied and the rest previous: judged attribute by attribute, all
 * are accounted for. Another host's disk passes only where it shows what a switch would: the kernel's values.
 */
function unaccounted(now: Snapshot, rec: HostStateRecord): string[] {
  const shown = rec.applied.scheduler !== undefined && rec.applied.scheduler === now.scheduler ? now.scheduler : undefined;
  // A switch to `shown` from any other scheduler.
  const reset = new Set(shown === undefined ? [] : ['none', ...Object.keys(IOSCHED_TUNABLES)].filter((s) => s !== shown).flatMap(switchResets));
  const value = (v: string | undefined) => v ?? '(none)';
  return [...new Set([...Object.keys(rec.applied), ...Object.keys(rec.previous)])]
    .filter((k) => {
      const was = [rec.applied[k], rec.previous[k]].filter((v) => v !== undefined);
      return !was.some((v) => matches(k, v, now[k] ?? '')) && !reset.has(k) && !(shown !== undefined && freshAtSwitch(shown, k, now));
    })
    .map((k) => `${k}=${value(now[k])} (${k in rec.applied ? `applied ${rec.applied[k]}, ` : ''}previous ${value(rec.previous[k])})`);
}

/** What a refusal before any write stopped (verify's stops a comparison instead). */
const WROTE_NOTHING = 'nothing was written';

/**
 * The refusal of a record that may not be this device's way back, if it is
 * one: one made on another host (a shared ConfDB, an import), or one that
 * names no host (written before records did) unless the device shows all its
 * applied values, the values before its unfinished change, or attribute by
 * attribute its applied or previous values (unaccounted: a reboot brings the
 * previous ones back). Restoring such a record would write values this
 * device may never have had; `revert --anyway` is the user saying it is this
 * device's.
 */
function provenanceRefusal(dev: BlockDevice, rec: HostStateRecord): Error | undefined {
  if (rec.recordedOn) return hostRefusal(dev, rec.recordedOn, WROTE_NOTHING);
  const name = dev.disk.name;
  const now = readSnapshot(dev);
  const applied = Object.keys(rec.applied).length > 0 && shows(now, rec.applied);
  if (applied || (rec.pending && shows(now, rec.pending.before))) return undefined;
  const differ = unaccounted(now, rec);
  if (differ.length === 0) return undefined;
  const ways = waysOut(name);
  return ERR_HOST_STATE(
    name,
    `the recorded way back of ${name} names no host (an older ssdtune wrote it, or an old export brought it) and the device shows neither the applied ` +
      `nor the previous value of ${differ.join(', ')}: it may be another host's disk's, so ${WROTE_NOTHING}. ` +
      `Ways out: ${ways.anyway}, if the record is this device's (changed by hand since); ${ways.forget}`,
  );
}

/** The refusal of a record made on another host than this one, if it is. */
function hostRefusal(dev: BlockDevice, recordedOn: RecordingHost, outcome: string): Error | undefined {
  const here = hostIdentity();
  if (recordedOn.id === here.id) return undefined;
  const name = dev.disk.name;
  const ways = waysOut(name);
  return ERR_HOST_STATE(
    name,
    `the recorded way back of ${name} was made on another host, ${describeHost(recordedOn, here)}, not on this one, ${describeHost(here, recordedOn)}: ` +
      `its values are that host's disk's, so ${outcome}. A ConfDB shared by several hosts (PostgreSQL) holds one record per disk name: ` +
      `apply on each host with its own embedded ConfDB (without --store or SSDTUNE_STORE), as fleet agents do. ` +
      `Ways out: ${ways.forget}, where that host no longer needs it (in a shared ConfDB it is that host's way back); ${ways.anyway}, if the record is this host's own (its machine id changed)`,
  );
}

function waysOut(name: string): { anyway: string; forget: string } {
  return {
    anyway: `\`ssdtune revert --device ${name} --anyway\` restores the recorded previous values all the same`,
    forget: `\`ssdtune db delete devices ${name}\` forgets the record (the device's values at the next apply become its way back)`,
  };
}

/**
 * Refuses a record that is certainly another device's way back: recorded for another major:minor (the name now
 * belongs to another device), or, unless `anyway`, for another medium under the same name and number (a drive
 * replaced, a loop device attached to another file; `anyway`, as a loop's backing file may have been renamed) or
 * made on another host. `outcome` says what the refusal stopped.
 */
function refuseOthers(dev: BlockDevice, rec: Pick<HostStateRecord, 'devNumber' | 'medium' | 'recordedOn'>, o: { anyway?: boolean; outcome: string }): void {
  if (rec.devNumber !== dev.disk.devNumber) {
    throw ERR_HOST_STATE(
      dev.disk.name,
      `state recorded for device ${rec.devNumber} but ${dev.disk.name} is now ${dev.disk.devNumber}: the record is another device's, so ${o.outcome} (remove its entry from the ConfDB: ssdtune db delete devices ${dev.disk.name})`,
    );
  }
  const refusal = o.anyway ? undefined : (mediumRefusal(dev, rec, o.outcome) ?? (rec.recordedOn ? hostRefusal(dev, rec.recordedOn, o.outcome) : undefined));
  if (refusal) throw refusal;
}

/** The refusal of a record made for another medium than the device's now (HostStateRecord.medium), if it is. */
function mediumRefusal(dev: BlockDevice, rec: Pick<HostStateRecord, 'medium'>, outcome: string): Error | undefined {
  const now = diskMedium(dev.disk);
  if (rec.medium === undefined || rec.medium === now) return undefined;
  const ways = waysOut(dev.disk.name);
  return ERR_HOST_STATE(
    dev.disk.name,
    `state recorded for medium ${rec.medium} but ${dev.disk.name} is now ${now}: the record is another disk's (a drive replaced, a loop device attached to another file), so ${outcome}; ${ways.forget}, or ${ways.anyway}`,
  );
}

/** Throws provenanceRefusal's refusal, if any. */
function checkProvenance(dev: BlockDevice, rec: HostStateRecord): void {
  const refusal = provenanceRefusal(dev, rec);
  if (refusal) throw refusal;
}

/**
 * The record of `dev`, checked: it belongs to this very device (its number,
 * its host: refuseOthers, checkProvenance), and no change is marked in progress
 * by another live process (the caller holds the queue lock) or was left
 * unfinished by a dead process (the device would then hold values nobody
 * chose; only `revert` may touch it). `anyway` (revert only) skips the
 * provenance check, never the device number's.
 */
async function settledRecord(dev: BlockDevice, store: StateStore, o: { forRevert?: boolean; anyway?: boolean } = {}): Promise<HostStateRecord | undefined> {
  const rec = await store.get(dev.disk.name);
  // Another host's pid in a pending mark means nothing here: its host is checked first.
  if (rec) refuseOthers(dev, rec, { anyway: !!o.anyway, outcome: WROTE_NOTHING });
  if (rec?.pending && !rec.pending.failed && stillRunning(rec.pending)) {
    throw ERR_HOST_STATE(dev.disk.name, `busy: ${describePending(rec.pending).replace(/ was interrupted.*$/, ' is in progress')}; try again when it ends`);
  }
  // A record naming no host: read once nobody else is changing the device.
  if (rec && !rec.recordedOn && !o.anyway) checkProvenance(dev, rec);
  // A trial that ended before it could clear its mark (a signal: its exit path restored the device but cannot write
  // the record; or killed before its first write) left the device as it found it when every value from before the
  // trial shows. A trial changes neither `previous` nor `applied`, so the record without the mark is the way back.
  if (rec?.pending?.op === 'trial' && !rec.pending.failed && shows(readSnapshot(dev), rec.pending.before)) {
    const { pending: _, ...settled } = rec;
    // The trial's own record (no apply before it) has nothing applied: there was none before the trial.
    if (Object.keys(settled.applied).length === 0) {
      await store.delete(dev.disk.name, 'host.trial-settled');
      return undefined;
    }
    await store.put(settled, 'host.trial-settled');
    return settled;
  }
  if (rec?.pending && !o.forRevert) {
    throw ERR_HOST_STATE(
      dev.disk.name,
      `${describePending(rec.pending)}; the device may hold values nobody chose: run \`ssdtune revert --device ${dev.disk.name}\` to restore the recorded original values first`,
    );
  }
  return rec;
}

/**
 * The one way a change reaches a device: mark the record pending (durably),
 * write, then clear the mark; on failure roll back to `before` and either
 * restore the previous record (rolled back) or keep the mark with what is
 * left (rollback incomplete). Returns the record as it now stands, and what
 * the kernel changed beside the writes that was held (writeOrdered).
 */
async function recordedChange(
  dev: BlockDevice,
  store: StateStore,
  existing: HostStateRecord | undefined,
  before: Snapshot,
  applied: Record<string, string>,
  op: PendingDeviceChange['op'],
  target: Record<string, string>,
): Promise<{ record: HostStateRecord; held: Held[] }> {
  // An earlier record keeps its first time and values: revert goes back to before ssdtune's first change.
  // The record is this host's: a new one, or one checkProvenance let through (a record naming no host is adopted).
  const next: HostStateRecord = {
    device: dev.disk.name,
    devNumber: dev.disk.devNumber,
    // refuseOthers let an earlier record through only for this medium (or one that named none: adopted).
    medium: diskMedium(dev.disk),
    recordedOn: hostIdentity(),
    savedAt: existing?.savedAt ?? new Date().toISOString(),
    previous: existing?.previous ?? before,
    applied,
  };
  const pending: PendingDeviceChange = { op, pid: process.pid, startedAt: new Date().toISOString(), before };
  await store.put({ ...next, pending }, op === 'trial' ? 'host.trial' : 'host.apply');
  const { held, failures } = writeOrdered(dev, target, false);
  if (failures.length === 0) {
    if (op === 'trial') return { record: { ...next, pending }, held };
    await store.put(next); // complete: the mark goes (the audit has the apply already)
    return { record: next, held };
  }
  const f = failures[0]!;
  const back = restoreTo(dev, before);
  if (back.left.length === 0) {
    if (existing) await store.put(existing, 'host.rollback');
    else await store.delete(dev.disk.name, 'host.rollback');
    throw ERR_HOST_APPLY(dev.disk.name, f.key, f.value, f.reason, 'every attribute was rolled back to its previous value');
  }
  const failed = { at: new Date().toISOString(), reason: describeLeft(back), left: back.left };
  await store.put({ ...next, pending: { ...pending, failed } }, 'host.incomplete');
  throw ERR_HOST_APPLY(
    dev.disk.name,
    f.key,
    f.value,
    f.reason,
    `ROLLBACK INCOMPLETE: ${failed.reason}; the original values stay recorded: run \`ssdtune revert --device ${dev.disk.name}\``,
  );
}

export interface ApplyOptions {
  store: StateStore;
  dryRun?: boolean;
}

export interface RevertOptions extends ApplyOptions {
  /** Restore the recorded values even when ssdtune cannot tell the record is this device's (checkProvenance). */
  anyway?: boolean;
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
  /**
   * Attributes the kernel changed when another was written, written back to the value they had (writeOrdered): ones
   * the configuration leaves out, or names and had written already. Found by writing: a dry run has none.
   */
  held: Held[];
  /** Values after the apply (as read back), or the current ones on a dry run. */
  after: Snapshot;
}

interface Planned {
  before: Snapshot;
  target: Record<string, string>;
  changes: Change[];
  sideEffects: string[];
}

function plan(dev: BlockDevice, config: Record<string, unknown>): Planned {
  const before = readSnapshot(dev);
  const target = validateConfig(dev, config, before, readLimits(dev));
  const changes = diff(before, target);
  const sideEffects =
    target.scheduler && target.scheduler !== before.scheduler ? switchResets(before.scheduler ?? '').filter((k) => k in before && !(k in target)) : [];
  return { before, target, changes, sideEffects };
}

export async function applyHostConfig(device: string, config: Record<string, unknown>, opts: ApplyOptions): Promise<ApplyResult> {
  const dev = resolveDevice(device);
  const first = plan(dev, config);
  if (opts.dryRun || first.changes.length === 0) return { ...first, device: dev, dryRun: !!opts.dryRun, held: [], after: first.before };
  requireRoot(`applying to ${dev.disk.name}`);
  return underQueueLock(dev, async () => {
    // Planned again under the lock: a change that ended meanwhile moved what this one starts from.
    const { before, target, changes, sideEffects } = plan(dev, config);
    if (changes.length === 0) return { device: dev, dryRun: false, target, changes, sideEffects, held: [], after: before };
    const existing = await settledRecord(dev, opts.store);
    // What is applied now: the earlier applies' values the kernel kept (a new scheduler resets nr_requests and
    // its tunables), then this one's; `verify` and checkProvenance compare the device with it. A record naming no
    // host, adopted, keeps only the values the device shows: an older ssdtune kept some the kernel had reset,
    // and a reboot may have undone others.
    const kept = Object.entries(existing?.applied ?? {}).filter(
      ([k, v]) => !sideEffects.includes(k) && (existing?.recordedOn !== undefined || matches(k, v, before[k] ?? '')),
    );
    const { held } = await recordedChange(dev, opts.store, existing, before, { ...Object.fromEntries(kept), ...target }, 'apply', target);
    return { device: dev, dryRun: false, target, changes, sideEffects, held, after: readSnapshot(dev) };
  });
}

/**
 * Apply `config` for the duration of `fn` only (the live evaluator's
 * measurement), then restore what the device had. The record is written
 * before the first write and removed (or put back as it was) only once the
 * device holds its earlier values again, so a kill -9 during `fn` leaves a
 * record `revert` restores from. The queue lock is held throughout, even when
 * nothing is written: the device must not change under the measurement.
 *
 * Planned once, under the lock: a trial starts from, and is validated against, values nobody else changes until it
 * ends. A caller learns, in this order: a device not found; as root, a device busy with another change; a
 * configuration not valid here; missing root, when the configuration changes anything; the device's record (another
 * host's, an unfinished change). A bad configuration comes before missing root: it is wrong whoever runs it (without
 * root no lock is taken). As root, busy comes before it: the other order would validate outside the lock against
 * values read twice, and a trial's configurations are a search's, which stops on busy either way.
 */
export async function withTrialConfig<T>(
  device: string,
  config: Record<string, unknown>,
  store: StateStore,
  fn: (applied: ApplyResult) => Promise<T>,
): Promise<T> {
  const dev = resolveDevice(device);
  const name = dev.disk.name;
  return underQueueLock(dev, async () => {
    const { before, target, changes, sideEffects } = plan(dev, config);
    if (changes.length > 0) requireRoot(`trying a configuration on ${name}`);
    const applied: ApplyResult = { device: dev, dryRun: false, target, changes, sideEffects, held: [], after: before };
    const existing = await settledRecord(dev, store);
    if (changes.length === 0) return fn(applied);
    // A trial leaves what ssdtune applied as it was.
    const { record: rec, held } = await recordedChange(dev, store, existing, before, existing?.applied ?? {}, 'trial', target);
    // The one way back to `before`: run once the measurement ends, or by the exit path (util/cleanup.ts) should the
    // process end first on SIGINT, SIGTERM or SIGHUP, where no finally runs. The device then has its values back at
    // once; the record, which an exit hook cannot write, stays marked until the next change finds the device as the
    // trial found it and settles it (settledRecord).
    const restored: ReturnType<typeof restoreTo>[] = [];
    const restore = registerUndo(() => void restored.push(restoreTo(dev, before)));
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn({ ...applied, held, after: readSnapshot(dev) }) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    restore();
    const back = restored[0]!;
    if (back.left.length) {
      // A device left changed outweighs the measurement's own outcome.
      const failed = { at: new Date().toISOString(), reason: describeLeft(back), left: back.left };
      await store.put({ ...rec, pending: { ...rec.pending!, failed } }, 'host.incomplete');
      throw ERR_HOST_RESTORE(
        name,
        'the values it had before the evaluation',
        failed.reason,
        `the original values stay recorded: run \`ssdtune revert --device ${name}\``,
      );
    }
    if (existing) await store.put(existing, 'host.trial-end');
    else await store.delete(name, 'host.trial-end');
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  });
}

export interface RevertResult {
  device: BlockDevice;
  changes: Change[];
  after: Snapshot;
  dryRun: boolean;
  /** The unfinished change the record carried (an interrupted apply or live evaluation), if any. */
  interrupted?: string;
}

/**
 * Restore what the device had before ssdtune's first change. Every attribute
 * is tried; the record is removed only when the device holds all of them
 * again, otherwise it stays (marked) so revert can be run again.
 */
export async function revertHostConfig(device: string, opts: RevertOptions): Promise<RevertResult> {
  const dev = resolveDevice(device);
  const name = dev.disk.name;
  const revert = async (): Promise<RevertResult> => {
    const rec = await settledRecord(dev, opts.store, { forRevert: true, anyway: !!opts.anyway });
    if (!rec) throw ERR_HOST_STATE(name, 'ssdtune has not applied anything to this device (nothing to revert)');
    const interrupted = rec.pending ? describePending(rec.pending) : undefined;
    // The audit trail says when a revert restored values ssdtune could not tell were this device's.
    const action = opts.anyway && (mediumRefusal(dev, rec, WROTE_NOTHING) || provenanceRefusal(dev, rec)) ? 'host.revert-anyway' : 'host.revert';
    const before = readSnapshot(dev);
    const changes = diff(before, rec.previous);
    if (opts.dryRun) return { device: dev, changes, after: before, dryRun: true, ...(interrupted ? { interrupted } : {}) };
    if (changes.length > 0) {
      requireRoot(`reverting ${name}`);
      // The record already holds the way back; marking it says a revert was under way if this one dies too.
      await opts.store.put({ ...rec, pending: { op: 'revert', pid: process.pid, startedAt: new Date().toISOString(), before } });
      const back = restoreTo(dev, rec.previous);
      if (back.left.length) {
        const failed = { at: new Date().toISOString(), reason: describeLeft(back), left: back.left };
        await opts.store.put({ ...rec, pending: { op: 'revert', pid: process.pid, startedAt: new Date().toISOString(), before, failed } }, 'host.incomplete');
        throw ERR_HOST_RESTORE(name, 'the recorded original values', failed.reason, 'the record is kept: run revert again once the cause is fixed');
      }
    }
    await opts.store.delete(name, action);
    return { device: dev, changes, after: readSnapshot(dev), dryRun: false, ...(interrupted ? { interrupted } : {}) };
  };
  return opts.dryRun ? revert() : underQueueLock(dev, revert);
}

/** An applied attribute the device no longer shows. */
export interface Drift {
  key: string;
  applied: string;
  now: string | undefined;
}

/**
 * What `verify` reports: each applied attribute the device no longer shows. A record that is another device's
 * (another major:minor) or another host's is refused first, as apply and revert refuse it: its applied values
 * are another disk's, so drift against them would mean nothing. A record naming no host is compared all the
 * same: verify writes nothing, and the attributes it lists are those its check would name.
 */
export function verifyRecord(dev: BlockDevice, rec: Pick<HostStateRecord, 'devNumber' | 'medium' | 'recordedOn' | 'applied'>): Drift[] {
  refuseOthers(dev, rec, { outcome: 'verify compared nothing' });
  const now = readSnapshot(dev);
  return Object.entries(rec.applied)
    .filter(([k, v]) => !matches(k, v, now[k] ?? ''))
    .map(([key, applied]) => ({ key, applied, now: now[key] }));
}
