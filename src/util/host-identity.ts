/**
 * Which host this is, as a device's recorded way back names it
 * (docs/devices.md): a record of what a disk had before ssdtune's first
 * change is this host's only, since another host's nvme0n1 has the same name
 * and, on most hosts, the same number (259:0). The systemd machine id
 * survives reboots and renames and differs between installations (a cloned
 * image must regenerate it: systemd-machine-id-setup); without one, the host
 * name stands in. Core, not host/: the applier checks a record's host, and a
 * ConfDB import (confdb/transfer.ts) refuses another host's record.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The host a device record was made on. */
export interface RecordingHost {
  /** `machine-id:<32 hex digits>`, or `hostname:<name>` where the machine has no machine id. */
  id: string;
  /** The host name when recorded, for people reading the record or an error. */
  name: string;
}

export function hostIdentity(machineIdFile = '/etc/machine-id'): RecordingHost {
  const name = os.hostname();
  let machineId = '';
  try {
    machineId = readFileSync(machineIdFile, 'utf8').trim();
  } catch {
    // No machine id (a minimal container): the host name is the identity.
  }
  return { id: /^[0-9a-f]{32}$/i.test(machineId) ? `machine-id:${machineId.toLowerCase()}` : `hostname:${name}`, name };
}

/** How a record's host reads in a message: its name, and its machine id when the names alone would not tell two hosts apart. */
export function describeHost(h: RecordingHost, other?: RecordingHost): string {
  return other && other.name === h.name ? `${h.name} (${h.id})` : h.name;
}
