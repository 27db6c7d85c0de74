/**
 * Where the applier records what a device had before ssdtune first changed
 * it, so `revert` can restore it exactly. The CLI, the server and the live
 * evaluator keep it in the ConfDB (confdb-state.ts); a JSON file serves where
 * no ConfDB can be opened. Both write durably (fsync) before any sysfs write.
 * The memory store serves dry runs only, which write nothing.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import path from 'node:path';
import { defaultDataDir } from '../config.js';
import { ERR_HOST_STATE } from '../errors.js';
import type { Snapshot } from '../blockdev/sysfs.js';
import type { PendingDeviceChange } from '../confdb/records.js';
import type { RecordingHost } from '../util/host-identity.js';

export type { PendingDeviceChange };

export interface HostStateRecord {
  /** Disk name (loop0, nvme0n1). */
  device: string;
  /** major:minor when recorded: a different number means the name now belongs to another device. */
  devNumber: string;
  /**
   * The medium when recorded (blockdev/resolve.ts diskMedium): another one under the same name and number is another
   * disk (a replaced drive, a loop device attached to another file). Absent in records written before it was kept.
   */
  medium?: string;
  /** The host the record was made on (absent: written before records named it; see DeviceRecord.recordedOn). */
  recordedOn?: RecordingHost;
  /** ISO time of the first apply. */
  savedAt: string;
  /** Every allow-listed attribute as it was before the first write. */
  previous: Snapshot;
  /** What ssdtune applied last (for display and export). */
  applied: Record<string, string>;
  /** A change in flight, or one that stopped part-way (see PendingDeviceChange). */
  pending?: PendingDeviceChange;
}

/** What a record's change was, for the audit trail (none: a step within a change already audited). */
export type StateAction =
  'host.apply' | 'host.revert' | 'host.revert-anyway' | 'host.rollback' | 'host.trial' | 'host.trial-end' | 'host.trial-settled' | 'host.incomplete';

export interface StateStore {
  get(device: string): Promise<HostStateRecord | undefined>;
  /** Must be durable when it resolves: the applier writes sysfs only after it. */
  put(record: HostStateRecord, action?: StateAction): Promise<void>;
  delete(device: string, action: StateAction): Promise<void>;
}

/** One JSON file, rewritten atomically (temp file + rename) so a crash never leaves half a record. */
export class JsonFileStateStore implements StateStore {
  readonly file: string;
  constructor(dataDir: string = defaultDataDir()) {
    this.file = path.join(dataDir, 'host-state.json');
  }

  private load(): Record<string, HostStateRecord> {
    if (!existsSync(this.file)) return {};
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { devices?: Record<string, HostStateRecord> };
      return data.devices ?? {};
    } catch (e) {
      throw ERR_HOST_STATE(this.file, `state file is unreadable (${(e as Error).message}); fix or remove it`);
    }
  }

  private save(devices: Record<string, HostStateRecord>): void {
    const dir = path.dirname(this.file);
    mkdirSync(dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ version: 1, devices }, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    // The rename itself is durable only once the directory is synced.
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  async get(device: string): Promise<HostStateRecord | undefined> {
    return this.load()[device];
  }

  async put(record: HostStateRecord, _action?: StateAction): Promise<void> {
    const all = this.load();
    all[record.device] = record;
    this.save(all);
  }

  async delete(device: string, _action: StateAction): Promise<void> {
    const all = this.load();
    if (!(device in all)) return;
    delete all[device];
    this.save(all);
  }
}

/** A store that lives as long as the process: for dry runs and exports, which write nothing to the device. */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, HostStateRecord>();
  async get(device: string): Promise<HostStateRecord | undefined> {
    return this.records.get(device);
  }
  async put(record: HostStateRecord, _action?: StateAction): Promise<void> {
    this.records.set(record.device, structuredClone(record));
  }
  async delete(device: string, _action: StateAction): Promise<void> {
    this.records.delete(device);
  }
}
