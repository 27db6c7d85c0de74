/**
 * MQSim interoperability (shared/MQSIM.md): export an SsdConfig as MQSim's
 * ssdconfig.xml, a trace as MQSim's ASCII trace plus workload.xml, import an
 * ssdconfig.xml, and the `mqsim` evaluator that runs MQSim behind the same
 * Evaluator interface as `ssdsim`.
 *
 * MQSim pitfalls handled here: flow parameters have no defaults (all are
 * written), Channel/Chip/Die/Plane ID lists must match the geometry, trace
 * times are always ns and absolute (we start them at 0), out-of-range LBAs
 * would wrap silently (we reject or map them explicitly before writing),
 * stalled runs (serviced < generated) are failures even when MQSim exits 0,
 * configurations MQSim cannot run are refused before it runs. Its reported
 * IOPS divide by whole simulated seconds ("inf" below one second) and its
 * delays are whole microseconds, so the evaluator needs the MQSim that
 * scripts/build-mqsim.sh builds: its small patch (scripts/mqsim/ssdtune.patch)
 * adds the exact last completion time and ns sums to the result file.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, accessSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, access, constants } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { ERR_MQSIM_RUN, ERR_MQSIM_XML, ERR_SSDSIM_CANCELLED, ERR_SSDSIM_CONFIG, ERR_SSDSIM_LBA_RANGE, ERR_USAGE } from '../errors.js';
import { PROJECT_ROOT } from '../native.js';
import { killAtExit, registerUndo, signalProcess } from '../util/cleanup.js';
import { Op, type TraceSource } from '../trace/model.js';
import type { Configuration } from '../space/types.js';
import type { EvaluateOptions, Evaluator, LbaPolicy, Metrics, Replay, WorkloadRef } from '../evaluators/types.js';
import { GC_POLICIES, logicalSectors, PLANE_ALLOCATIONS, toSsdConfig, validateSsdConfig, type GcPolicyName, type SsdConfig } from './ssd-space.js';
import { RECORDED, replayExtra, scaledSource, speedupOf } from './replay.js';
import { escapeXml, findAll, parseXml, type XmlElement } from './xml.js';
import { DEFAULT_LBA_POLICY, foldExtra, foldSector } from './lba-fold.js';

/** MQSim's sector bitmap per page is a uint64: at most 64 sectors (32 KiB) per page. */
const MQSIM_MAX_PAGE_BYTES = 64 * 512;
/** MQSim's ONFI command-time tables stop at 4 planes (beyond, it reads past their end). */
const MQSIM_MAX_PLANES_PER_DIE = 4;

/**
 * Why MQSim cannot run `c`, or undefined when it can. Checked before every
 * run: MQSim would abort, or simulate garbage, on these.
 */
export function mqsimRefusal(c: SsdConfig): { param: string; why: string } | undefined {
  if (c.dataCacheBytes === 0)
    return { param: 'dataCacheBytes', why: 'MQSim aborts on a data cache of 0 bytes (assertion in Data_Cache_Flash.cpp); give it at least one page' };
  if (c.dataCacheBytes < c.pageBytes) return { param: 'dataCacheBytes', why: `MQSim needs a data cache of at least one page (${c.pageBytes} B)` };
  if (c.dataCacheBytes >= 2 ** 32) return { param: 'dataCacheBytes', why: 'MQSim stores the data cache capacity as uint32 (< 4 GiB)' };
  if (c.cmtBytes >= 2 ** 32) return { param: 'cmtBytes', why: 'MQSim stores the CMT capacity as uint32 (< 4 GiB)' };
  if (c.pageBytes > MQSIM_MAX_PAGE_BYTES)
    return { param: 'pageBytes', why: `MQSim pages hold at most ${MQSIM_MAX_PAGE_BYTES} bytes (a 64-bit sector bitmap), got ${c.pageBytes}` };
  if (c.planesPerDie > MQSIM_MAX_PLANES_PER_DIE)
    return { param: 'planesPerDie', why: `MQSim's command timings cover at most ${MQSIM_MAX_PLANES_PER_DIE} planes per die, got ${c.planesPerDie}` };
  return undefined;
}

function checkRunnable(c: SsdConfig): void {
  validateSsdConfig(c);
  const r = mqsimRefusal(c);
  if (r) throw ERR_SSDSIM_CONFIG(r.param, r.why);
}

// ---- ssdconfig.xml -----------------------------------------------------------

export interface MqsimExportOptions {
  seed?: number;
}

