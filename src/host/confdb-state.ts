/**
 * StateStore on the ConfDB's `devices` records (DESIGN.md part 10: what is
 * applied to which device and what it replaced), each change written in one
 * batch with its audit record.
 */
import os from 'node:os';
import { ConfDB } from '../confdb/db.js';
import type { DeviceRecord } from '../confdb/records.js';
import type { HostStateRecord, StateStore } from './state.js';

// DeviceRecord has no field for the device number; it rides in `by`
// ("ssdtune apply by root on 7:0"), so revert still notices a reused name.
const DEV_RE = / on (\d+:\d+)$/;

export class ConfDbStateStore implements StateStore {
  constructor(
    private readonly db: ConfDB,
    private readonly actor: string = os.userInfo().username,
  ) {}

  async get(device: string): Promise<HostStateRecord | undefined> {
    const r = await this.db.get('devices', device);
    if (!r) return undefined;
    return { device: r.device, devNumber: DEV_RE.exec(r.by)?.[1] ?? '', savedAt: r.appliedAt, previous: r.previous, applied: r.applied };
  }

  async put(rec: HostStateRecord): Promise<void> {
    const value: DeviceRecord = {
      device: rec.device, applied: rec.applied, previous: rec.previous, appliedAt: rec.savedAt,
      by: `ssdtune apply by ${this.actor} on ${rec.devNumber}`,
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
