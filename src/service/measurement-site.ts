/**
 * Where a device-backed evaluator (live replay) measures: this host, this
 * disk, this device class (its kernel included). A configuration's grade
 * measured there is offered again only to a tune on the same site: the same
 * trace on another disk, another host or another kernel is a new question
 * (ConfDB ConfigScope.measuredOn).
 */
import { deviceClassKey, deviceClassOf } from '../blockdev/device-class.js';
import { diskIdentity, resolveDevice } from '../blockdev/resolve.js';
import type { ConfigRecord } from '../confdb/records.js';
import { hostIdentity } from '../util/host-identity.js';

export type MeasurementSite = NonNullable<ConfigRecord['measuredOn']>;

export function measurementSite(device: string): MeasurementSite {
  const dev = resolveDevice(device);
  const host = hostIdentity();
  return {
    key: [host.id, diskIdentity(dev.disk), deviceClassKey(deviceClassOf(dev))].join('|'),
    host: host.name,
    disk: dev.disk.name,
  };
}