/** Render `c` as a complete MQSim ssdconfig.xml (every tag written; MQSim's own defaults for what we do not model). */
export function exportSsdConfigXml(c: SsdConfig, opts: MqsimExportOptions = {}): string {
  checkRunnable(c);
  const t = (tag: string, v: string | number | boolean, indent = '\t\t'): string => `${indent}<${tag}>${escapeXml(String(v))}</${tag}>`;
  const f = '\t\t\t';
  return [
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<Execution_Parameter_Set>',
    '\t<Host_Parameter_Set>',
    t('PCIe_Lane_Bandwidth', c.pcieLaneGBps),
    t('PCIe_Lane_Count', c.pcieLanes),
    t('SATA_Processing_Delay', 400000),
    t('Enable_ResponseTime_Logging', false),
    t('ResponseTime_Logging_Period_Length', 1000000),
    '\t</Host_Parameter_Set>',
    '\t<Device_Parameter_Set>',
    t('Seed', opts.seed ?? 321),
    t('Enabled_Preconditioning', false),
    t('Memory_Type', 'FLASH'),
    t('HostInterface_Type', 'NVME'),
    t('IO_Queue_Depth', c.queueDepth),
    t('Queue_Fetch_Size', 512),
    t('Caching_Mechanism', 'ADVANCED'),
    t('Data_Cache_Sharing_Mode', 'SHARED'),
    t('Data_Cache_Capacity', c.dataCacheBytes),
    t('Data_Cache_DRAM_Row_Size', 8192),
    t('Data_Cache_DRAM_Data_Rate', 100),
    t('Data_Cache_DRAM_Data_Busrt_Size', 1),
    t('Data_Cache_DRAM_tRCD', 13),
    t('Data_Cache_DRAM_tCL', 13),
    t('Data_Cache_DRAM_tRP', 13),
    t('Address_Mapping', 'PAGE_LEVEL'),
    t('Ideal_Mapping_Table', false),
    t('CMT_Capacity', c.cmtBytes),
    t('CMT_Sharing_Mode', 'SHARED'),
    t('Plane_Allocation_Scheme', c.planeAllocation),
    t('Transaction_Scheduling_Policy', 'PRIORITY_OUT_OF_ORDER'),
    t('Overprovisioning_Ratio', c.overProvisioning),
    t('GC_Exec_Threshold', c.gcThreshold),
    t('GC_Block_Selection_Policy', c.gcPolicy),
    t('Use_Copyback_for_GC', c.copybackGc),
    t('Preemptible_GC_Enabled', c.preemptibleGc),
    t('GC_Hard_Threshold', c.gcHardThreshold),
    t('Dynamic_Wearleveling_Enabled', true),
    t('Static_Wearleveling_Enabled', true),
    t('Static_Wearleveling_Threshold', 100),
    // MQSim's parser (Device_Parameter_Set.cpp) spells only this one with one r.
    t('Prefered_suspend_erase_time_for_read', 700000),
    t('Preferred_suspend_erase_time_for_write', 700000),
    t('Preferred_suspend_write_time_for_read', 100000),
    t('Flash_Channel_Count', c.channels),
    t('Flash_Channel_Width', c.channelWidthBytes),
    t('Channel_Transfer_Rate', c.channelMTs),
    t('Chip_No_Per_Channel', c.chipsPerChannel),
    t('Flash_Comm_Protocol', 'NVDDR2'),
    '\t\t<Flash_Parameter_Set>',
    t('Flash_Technology', 'MLC', f),
    t('CMD_Suspension_Support', 'ERASE', f),
    t('Page_Read_Latency_LSB', c.readLatencyNs, f),
    t('Page_Read_Latency_CSB', c.readLatencyNs, f),
    t('Page_Read_Latency_MSB', c.readLatencyNs, f),
    t('Page_Program_Latency_LSB', c.programLatencyNs, f),
    t('Page_Program_Latency_CSB', c.programLatencyNs, f),
    t('Page_Program_Latency_MSB', c.programLatencyNs, f),
    t('Block_Erase_Latency', c.eraseLatencyNs, f),
    t('Block_PE_Cycles_Limit', 10000, f),
    t('Suspend_Erase_Time', 700000, f),
    t('Suspend_Program_Time', 100000, f),
    t('Die_No_Per_Chip', c.diesPerChip, f),
    t('Plane_No_Per_Die', c.planesPerDie, f),
    t('Block_No_Per_Plane', c.blocksPerPlane, f),
    t('Page_No_Per_Block', c.pagesPerBlock, f),
    t('Page_Capacity', c.pageBytes, f),
    t('Page_Metadat_Capacity', 448, f),
    '\t\t</Flash_Parameter_Set>',
    '\t</Device_Parameter_Set>',
    '</Execution_Parameter_Set>',
    '',
  ].join('\n');
}

