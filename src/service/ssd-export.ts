/**
 * A stored ssd configuration as MQSim's ssdconfig.xml (`MQSim -i FILE`): what an ssd search delivers, since no
 * sysfs can set a drive's internals. The parameters the space does not tune come from the baseline drive, as the
 * evaluators simulated them.
 */
import type { ConfigRecord } from '../confdb/records.js';
import { ERR_USAGE } from '../errors.js';
import { exportSsdConfigXml } from '../sim/mqsim.js';
import { toSsdConfig } from '../sim/ssd-space.js';

export function ssdConfigXml(rec: Pick<ConfigRecord, 'id' | 'space' | 'values'>): string {
  if (rec.space !== 'ssd')
    throw ERR_USAGE(
      `configuration ${rec.id} is for the ${rec.space} space, not a drive's internals: only ssd configurations are an ssdconfig.xml (a host one exports with \`apply --export tuned|udev\`)`,
    );
  return exportSsdConfigXml(toSsdConfig(rec.values));
}
