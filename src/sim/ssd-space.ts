/**
 * The `ssd` configuration space (docs/tuning.md): device-internal SSD
 * parameters as AutoBlox tunes them, with its baseline as the default, and
 * the validation every SSD evaluator (ssdsim, mqsim) runs before simulating.
 *
 * Parameters that are better whichever way they move (flash latencies, PCIe
 * lanes, channel rate) are not tunable: without a cost model a search would
 * simply max them out. They are part of `SsdConfig` with fixed defaults.
 */
import type { ConfigSpace, Configuration, Constraint, ParamSpec } from '../space/types.js';
import { ERR_SSDSIM_CONFIG } from '../errors.js';
import { shown } from '../util/shown.js';

export const GC_POLICIES = ['GREEDY', 'RGA', 'RANDOM', 'RANDOM_P', 'RANDOM_PP', 'FIFO'] as const;
export type GcPolicyName = (typeof GC_POLICIES)[number];

/** All 24 orderings of Channel, Way (chip), Die, Plane: MQSim's plane allocation schemes. */
export const PLANE_ALLOCATIONS: readonly string[] = (() => {
  const out: string[] = [];
  const perm = (rest: string, acc: string): void => {
    if (!rest) out.push(acc);
    for (let i = 0; i < rest.length; i++) perm(rest.slice(0, i) + rest.slice(i + 1), acc + rest[i]);
  };
  perm('CWDP', '');
  return out;
})();

export interface SsdConfig {
  /** NVMe submission-queue depth: requests the device holds at once. */
  queueDepth: number;
  pcieLanes: number;
  /** GB/s (1e9 bytes/s) per lane. */
  pcieLaneGBps: number;
  dataCacheBytes: number;
  cmtBytes: number;
  channels: number;
  chipsPerChannel: number;
  diesPerChip: number;
  planesPerDie: number;
  blocksPerPlane: number;
  pagesPerBlock: number;
  pageBytes: number;
  readLatencyNs: number;
  programLatencyNs: number;
  eraseLatencyNs: number;
  channelWidthBytes: number;
  /** Channel transfer rate, mega-transfers per second (bytes/s = width x MT/s x 1e6). */
  channelMTs: number;
  planeAllocation: string;
  /** Fraction of the physical pages not exported to the host. */
  overProvisioning: number;
  /** Free-block fraction per plane below which GC runs. */
  gcThreshold: number;
  /** Free-block fraction per plane below which preemptible GC stops yielding. */
  gcHardThreshold: number;
  gcPolicy: GcPolicyName;
  copybackGc: boolean;
  preemptibleGc: boolean;
}

const MiB = 1 << 20;

/**
 * AutoBlox's baseline (docs/tuning.md): 12 channels x 5 chips x 8 dies x 1
 * plane, 512 blocks x 512 pages of 4 KiB, 800 MiB data cache, 256 MiB CMT,
 * OP 0.2, GREEDY, CWDP, PCIe 4 lanes. Timings, lane speed and queue depth are
 * MQSim's shipped ssdconfig.xml values (AutoBlox ran MQSim).
 */
export const AUTOBLOX_BASELINE: Readonly<SsdConfig> = Object.freeze({
  queueDepth: 1024,
  pcieLanes: 4,
  pcieLaneGBps: 1.0,
  dataCacheBytes: 800 * MiB,
  cmtBytes: 256 * MiB,
  channels: 12,
  chipsPerChannel: 5,
  diesPerChip: 8,
  planesPerDie: 1,
  blocksPerPlane: 512,
  pagesPerBlock: 512,
  pageBytes: 4096,
  readLatencyNs: 75_000,
  programLatencyNs: 750_000,
  eraseLatencyNs: 3_800_000,
  channelWidthBytes: 1,
  channelMTs: 333,
  planeAllocation: 'CWDP',
  overProvisioning: 0.2,
  gcThreshold: 0.05,
  gcHardThreshold: 0.005,
  gcPolicy: 'GREEDY',
  copybackGc: false,
  preemptibleGc: false,
});

export const DRAM_BUDGET_BYTES = AUTOBLOX_BASELINE.dataCacheBytes + AUTOBLOX_BASELINE.cmtBytes;

export function physicalBytes(c: SsdConfig): number {
  return c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie * c.blocksPerPlane * c.pagesPerBlock * c.pageBytes;
}

