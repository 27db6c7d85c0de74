/**
 * StateStore on the ConfDB's `devices` records (docs/confdb.md: what is
 * applied to which device and what it replaced), each change written in one
 * batch with its audit record.
 */
import os from 'node:os';
import { ConfDB } from '../confdb/db.js';
import type { DeviceRecord } from '../confdb/records.js';
import type { HostStateRecord, StateStore } from './state.js';

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
    return { device: r.device, devNumber: r.devNumber ?? '', savedAt: r.appliedAt, previous: r.previous, applied: r.applied };
  }

  async put(rec: HostStateRecord): Promise<void> {
    const value: DeviceRecord = {
      device: rec.device, devNumber: rec.devNumber, applied: rec.applied, previous: rec.previous, appliedAt: rec.savedAt,
      by: this.actor, ...(this.configId ? { appliedConfigId: this.configId } : {}),
    };
    await this.db.batch([
      { kind: 'devices', type: 'put', value },
      ConfDB.audit(this.actor, 'host.apply', { device: rec.device, applied: rec.applied }),
    ]);
  }

  async delete(device: string): Promise<void> {
    await this.db.batch([
      { kind: 'devices', type: 'del', key: device },
      ConfDB.audit(this.actor, 'host.revert', { device }),
    ]);
  }
}
