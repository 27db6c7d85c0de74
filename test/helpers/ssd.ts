/** A small simulated drive for tests: 4 planes of 64 blocks x 32 pages of 4 KiB, OP 0.25 (about 6,100 logical pages). */
import { AUTOBLOX_BASELINE, type SsdConfig } from '../../src/sim/ssd-space.js';

export const SMALL_SSD: SsdConfig = {
  ...AUTOBLOX_BASELINE,
  channels: 2,
  chipsPerChannel: 2,
  diesPerChip: 1,
  planesPerDie: 1,
  blocksPerPlane: 64,
  pagesPerBlock: 32,
  overProvisioning: 0.25,
  dataCacheBytes: 16 * 4096,
  cmtBytes: 4 * 4096,
};