/** MQSim's built-in values, used for tags an imported file leaves out (MQSIM.md section 5, "Built-in"). */
const MQSIM_BUILTIN: SsdConfig = {
  queueDepth: 1024,
  pcieLanes: 4,
  pcieLaneGBps: 0.4,
  dataCacheBytes: 512 * 1024 * 1024,
  cmtBytes: 2 * 1024 * 1024,
  channels: 8,
  chipsPerChannel: 4,
  diesPerChip: 2,
  planesPerDie: 2,
  blocksPerPlane: 2048,
  pagesPerBlock: 256,
  pageBytes: 8192,
  readLatencyNs: 75000,
  programLatencyNs: 750000,
  eraseLatencyNs: 3800000,
  channelWidthBytes: 1,
  channelMTs: 300,
  planeAllocation: 'CWDP',
  overProvisioning: 0.07,
  gcThreshold: 0.05,
  gcHardThreshold: 0.005,
  gcPolicy: 'RGA',
  copybackGc: false,
  preemptibleGc: true,
};

/**
 * Parse an MQSim ssdconfig.xml into an SsdConfig. Tags the file leaves out take
 * MQSim's built-in values (what MQSim itself would use); read latencies of
 * several bit levels are averaged, since our model has one per operation.
 */
export function importSsdConfigXml(xml: string, file: string): SsdConfig {
  const root = parseXml(xml, file);
  const values = new Map<string, XmlElement>();
  for (const el of [...findAll(root, 'Host_Parameter_Set'), ...findAll(root, 'Device_Parameter_Set'), ...findAll(root, 'Flash_Parameter_Set')])
    for (const c of el.children) if (c.children.length === 0) values.set(c.name, c);
  if (!findAll(root, 'Device_Parameter_Set').length && root.name !== 'Execution_Parameter_Set')
    throw ERR_MQSIM_XML(file, `<${root.name}>`, 'an MQSim ssdconfig.xml (<Execution_Parameter_Set> with <Device_Parameter_Set>)');
  const text = (tag: string): string | undefined => values.get(tag)?.text.trim();
  const num = (tag: string, dflt: number, integer = true): number => {
    const s = text(tag);
    if (s === undefined) return dflt;
    const v = Number(s);
    if (s === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < 0)
      throw ERR_MQSIM_XML(file, `<${tag}> on line ${values.get(tag)!.line}`, `a non-negative ${integer ? 'integer' : 'number'}, found ${JSON.stringify(s)}`);
    return v;
  };
  const bool = (tag: string, dflt: boolean): boolean => {
    const s = text(tag);
    if (s === undefined) return dflt;
    if (s.toLowerCase() === 'true') return true;
    if (s.toLowerCase() === 'false') return false;
    throw ERR_MQSIM_XML(file, `<${tag}> on line ${values.get(tag)!.line}`, `true or false, found ${JSON.stringify(s)}`);
  };
  const oneOf = <T extends string>(tag: string, allowed: readonly T[], dflt: T): T => {
    const s = text(tag);
    if (s === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(s))
      throw ERR_MQSIM_XML(file, `<${tag}> on line ${values.get(tag)!.line}`, `one of ${allowed.join(', ')}, found ${JSON.stringify(s)}`);
    return s as T;
  };
  const b = MQSIM_BUILTIN;
  const tech = oneOf('Flash_Technology', ['SLC', 'MLC', 'TLC'] as const, 'MLC');
  const levels = tech === 'SLC' ? ['LSB'] : tech === 'MLC' ? ['LSB', 'MSB'] : ['LSB', 'CSB', 'MSB'];
  const mean = (prefix: string, dflt: number): number => Math.round(levels.reduce((a, l) => a + num(`${prefix}_${l}`, dflt), 0) / levels.length);
  const cfg: SsdConfig = {
    queueDepth: num('IO_Queue_Depth', b.queueDepth),
    pcieLanes: num('PCIe_Lane_Count', b.pcieLanes),
    pcieLaneGBps: num('PCIe_Lane_Bandwidth', b.pcieLaneGBps, false),
    dataCacheBytes: num('Data_Cache_Capacity', b.dataCacheBytes),
    cmtBytes: num('CMT_Capacity', b.cmtBytes),
    channels: num('Flash_Channel_Count', b.channels),
    chipsPerChannel: num('Chip_No_Per_Channel', b.chipsPerChannel),
    diesPerChip: num('Die_No_Per_Chip', b.diesPerChip),
    planesPerDie: num('Plane_No_Per_Die', b.planesPerDie),
    blocksPerPlane: num('Block_No_Per_Plane', b.blocksPerPlane),
    pagesPerBlock: num('Page_No_Per_Block', b.pagesPerBlock),
    pageBytes: num('Page_Capacity', b.pageBytes),
    readLatencyNs: mean('Page_Read_Latency', b.readLatencyNs),
    programLatencyNs: mean('Page_Program_Latency', b.programLatencyNs),
    eraseLatencyNs: num('Block_Erase_Latency', b.eraseLatencyNs),
    channelWidthBytes: num('Flash_Channel_Width', b.channelWidthBytes),
    channelMTs: num('Channel_Transfer_Rate', b.channelMTs, false),
    planeAllocation: oneOf('Plane_Allocation_Scheme', PLANE_ALLOCATIONS, b.planeAllocation),
    overProvisioning: num('Overprovisioning_Ratio', b.overProvisioning, false),
    gcThreshold: num('GC_Exec_Threshold', b.gcThreshold, false),
    gcHardThreshold: num('GC_Hard_Threshold', b.gcHardThreshold, false),
    gcPolicy: oneOf<GcPolicyName>('GC_Block_Selection_Policy', GC_POLICIES, b.gcPolicy),
    copybackGc: bool('Use_Copyback_for_GC', b.copybackGc),
    preemptibleGc: bool('Preemptible_GC_Enabled', b.preemptibleGc),
  };
  const addr = text('Address_Mapping');
  if (addr !== undefined && addr !== 'PAGE_LEVEL')
    throw ERR_MQSIM_XML(
      file,
      `<Address_Mapping> on line ${values.get('Address_Mapping')!.line}`,
      `PAGE_LEVEL (MQSim's HYBRID mapping is an empty stub), found ${JSON.stringify(addr)}`,
    );
  return cfg;
}

