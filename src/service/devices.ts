/**
 * Applying configurations to block devices, reverting them and verifying
 * them: the service calls behind `ssdtune apply/revert/verify` and the
 * /v1/devices routes, both through the same path (actor and configuration id
 * recorded in the device's ConfDB record before the first write). Whether a
 * space's configurations can be applied, and how, is the catalogue's: today
 * `host`, through sysfs. The sysfs work (validation, order, rollback) is
 * src/host/applier.ts.
 */
import { existsSync } from 'node:fs';
import { resolveDevice } from '../blockdev/resolve.js';
import { ERR_HOST_CONFIG, ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import { verifyRecord, type ApplyResult, type Change, type Drift, type RevertResult } from '../host/applier.js';
import type { Held } from '../blockdev/sysfs.js';
import { readHostConfigFile } from '../host/config-file.js';
import { ConfDbStateStore } from '../host/confdb-state.js';
import { toTunedProfile, toUdevRule } from '../host/export.js';
import { MemoryStateStore } from '../host/state.js';
import { isSpace, SPACES, type SpaceApplier } from './catalog.js';
import type { Service } from './context.js';

export { requireRoot, type Change } from '../host/applier.js';
export type ExportKind = 'tuned' | 'udev';
export const EXPORT_KINDS: readonly ExportKind[] = ['tuned', 'udev'];

/** What to apply: a stored configuration, or attribute values (a host configuration file's). */
export interface ApplyRequest {
  device: string;
  configId?: string;
  values?: Record<string, string | number>;
  dryRun?: boolean;
  /** Validate against the device, write nothing, and return the configuration as a tuned profile or a udev rule. */
  export?: ExportKind;
}

/** The outcome of an apply, as every front end reports it (plain JSON). */
export interface ApplyOutcome {
  /** The disk that owns the request queue (what was tuned). */
  device: string;
  /** The partition named, when it was one. */
  partition?: string;
  configId?: string;
  dryRun: boolean;
  /** The validated configuration as the kernel prints it. */
  target: Record<string, string>;
  changes: Change[];
  /** Attributes the kernel resets as a side effect (a new scheduler resets nr_requests and its tunables). */
  sideEffects: string[];
  /** Attributes the kernel changed when another was written, written back to the value they had (a dry run has none). */
  held: Held[];
  after: Record<string, string>;
  exported?: { kind: ExportKind; text: string };
}

export interface RevertOutcome {
  device: string;
  dryRun: boolean;
  changes: Change[];
  after: Record<string, string>;
  /** The unfinished change the record carried (an interrupted apply or live evaluation), being undone. */
  interrupted?: string;
}

/** Does the device still have what ssdtune applied? (Someone, or a reboot, may have changed it since.) */
export interface VerifyOutcome {
  device: string;
  configId?: string;
  appliedAt: string;
  by: string;
  /** Every applied attribute whose current value differs. */
  drift: Drift[];
}

/** The applier of the `host` space: file configurations and retune's values are host configurations. */
function hostApplier(): SpaceApplier {
  return SPACES.host.applier!;
}

/** The values of a stored configuration, and its space's applier; a space that cannot be applied says why. */
export async function storedValues(svc: Service, configId: string): Promise<{ values: Record<string, string | number>; applier: SpaceApplier }> {
  const rec = await svc.db.require('configs', configId);
  const space = isSpace(rec.space) ? SPACES[rec.space] : undefined;
  if (!space?.applier) {
    throw ERR_HOST_CONFIG(configId, 'space', `configuration ${configId} is for the ${rec.space} space: ${space?.notApplicable ?? 'no applier for it'}`);
  }
  return { values: Object.fromEntries(Object.entries(rec.values).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v])), applier: space.applier };
}

/**
 * `--config <file|id>`: a JSON file of attribute values (read where the
 * command runs), or the id of a stored configuration.
 */
export function configRef(ref: string): Pick<ApplyRequest, 'configId' | 'values'> {
  return existsSync(ref) ? { values: readHostConfigFile(ref) } : { configId: ref };
}

