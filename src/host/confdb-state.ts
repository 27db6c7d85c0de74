/**
 * StateStore on the ConfDB's `devices` records (docs/confdb.md: what is
 * applied to which device and what it replaced), each change written in one
 * synced batch with its audit record: the applier writes sysfs only once the
 * way back is on disk.
 */
import os from 'node:os';
import { ConfDB } from '../confdb/db.js';
import type { DeviceRecord } from '../confdb/records.js';
import type { HostStateRecord, StateAction, StateStore } from './state.js';

export class ConfDbStateStore implements StateStore {
  constructor(
    private readonly db: ConfDB,
    private readonly actor: string = os.userInfo().username,
    /** The ConfDB configuration being applied, when it came from one. */
    private readonly configId?: string,
  ) {}

  async get(device: string): Promise<HostStateRecord | undefined> {
    const r = await this.db.get('devices', device);
    if (!r) return undefined;
    return {
      device: r.device,
      devNumber: r.devNumber ?? '',
      ...(r.medium ? { medium: r.medium } : {}),
      ...(r.recordedOn ? { recordedOn: r.recordedOn } : {}),
      savedAt: r.appliedAt,
      previous: r.previous,
      applied: r.applied,
      ...(r.pending ? { pending: r.pending } : {}),
    };
  }

  async put(rec: HostStateRecord, action?: StateAction): Promise<void> {
    const prior = await this.db.get('devices', rec.device);
    // A new apply names its own actor and configuration; every other step (a trial, its end, the
    // completion of a change) keeps those of the configuration the user applied, if any.
    const own = action === 'host.apply';
    const configId = own ? this.configId : prior?.appliedConfigId;
    const value: DeviceRecord = {
      device: rec.device,
      devNumber: rec.devNumber,
      ...(rec.medium ? { medium: rec.medium } : {}),
      ...(rec.recordedOn ? { recordedOn: rec.recordedOn } : {}),
      applied: rec.applied,
      previous: rec.previous,
      appliedAt: rec.savedAt,
      by: own ? this.actor : (prior?.by ?? this.actor),
      ...(configId ? { appliedConfigId: configId } : {}),
      ...(rec.pending ? { pending: rec.pending } : {}),
    };
    const audit = action
      ? [
          ConfDB.audit(this.actor, action, {
            device: rec.device,
            applied: rec.applied,
            ...(rec.pending ? { pending: rec.pending.op, pid: rec.pending.pid } : {}),
            ...(rec.pending?.failed ? { failed: rec.pending.failed } : {}),
          }),
        ]
      : [];
    await this.db.batch([{ kind: 'devices', type: 'put', value }, ...audit], { sync: true });
  }

  async delete(device: string, action: StateAction): Promise<void> {
    await this.db.batch([{ kind: 'devices', type: 'del', key: device }, ConfDB.audit(this.actor, action, { device })], { sync: true });
  }
}