// ---- trace + workload.xml ------------------------------------------------------

export interface TraceExportOptions {
  /** Out-of-range requests: 'modulo' (default: folded here as ssdsim folds them, before MQSim sees them; see lba-fold.ts) or 'reject'. */
  lbaPolicy?: LbaPolicy;
}

export interface TraceExportResult {
  requests: number;
  /** Neither read nor write, or zero-length: MQSim has no such request. */
  skipped: number;
  /** Requests beyond the device's logical capacity, folded into it (lbaPolicy 'modulo'). */
  folded: number;
  /** The trace's first arrival (ns, rounded); the exported times start at 0 from it. */
  firstArrivalNs: number;
  /** The last exported arrival time (ns from the first). */
  lastArrivalNs: number;
}

/**
 * Write `source` as an MQSim ASCII trace for a device of config `c` (streamed).
 * Arrival times are rounded to ns, made non-decreasing and counted from the
 * first arrival: ssdsim rounds and clamps the same way, so both replay the
 * same times. LBAs beyond the device are folded exactly as ssdsim folds them.
 */
export async function exportMqsimTrace(source: TraceSource, c: SsdConfig, file: string, opts: TraceExportOptions = {}): Promise<TraceExportResult> {
  const capacity = logicalSectors(c);
  const out = createWriteStream(file);
  const res: TraceExportResult = { requests: 0, skipped: 0, folded: 0, firstArrivalNs: 0, lastArrivalNs: 0 };
  let index = 0;
  let last = -Infinity;
  try {
    for await (const b of source) {
      let chunk = '';
      for (let i = 0; i < b.length; i++, index++) {
        const op = b.op[i]!;
        const sectors = Math.ceil(b.bytes[i]! / 512);
        if (sectors === 0 || !(op & (Op.READ | Op.WRITE))) {
          res.skipped++;
          continue;
        }
        let sector = b.sector[i]!;
        if (sector + sectors > capacity) {
          if ((opts.lbaPolicy ?? DEFAULT_LBA_POLICY) === 'reject' || sectors > capacity)
            throw ERR_SSDSIM_LBA_RANGE(source.meta.source, index, sector + sectors - 1, capacity);
          sector = foldSector(sector, sectors, capacity);
          res.folded++;
        }
        const t = Math.max(last, Math.round(Math.max(0, b.timeNs[i]!)));
        if (res.requests === 0) res.firstArrivalNs = t;
        last = t;
        res.lastArrivalNs = t - res.firstArrivalNs;
        chunk += `${res.lastArrivalNs} 0 ${sector} ${sectors} ${op & Op.WRITE ? 0 : 1}\n`;
        res.requests++;
      }
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return res;
}

const ids = (n: number): string => Array.from({ length: n }, (_, i) => i).join(',');

export interface WorkloadXmlOptions {
  /**
   * MQSim's Initial_Occupancy_Percentage: used for preconditioning, which
   * MQSim cannot do for traces, and as rho, the share of invalid pages
   * RANDOM_PP wants in a victim. ssdsim takes rho from its preconditioning
   * fill, 0 on the default fresh drive; so does this default.
   */
  initialOccupancyPercent?: number;
}

/** workload.xml with one trace-based flow; every flow parameter is given (MQSim has no defaults for them). */
export function workloadXml(c: SsdConfig, tracePath: string, opts: WorkloadXmlOptions = {}): string {
  const t = (tag: string, v: string | number): string => `\t\t\t<${tag}>${escapeXml(String(v))}</${tag}>`;
  return [
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<MQSim_IO_Scenarios>',
    '\t<IO_Scenario>',
    '\t\t<IO_Flow_Parameter_Set_Trace_Based>',
    t('Priority_Class', 'HIGH'),
    t('Device_Level_Data_Caching_Mode', 'WRITE_CACHE'),
    t('Channel_IDs', ids(c.channels)),
    t('Chip_IDs', ids(c.chipsPerChannel)),
    t('Die_IDs', ids(c.diesPerChip)),
    t('Plane_IDs', ids(c.planesPerDie)),
    t('Initial_Occupancy_Percentage', opts.initialOccupancyPercent ?? 0),
    t('File_Path', tracePath),
    t('Percentage_To_Be_Executed', 100),
    t('Relay_Count', 1),
    t('Time_Unit', 'NANOSECOND'),
    '\t\t</IO_Flow_Parameter_Set_Trace_Based>',
    '\t</IO_Scenario>',
    '</MQSim_IO_Scenarios>',
    '',
  ].join('\n');
}

// ---- results -------------------------------------------------------------------

/** Exact figures from ssdtune's patch (scripts/mqsim/ssdtune.patch), all ns. */
export interface MqsimExact {
  lastCompletionNs: number;
  sumDelayNs: number;
  sumDelayReadNs: number;
  sumDelayWriteNs: number;
  sumDeviceResponseNs: number;
  servicedReads: number;
  servicedWrites: number;
}

export interface MqsimFlowResult {
  name: string;
  requestCount: number;
  readRequestCount: number;
  writeRequestCount: number;
  /** As MQSim reports it: divided by whole simulated seconds, NaN for its "inf" (do not use as is). */
  reportedIops: number;
  bytesTransferred: number;
  /** Whole microseconds, as MQSim reports them. */
  deviceResponseTimeUs: number;
  endToEndDelayUs: number;
  maxEndToEndDelayUs: number;
  /** Present when MQSim carries ssdtune's patch. */
  exact?: MqsimExact;
}

/** Read the Host.IO_Flow records of an MQSim scenario result file. */
export function parseMqsimResults(xml: string, file: string): MqsimFlowResult[] {
  const root = parseXml(xml, file);
  if (root.name !== 'MQSim_Results') throw ERR_MQSIM_XML(file, `<${root.name}> on line ${root.line}`, 'the root element <MQSim_Results>');
  const flows = findAll(root, 'Host.IO_Flow');
  if (flows.length === 0) throw ERR_MQSIM_XML(file, '<MQSim_Results>', 'at least one <Host.IO_Flow> element');
  return flows.map((f) => {
    // Upstream writes each statistic as a child element; some forks write attributes.
    const get = (k: string): string | undefined => f.children.find((c) => c.name === k)?.text.trim() ?? f.attrs[k];
    const num = (k: string): number => {
      const s = get(k);
      const v = Number(s);
      if (s === undefined || s === '' || Number.isNaN(v))
        throw ERR_MQSIM_XML(file, `<Host.IO_Flow> on line ${f.line}`, `a numeric <${k}>, found ${s === undefined ? 'none' : JSON.stringify(s)}`);
      return v;
    };
    // MQSim writes inf (or nan) for rates when less than one whole second was simulated.
    const rate = (k: string): number => {
      const s = get(k);
      return s === undefined || /^[-+]?(inf|nan)/i.test(s) ? NaN : num(k);
    };
    const exact: MqsimExact | undefined =
      get('Last_Completion_Time_ns') === undefined
        ? undefined
        : {
            lastCompletionNs: num('Last_Completion_Time_ns'),
            sumDelayNs: num('Sum_End_to_End_Request_Delay_ns'),
            sumDelayReadNs: num('Sum_End_to_End_Request_Delay_Read_ns'),
            sumDelayWriteNs: num('Sum_End_to_End_Request_Delay_Write_ns'),
            sumDeviceResponseNs: num('Sum_Device_Response_Time_ns'),
            servicedReads: num('Serviced_Read_Request_Count'),
            servicedWrites: num('Serviced_Write_Request_Count'),
          };
    return {
      name: get('Name') ?? '',
      requestCount: num('Request_Count'),
      readRequestCount: num('Read_Request_Count'),
      writeRequestCount: num('Write_Request_Count'),
      reportedIops: rate('IOPS'),
      bytesTransferred: num('Bytes_Transferred'),
      deviceResponseTimeUs: num('Device_Response_Time'),
      endToEndDelayUs: num('End_to_End_Request_Delay'),
      maxEndToEndDelayUs: num('Max_End_to_End_Request_Delay'),
      ...(exact ? { exact } : {}),
    };
  });
}

/**
 * MQSim's flash command counts (the SSDDevice.FTL element), for side-by-side
 * comparisons. They count commands: a multi-plane command counts once, in its own counter.
 */
export interface MqsimFlashCounts {
  /** Every command issued to a chip (reads, programs, erases, single or multi-plane, copyback). */
  commands: number;
  multiPlaneCommands: number;
  /** Translation-page reads. */
  mappingReads: number;
  erases: number;
}

export function parseMqsimFlashCounts(xml: string): MqsimFlashCounts | undefined {
  const m = xml.match(/<SSDDevice\.FTL\s([^>]*)\/?>/);
  if (!m) return undefined;
  const a = (k: string): number => Number(m[1]!.match(new RegExp(`\\b${k}="([^"]*)"`))?.[1] ?? 0);
  const single = ['Read', 'Program', 'Erase', 'Copyback_Read', 'Copyback_Program'].reduce((s, k) => s + a(`Issued_Flash_${k}_CMD`), 0);
  const multi = ['Read', 'Program', 'Erase', 'Copyback_Read', 'Copyback_Program'].reduce((s, k) => s + a(`Issued_Flash_Multiplane_${k}_CMD`), 0);
  return {
    commands: single + multi,
    multiPlaneCommands: multi,
    mappingReads: a('Issued_Flash_Read_CMD_For_Mapping'),
    erases: a('Issued_Flash_Erase_CMD') + a('Issued_Flash_Multiplane_Erase_CMD'),
  };
}

export interface MqsimRunCounts {
  flow: string;
  generated: number;
  serviced: number;
}

/** The per-flow "total requests generated: N total requests serviced:M" lines MQSim prints at the end. */
export function parseMqsimStdout(stdout: string): MqsimRunCounts[] {
  const out: MqsimRunCounts[] = [];
  for (const m of stdout.matchAll(/Flow (\S+) - total requests generated: (\d+) total requests serviced:\s*(\d+)/g))
    out.push({ flow: m[1]!, generated: Number(m[2]), serviced: Number(m[3]) });
  return out;
}

/**
 * Metrics from MQSim's outputs, defined as ssdsim defines them: IOPS and
 * throughput over first arrival .. last completion (the exported trace starts
 * at 0), latency = arrival to completion. Needs the exact figures of ssdtune's
 * patch: MQSim's own are whole seconds and whole microseconds.
 */
export function mqsimMetrics(flows: MqsimFlowResult[], counts: MqsimRunCounts[], where: string, flash?: MqsimFlashCounts): Metrics {
  if (counts.length === 0) throw ERR_MQSIM_RUN(where, 'printed no "total requests generated / serviced" line: it did not finish');
  for (const c of counts)
    if (c.serviced < c.generated)
      throw ERR_MQSIM_RUN(where, `stalled: flow ${c.flow} serviced ${c.serviced} of ${c.generated} requests (MQSim's GC path stalls on small or full devices)`);
  if (flows.some((f) => !f.exact))
    throw ERR_MQSIM_RUN(
      where,
      "reports no exact simulated end time (its IOPS divide by whole seconds): use the MQSim that scripts/build-mqsim.sh builds, with ssdtune's small output patch",
    );
  const requests = flows.reduce((a, f) => a + f.requestCount, 0);
  const bytes = flows.reduce((a, f) => a + f.bytesTransferred, 0);
  const endNs = Math.max(...flows.map((f) => f.exact!.lastCompletionNs));
  const sum = (k: keyof MqsimExact): number => flows.reduce((a, f) => a + f.exact![k], 0);
  const reads = sum('servicedReads');
  const writes = sum('servicedWrites');
  const endS = endNs / 1e9;
  return {
    iops: endS > 0 ? requests / endS : 0,
    throughputBps: endS > 0 ? bytes / endS : 0,
    latencyMeanUs: requests > 0 ? sum('sumDelayNs') / requests / 1e3 : 0,
    extra: {
      readMeanUs: reads > 0 ? sum('sumDelayReadNs') / reads / 1e3 : 0,
      writeMeanUs: writes > 0 ? sum('sumDelayWriteNs') / writes / 1e3 : 0,
      deviceResponseMeanUs: requests > 0 ? sum('sumDeviceResponseNs') / requests / 1e3 : 0,
      maxLatencyUs: Math.max(...flows.map((f) => f.maxEndToEndDelayUs)),
      requests,
      simulatedEndNs: endNs,
      ...(flash ? { flashCommands: flash.commands, multiPlaneCommands: flash.multiPlaneCommands, mappingReads: flash.mappingReads, erases: flash.erases } : {}),
    },
  };
}

// ---- the binary ------------------------------------------------------------------

/** Where scripts/build-mqsim.sh builds MQSim unless told otherwise. */
export function mqsimBuildDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SSDTUNE_MQSIM_DIR || path.join(os.tmpdir(), 'mqsim');
}

/** The MQSim that scripts/build-mqsim.sh built, when it is there (executable, with its stamp). */
export function builtMqsim(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = mqsimBuildDir(env);
  const bin = path.join(dir, 'MQSim', 'MQSim');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return undefined;
  }
  return existsSync(path.join(dir, '.ssdtune-stamp')) ? bin : undefined;
}