/**
 * Logical pages, exactly as the simulator computes them: MQSim's logical space,
 * each plane exporting floor(pages x sectors per page x (1 - OP)) sectors,
 * in whole pages.
 */
export function logicalPages(c: SsdConfig): number {
  const planes = c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie;
  const spp = c.pageBytes / 512;
  const lsa = planes * Math.floor(c.blocksPerPlane * c.pagesPerBlock * spp * (1 - c.overProvisioning));
  return Math.floor(lsa / spp);
}

/** Logical capacity in 512-byte sectors, exactly as the simulator computes it. */
export function logicalSectors(c: SsdConfig): number {
  return logicalPages(c) * (c.pageBytes / 512);
}

const BASE_CAPACITY = physicalBytes(AUTOBLOX_BASELINE);

/** Free blocks per plane below which GC runs, as MQSim (and the simulator) computes it: never below its 10 concurrent GCs. */
export function gcThresholdBlocks(c: SsdConfig): number {
  return Math.max(1, Math.floor(c.gcThreshold * c.blocksPerPlane), 10);
}

const params: ParamSpec[] = [
  // Channels and chips stay linear (index) in the model's coordinates although capacity and the 80-chip limit are
  // products: on a log scale (same product = a straight line) the search did worse since cf9624b: oltp 5 of 10 seeds
  // at 98% within 150 against 7, msnfs median 47 against 35 (BENCHMARKS.md, "channels and chips on a log scale").
  // Dies, planes, pages and page sizes are powers of two, so their level index already is the log.
  { name: 'channels', kind: 'int', min: 1, max: 32, default: 12, group: 'parallelism', description: 'flash channels' },
  { name: 'chipsPerChannel', kind: 'int', min: 1, max: 16, default: 5, group: 'parallelism', description: 'chips (ways) per channel' },
  { name: 'diesPerChip', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 8, group: 'parallelism' },
  { name: 'planesPerDie', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 1, group: 'parallelism' },
  { name: 'blocksPerPlane', kind: 'int', min: 64, max: 8192, step: 32, log: true, default: 512, group: 'geometry' },
  { name: 'pagesPerBlock', kind: 'ordinal', values: [64, 128, 256, 512, 1024], default: 512, group: 'geometry' },
  { name: 'pageBytes', kind: 'ordinal', values: [2048, 4096, 8192, 16384], default: 4096, unit: 'B', group: 'geometry' },
  { name: 'overProvisioning', kind: 'ordinal', values: [0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4], default: 0.2, group: 'gc' },
  { name: 'gcThreshold', kind: 'ordinal', values: [0.01, 0.02, 0.05, 0.1, 0.15, 0.2], default: 0.05, group: 'gc' },
  { name: 'gcHardThreshold', kind: 'ordinal', values: [0.001, 0.005, 0.01, 0.02], default: 0.005, group: 'gc' },
  { name: 'gcPolicy', kind: 'categorical', values: GC_POLICIES, default: 'GREEDY', group: 'gc' },
  { name: 'copybackGc', kind: 'bool', default: false, group: 'gc' },
  { name: 'preemptibleGc', kind: 'bool', default: false, group: 'gc' },
  { name: 'dataCacheBytes', kind: 'int', min: 0, max: DRAM_BUDGET_BYTES - 32 * MiB, step: 32 * MiB, default: 800 * MiB, unit: 'B', group: 'dram' },
  { name: 'cmtBytes', kind: 'int', min: 32 * MiB, max: DRAM_BUDGET_BYTES, step: 32 * MiB, default: 256 * MiB, unit: 'B', group: 'dram' },
  { name: 'queueDepth', kind: 'ordinal', values: [16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65535], default: 1024, group: 'host' },
  { name: 'planeAllocation', kind: 'categorical', values: PLANE_ALLOCATIONS, default: 'CWDP', group: 'parallelism' },
];

