/**
 * Applying stored `host` configurations to block devices and reverting them:
 * the service calls behind `ssdtune apply/revert --config ID` and the REST
 * routes. The sysfs work (validation, order, rollback) is src/host/applier.ts;
 * previous values live in the ConfDB's device records.
 */
import { ERR_HOST_CONFIG } from '../errors.js';
import { applyHostConfig, revertHostConfig, type ApplyResult, type RevertResult } from '../host/applier.js';
import { ConfDbStateStore } from '../host/confdb-state.js';
import { MemoryStateStore } from '../host/state.js';
import type { Service } from './context.js';

/** The sysfs values of a stored configuration; only `host` configurations can be applied. */
export async function hostValuesOf(svc: Service, configId: string): Promise<Record<string, string | number>> {
  const rec = await svc.db.require('configs', configId);
  if (rec.space !== 'host') {
    throw ERR_HOST_CONFIG(configId, 'space', `configuration ${configId} is for the ${rec.space} space (device internals), which sysfs cannot set; export it as an MQSim ssdconfig.xml instead`);
  }
  return Object.fromEntries(Object.entries(rec.values).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
}

export async function applyStoredConfig(svc: Service, device: string, configId: string, o: { dryRun?: boolean; actor: string }): Promise<ApplyResult> {
  return applyValues(svc, device, await hostValuesOf(svc, configId), { ...o, configId });
}

/** Apply host values (from a stored configuration when configId is set); the previous values are recorded in the ConfDB first. */
export async function applyValues(svc: Service, device: string, values: Record<string, string | number>, o: { dryRun?: boolean; actor: string; configId?: string }): Promise<ApplyResult> {
  // A dry run writes nothing, so nothing needs recording.
  const store = o.dryRun ? new MemoryStateStore() : new ConfDbStateStore(svc.db, o.actor, o.configId);
  return applyHostConfig(device, values, { store, dryRun: !!o.dryRun });
}

export async function revertDevice(svc: Service, device: string, o: { dryRun?: boolean; actor: string }): Promise<RevertResult> {
  return revertHostConfig(device, { store: new ConfDbStateStore(svc.db, o.actor), dryRun: !!o.dryRun });
}
