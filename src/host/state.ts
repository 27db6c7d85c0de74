/**
 * Where the applier records what a device had before ssdtune first changed
 * it, so `revert` can restore it exactly. The CLI keeps it in the ConfDB
 * (confdb-state.ts); a JSON file serves where no ConfDB can be opened, and a
 * memory store serves evaluations that apply and revert within one call.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { defaultDataDir } from '../config.js';
import { ERR_HOST_STATE } from '../errors.js';
import type { Snapshot } from '../blockdev/sysfs.js';

export interface HostStateRecord {
  /** Disk name (loop0, nvme0n1). */
  device: string;
  /** major:minor when recorded: a different number means the name now belongs to another device. */
  devNumber: string;
  /** ISO time of the first apply. */
  savedAt: string;
  /** Every allow-listed attribute as it was before the first write. */
  previous: Snapshot;
  /** What ssdtune applied last (for display and export). */
  applied: Record<string, string>;
}

export interface StateStore {
  get(device: string): Promise<HostStateRecord | undefined>;
  put(record: HostStateRecord): Promise<void>;
  delete(device: string): Promise<void>;
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
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, devices }, null, 2) + '\n');
    renameSync(tmp, this.file);
  }

  async get(device: string): Promise<HostStateRecord | undefined> {
    return this.load()[device];
  }

  async put(record: HostStateRecord): Promise<void> {
    const all = this.load();
    all[record.device] = record;
    this.save(all);
  }

  async delete(device: string): Promise<void> {
    const all = this.load();
    if (!(device in all)) return;
    delete all[device];
    this.save(all);
  }
}

/** A store that lives as long as the process: for evaluations that apply a configuration and revert it themselves. */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, HostStateRecord>();
  async get(device: string): Promise<HostStateRecord | undefined> {
    return this.records.get(device);
  }
  async put(record: HostStateRecord): Promise<void> {
    this.records.set(record.device, structuredClone(record));
  }
  async delete(device: string): Promise<void> {
    this.records.delete(device);
  }
}