/*
 * Outcomes are built with their fields in the order the REST reply's
 * serialiser writes them (required fields first, then optional ones), so a
 * command prints the same JSON in-process and through a server.
 */
const changes = (cs: Change[]): Change[] => cs.map((c) => ({ key: c.key, to: c.to, from: c.from }));

function outcome(r: ApplyResult, configId: string | undefined): ApplyOutcome {
  return {
    device: r.device.disk.name,
    dryRun: r.dryRun,
    target: r.target,
    changes: changes(r.changes),
    sideEffects: r.sideEffects,
    held: r.held.map((h) => ({ key: h.key, from: h.from, to: h.to, by: h.by })),
    after: r.after,
    ...(r.device.partition ? { partition: r.device.name } : {}),
    ...(configId ? { configId } : {}),
  };
}

export async function applyConfig(svc: Service, req: ApplyRequest, actor: string): Promise<ApplyOutcome> {
  if ((req.configId === undefined) === (req.values === undefined)) throw ERR_USAGE('apply takes a configId or values, exactly one');
  if (req.configId !== undefined && !(await svc.db.get('configs', req.configId))) {
    throw ERR_NOT_FOUND(`${req.configId}: neither a file nor the id of a configuration in the ConfDB`);
  }
  const { values, applier } = req.configId !== undefined ? await storedValues(svc, req.configId) : { values: req.values!, applier: hostApplier() };
  // A dry run or an export writes nothing, so nothing needs recording.
  const dryRun = !!(req.dryRun || req.export);
  const store = dryRun ? new MemoryStateStore() : new ConfDbStateStore(svc.db, actor, req.configId);
  const r = await applier.apply(req.device, values, { store, dryRun });
  const out = outcome(r, req.configId);
  if (req.export) out.exported = { kind: req.export, text: (req.export === 'tuned' ? toTunedProfile : toUdevRule)(out.device, r.target, r.after) };
  return out;
}

/** Apply values learned for a workload (retune): a configuration id only names where they came from. */
export async function applyValues(
  svc: Service,
  device: string,
  values: Record<string, string | number>,
  o: { dryRun?: boolean; actor: string; configId?: string },
): Promise<ApplyResult> {
  const store = o.dryRun ? new MemoryStateStore() : new ConfDbStateStore(svc.db, o.actor, o.configId);
  return hostApplier().apply(device, values, { store, dryRun: !!o.dryRun });
}

/** `anyway`: restore the recorded values even when ssdtune cannot tell the record is this device's (docs/devices.md). */
export interface RevertRequest {
  dryRun?: boolean;
  anyway?: boolean;
}

export async function revertDevice(svc: Service, device: string, o: RevertRequest, actor: string): Promise<RevertOutcome> {
  const r: RevertResult = await hostApplier().revert(device, { store: new ConfDbStateStore(svc.db, actor), dryRun: !!o.dryRun, anyway: !!o.anyway });
  return {
    device: r.device.disk.name,
    dryRun: r.dryRun,
    changes: changes(r.changes),
    after: r.after,
    ...(r.interrupted ? { interrupted: r.interrupted } : {}),
  };
}

export async function verifyDevice(svc: Service, device: string): Promise<VerifyOutcome> {
  const dev = resolveDevice(device);
  const rec = await svc.db.get('devices', dev.disk.name);
  if (!rec) throw ERR_NOT_FOUND(`${dev.disk.name}: ssdtune has applied nothing to this device (no record in the ConfDB)`);
  const drift = verifyRecord(dev, {
    devNumber: rec.devNumber ?? '',
    applied: rec.applied,
    ...(rec.medium ? { medium: rec.medium } : {}),
    ...(rec.recordedOn ? { recordedOn: rec.recordedOn } : {}),
  });
  return { device: dev.disk.name, appliedAt: rec.appliedAt, by: rec.by, drift, ...(rec.appliedConfigId ? { configId: rec.appliedConfigId } : {}) };
}