const constraints: Constraint[] = [
  {
    name: 'capacity',
    description: 'physical capacity within 0.9x..1.1x of the baseline (480 GiB)',
    check: (c) => {
      const cap = physicalBytes(toSsdConfig(c));
      return cap >= 0.9 * BASE_CAPACITY && cap <= 1.1 * BASE_CAPACITY;
    },
  },
  {
    name: 'dram-budget',
    description: `data cache + CMT = ${DRAM_BUDGET_BYTES / MiB} MiB (the baseline's DRAM)`,
    check: (c) => Number(c.dataCacheBytes) + Number(c.cmtBytes) === DRAM_BUDGET_BYTES,
  },
  { name: 'channel-chips', description: 'channels x chipsPerChannel <= 80', check: (c) => Number(c.channels) * Number(c.chipsPerChannel) <= 80 },
  { name: 'die-planes', description: 'diesPerChip x planesPerDie <= 16', check: (c) => Number(c.diesPerChip) * Number(c.planesPerDie) <= 16 },
  { name: 'gc-thresholds', description: 'gcHardThreshold < gcThreshold', check: (c) => Number(c.gcHardThreshold) < Number(c.gcThreshold) },
  {
    name: 'gc-below-op',
    description: 'the GC threshold keeps fewer free blocks than over-provisioning leaves spare (minus 2)',
    check: (c) => {
      const s = toSsdConfig(c);
      const planes = s.channels * s.chipsPerChannel * s.diesPerChip * s.planesPerDie;
      const logical = logicalPages(s);
      const spare = s.blocksPerPlane - Math.ceil(Math.ceil(logical / planes) / s.pagesPerBlock);
      return gcThresholdBlocks(s) + 2 <= spare;
    },
  },
];

/** The tunable parameters only; the fixed ones (timings, PCIe) come from AUTOBLOX_BASELINE in toSsdConfig. */
export const ssdSpace: ConfigSpace = {
  name: 'ssd',
  params,
  constraints,
  origin: { module: import.meta.url, export: 'ssdSpace' },
  baseline: Object.fromEntries(params.map((p) => [p.name, (AUTOBLOX_BASELINE as unknown as Configuration)[p.name]!])),
};

const NUMERIC: readonly (keyof SsdConfig)[] = [
  'queueDepth',
  'pcieLanes',
  'pcieLaneGBps',
  'dataCacheBytes',
  'cmtBytes',
  'channels',
  'chipsPerChannel',
  'diesPerChip',
  'planesPerDie',
  'blocksPerPlane',
  'pagesPerBlock',
  'pageBytes',
  'readLatencyNs',
  'programLatencyNs',
  'eraseLatencyNs',
  'channelWidthBytes',
  'channelMTs',
  'overProvisioning',
  'gcThreshold',
  'gcHardThreshold',
];