/**
 * Build MQSim from ../shared/mqsim/ with scripts/build-mqsim.sh (a few minutes
 * on two cores, once; later calls return at once) and return the binary.
 */
export async function buildMqsim(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const script = path.join(PROJECT_ROOT, 'scripts', 'build-mqsim.sh');
  // Its own process group, stopped whole (make and the compilers too) should this process end first.
  const child = spawn('bash', [script, mqsimBuildDir(env)], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  killAtExit(child, { group: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const [code, why] = await new Promise<[number | null, string]>((resolve) => {
    child.once('error', (e) => resolve([null, e.message]));
    child.once('close', (c, sig) => resolve([c, sig ? `killed by ${sig}` : `exit status ${c}`]));
  });
  if (code !== 0) throw ERR_MQSIM_RUN(script, `could not build MQSim: ${(err.trim() || why).slice(-600)}`);
  return out.trim().split('\n').pop()!;
}

// ---- evaluator -------------------------------------------------------------------

export interface MqsimEvaluatorOptions extends TraceExportOptions {
  /** Path of the MQSim binary (scripts/build-mqsim.sh builds one). */
  binary: string;
  /** Replay intensity: recorded (default) or scaled. MQSim replays traces open loop only. */
  replay?: Replay;
  /** Where run directories are created (default: the OS temp dir); each is removed afterwards unless keepRuns. */
  workDir?: string;
  keepRuns?: boolean;
  timeoutMs?: number;
  seed?: number;
  /** Measure MQSim's CPU time and peak RSS (with /usr/bin/time) into extra.cpuSeconds and extra.maxRssBytes. */
  measure?: boolean;
}

/** MQSim cannot replay a trace closed loop (its trace flows are open loop): refuse that before anything runs. */
export function checkMqsimReplay(r: Replay): void {
  if (r.mode === 'closed')
    throw ERR_USAGE('the mqsim evaluator cannot replay closed loop: MQSim replays a trace at its arrival times only (use recorded or scaled:<speedup>)');
}

export function createMqsimEvaluator(o: MqsimEvaluatorOptions): Evaluator {
  const replay = o.replay ?? RECORDED;
  checkMqsimReplay(replay);
  return {
    name: 'mqsim',
    space: 'ssd',
    async evaluate(config: Configuration, workload: WorkloadRef, opts: EvaluateOptions = {}): Promise<Metrics> {
      const cfg = toSsdConfig(config);
      checkRunnable(cfg);
      try {
        await access(o.binary, constants.X_OK);
      } catch {
        throw ERR_MQSIM_RUN(o.binary, 'is not an executable file (build one with scripts/build-mqsim.sh, or set the path of your MQSim build)');
      }
      const dir = await mkdtemp(path.join(o.workDir ?? os.tmpdir(), 'ssdtune-mqsim-'));
      // Removed however the process ends (util/cleanup.ts), the run being killed first.
      const removeDir = o.keepRuns ? undefined : registerUndo(() => rmSync(dir, { recursive: true, force: true }));
      try {
        const ssdXml = path.join(dir, 'ssdconfig.xml');
        const tracePath = path.join(dir, 'workload.trace');
        const wlXml = path.join(dir, 'workload.xml');
        await writeFile(ssdXml, exportSsdConfigXml(cfg, { seed: o.seed }));
        const exported = await exportMqsimTrace(scaledSource(await workload.open(), speedupOf(replay)), cfg, tracePath, o);
        await writeFile(wlXml, workloadXml(cfg, tracePath));
        const run = await runBinary(
          o.binary,
          ['-i', ssdXml, '-w', wlXml],
          dir,
          o.timeoutMs ?? 3_600_000,
          opts.signal,
          o.measure ? path.join(dir, 'rusage') : undefined,
        );
        const resultFile = path.join(dir, 'workload_scenario_1.xml');
        let xml: string;
        try {
          xml = await readFile(resultFile, 'utf8');
        } catch {
          throw ERR_MQSIM_RUN(o.binary, `wrote no result file ${resultFile}; last output: ${run.stdout.slice(-400)}`);
        }
        opts.onProgress?.(1);
        const m = mqsimMetrics(parseMqsimResults(xml, resultFile), parseMqsimStdout(run.stdout), o.binary, parseMqsimFlashCounts(xml));
        m.extra = {
          ...m.extra,
          ...replayExtra(replay),
          ...foldExtra(exported.folded, exported.requests),
          ...(run.usage ? { cpuSeconds: run.usage.cpuSeconds, maxRssBytes: run.usage.maxRssBytes } : {}),
        };
        return m;
      } finally {
        removeDir?.();
      }
    },
  };
}

interface RunResult {
  stdout: string;
  usage?: { cpuSeconds: number; maxRssBytes: number };
}

/**
 * Run MQSim with stdin closed and MQSIM_NO_WAIT (it waits for a key press at
 * the end otherwise); resolve with its stdout whatever the exit code. With
 * `usageFile`, run it under /usr/bin/time to measure its CPU time and peak RSS.
 */
function runBinary(bin: string, args: string[], cwd: string, timeoutMs: number, signal?: AbortSignal, usageFile?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(ERR_SSDSIM_CANCELLED());
    const timed = usageFile && existsSync('/usr/bin/time');
    const cmd = timed ? '/usr/bin/time' : bin;
    const argv = timed ? ['-f', '%U %S %M', '-o', usageFile!, bin, ...args] : args;
    // Its own process group: a kill reaches MQSim under /usr/bin/time too (killing only the wrapper
    // would leave MQSim running, holding the pipes open).
    const child = spawn(cmd, argv, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MQSIM_NO_WAIT: '1', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
      detached: true,
    });
    killAtExit(child, { group: true });
    // Gone, or never started (the 'error' event says why): nothing to signal.
    const kill = (): void => void signalProcess(child.pid, 'SIGKILL', true);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.length > 4_000_000) out = out.slice(-2_000_000); // progress bars: keep the tail, where the counts are
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    const timer = setTimeout(kill, timeoutMs);
    const onAbort = kill;
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(ERR_MQSIM_RUN(bin, `cannot start: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(ERR_SSDSIM_CANCELLED());
      // MQSim may crash after writing its results (MQSIM.md): judge by the
      // serviced counts and the result file, not by the exit status alone.
      if (sig && !out.includes('total requests serviced'))
        return reject(ERR_MQSIM_RUN(bin, `killed by ${sig}${sig === 'SIGKILL' ? ' (timeout)' : ''}; stderr: ${err}`));
      if (code !== 0 && !out.includes('total requests serviced')) return reject(ERR_MQSIM_RUN(bin, `exited with status ${code}; stderr: ${err}`));
      let usage: RunResult['usage'];
      if (timed) {
        try {
          const [u, s, kb] = readFileSync(usageFile!, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          if (Number.isFinite(u) && Number.isFinite(s) && Number.isFinite(kb)) usage = { cpuSeconds: u! + s!, maxRssBytes: kb! * 1024 };
        } catch {
          /* no figures: the run itself is still good */
        }
      }
      resolve({ stdout: out, ...(usage ? { usage } : {}) });
    });
  });
}