/** A full SsdConfig from a (partial) Configuration: missing keys take the baseline; unknown keys and wrong types are errors. */
export function toSsdConfig(c: Configuration, base: SsdConfig = AUTOBLOX_BASELINE): SsdConfig {
  const out: SsdConfig = { ...base };
  for (const [k, v] of Object.entries(c)) {
    if (!(k in base)) throw ERR_SSDSIM_CONFIG(k, `unknown parameter (known: ${Object.keys(base).join(', ')})`);
    const want = typeof (base as unknown as Record<string, unknown>)[k];
    if (typeof v !== want) throw ERR_SSDSIM_CONFIG(k, `expected a ${want}, got ${shown(v)}`);
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

const INTEGER: readonly (keyof SsdConfig)[] = [
  'queueDepth',
  'pcieLanes',
  'dataCacheBytes',
  'cmtBytes',
  'channels',
  'chipsPerChannel',
  'diesPerChip',
  'planesPerDie',
  'blocksPerPlane',
  'pagesPerBlock',
  'pageBytes',
  'readLatencyNs',
  'programLatencyNs',
  'eraseLatencyNs',
  'channelWidthBytes',
];

/**
 * Reject configurations no SSD can have, naming the parameter. `lbaSpanSectors`
 * (one past the highest sector the workload touches), when known, must fit in
 * the logical capacity.
 */
export function validateSsdConfig(c: SsdConfig, opts: { lbaSpanSectors?: number } = {}): void {
  const bad = (p: string, why: string): never => {
    throw ERR_SSDSIM_CONFIG(p, why);
  };
  for (const k of NUMERIC) {
    const v = c[k] as number;
    if (!Number.isFinite(v)) bad(k, `must be a finite number, got ${shown(v)}`);
    if (INTEGER.includes(k) && !Number.isInteger(v)) bad(k, `must be an integer, got ${v}`);
  }
  for (const k of ['channels', 'chipsPerChannel', 'diesPerChip', 'planesPerDie', 'pcieLanes', 'channelWidthBytes', 'queueDepth'] as const)
    if (c[k] < 1) bad(k, `must be at least 1, got ${c[k]}`);
  if (c.pagesPerBlock < 1) bad('pagesPerBlock', `a block must hold at least one page (a page cannot be larger than its block), got ${c.pagesPerBlock}`);
  if (c.blocksPerPlane < 4) bad('blocksPerPlane', `must be at least 4, got ${c.blocksPerPlane}`);
  if (c.pageBytes < 512 || c.pageBytes % 512 !== 0) bad('pageBytes', `must be a positive multiple of 512, got ${c.pageBytes}`);
  if (c.queueDepth < 2) bad('queueDepth', `an NVMe queue holds one entry fewer than its size: must be at least 2, got ${c.queueDepth}`);
  if (c.queueDepth > 65535) bad('queueDepth', `NVMe queues hold at most 65535 entries, got ${c.queueDepth}`);
  if (c.planesPerDie > 16) bad('planesPerDie', `must be at most 16, got ${c.planesPerDie}`);
  if (c.pageBytes > 32768) bad('pageBytes', `a page's sectors are a 64-bit bitmap: at most 32768, got ${c.pageBytes}`);
  if (c.channelMTs > 1000) bad('channelMTs', `must be at most 1000, got ${c.channelMTs}`);
  if (c.dataCacheBytes >= 2 ** 32) bad('dataCacheBytes', `must be below 4 GiB, got ${c.dataCacheBytes}`);
  if (c.cmtBytes >= 2 ** 32) bad('cmtBytes', `must be below 4 GiB, got ${c.cmtBytes}`);
  if (!(c.pcieLaneGBps > 0)) bad('pcieLaneGBps', `must be positive, got ${c.pcieLaneGBps}`);
  if (!(c.channelMTs > 0)) bad('channelMTs', `must be positive, got ${c.channelMTs}`);
  for (const k of ['readLatencyNs', 'programLatencyNs', 'eraseLatencyNs', 'dataCacheBytes'] as const) if (c[k] < 0) bad(k, `must not be negative, got ${c[k]}`);
  if (!(c.overProvisioning >= 0 && c.overProvisioning < 1)) bad('overProvisioning', `must be in [0, 1), got ${c.overProvisioning}`);
  if (!(c.gcThreshold >= 0 && c.gcThreshold < 1)) bad('gcThreshold', `must be in [0, 1), got ${c.gcThreshold}`);
  if (!(c.gcHardThreshold >= 0 && c.gcHardThreshold < 1)) bad('gcHardThreshold', `must be in [0, 1), got ${c.gcHardThreshold}`);
  if (!PLANE_ALLOCATIONS.includes(c.planeAllocation)) bad('planeAllocation', `must be a permutation of C, W, D, P, got ${JSON.stringify(c.planeAllocation)}`);
  if (!GC_POLICIES.includes(c.gcPolicy)) bad('gcPolicy', `must be one of ${GC_POLICIES.join(', ')}, got ${JSON.stringify(c.gcPolicy)}`);
  if (c.cmtBytes < c.pageBytes) bad('cmtBytes', `must hold at least one translation page (${c.pageBytes} B), got ${c.cmtBytes}`);
  const planes = c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie;
  const physPages = planes * c.blocksPerPlane * c.pagesPerBlock;
  if (physPages >= 0xfffffff0) bad('blocksPerPlane', `the device has ${physPages} physical pages; the simulator addresses fewer than 2^32`);
  const logical = logicalPages(c);
  if (logical < 1) bad('overProvisioning', 'leaves no logical pages');
  if (Math.ceil(logical / planes) + 2 * c.pagesPerBlock > c.blocksPerPlane * c.pagesPerBlock)
    bad('overProvisioning', `${c.overProvisioning} leaves fewer than 2 spare blocks per plane for GC`);
  const spareBlocks = c.blocksPerPlane - Math.ceil(Math.ceil(logical / planes) / c.pagesPerBlock);
  const gcBlocks = gcThresholdBlocks(c);
  if (gcBlocks + 2 > spareBlocks)
    bad(
      'gcThreshold',
      `${c.gcThreshold} keeps ${gcBlocks} blocks per plane free, but over-provisioning leaves only ${spareBlocks} spare blocks per plane (GC could never reach its threshold)`,
    );
  if (opts.lbaSpanSectors !== undefined && opts.lbaSpanSectors > logicalSectors(c))
    bad(
      'capacity',
      `the workload spans ${opts.lbaSpanSectors} sectors but the device exports ${logicalSectors(c)} (raise blocksPerPlane or lower overProvisioning)`,
    );
}
