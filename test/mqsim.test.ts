/**
 * MQSim interoperability without running MQSim: ssdconfig.xml export/import
 * round trip, workload export (read back with the project's MQSim trace
 * reader), the result parser on a hand-written file following MQSim's output
 * structure (XmlWriter: <MQSim_Results><Host><Host.IO_Flow> with one child
 * element per statistic, plus the exact figures of ssdtune's patch), and what
 * the evaluator refuses before running. test/mqsim-live.test.ts runs MQSim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../src/util/temp-dir.js';
import { isSsdtuneError } from '../src/errors.js';
import { collect, emptyMeta, Op, sourceFromBatches, TraceBuilder } from '../src/trace/model.js';
import { simulate, type SimResults } from '../src/sim/ssdsim.js';
import { openTrace } from '../src/readers/registry.js';
import { PROJECT_ROOT } from '../src/native.js';
import { AUTOBLOX_BASELINE, logicalSectors, type SsdConfig } from '../src/sim/ssd-space.js';
import {
  createMqsimEvaluator,
  exportMqsimTrace,
  exportSsdConfigXml,
  importSsdConfigXml,
  mqsimMetrics,
  mqsimRefusal,
  parseMqsimFlashCounts,
  parseMqsimResults,
  parseMqsimStdout,
  workloadXml,
} from '../src/sim/mqsim.js';
import { findAll, parseXml } from '../src/sim/xml.js';
import { SMALL_SSD } from './helpers/ssd.js';

const WSRCH = path.join(PROJECT_ROOT, 'traces', 'mqsim_wsrch-small.trace');

test('ssdconfig.xml export then import gives the same configuration', () => {
  const other: SsdConfig = {
    ...AUTOBLOX_BASELINE,
    channels: 16,
    chipsPerChannel: 4,
    diesPerChip: 2,
    planesPerDie: 4,
    blocksPerPlane: 1024,
    pagesPerBlock: 256,
    pageBytes: 16384,
    planeAllocation: 'PDWC',
    gcPolicy: 'FIFO',
    copybackGc: true,
    preemptibleGc: true,
    pcieLaneGBps: 0.985,
    channelMTs: 400,
    overProvisioning: 0.07,
    gcThreshold: 0.05,
    gcHardThreshold: 0.01,
    dataCacheBytes: 64 << 20,
    cmtBytes: 8 << 20,
    queueDepth: 65535,
  };
  for (const c of [AUTOBLOX_BASELINE, other]) assert.deepEqual(importSsdConfigXml(exportSsdConfigXml(c), 'x.xml'), c);
});

test('importing a partial ssdconfig.xml takes MQSim built-in values for absent tags', () => {
  const c = importSsdConfigXml(
    `<?xml version="1.0"?>\n<Execution_Parameter_Set><Device_Parameter_Set><Flash_Channel_Count>4</Flash_Channel_Count>
     <Flash_Parameter_Set><Flash_Technology>TLC</Flash_Technology><Page_Read_Latency_LSB>30000</Page_Read_Latency_LSB>
     <Page_Read_Latency_CSB>60000</Page_Read_Latency_CSB><Page_Read_Latency_MSB>90000</Page_Read_Latency_MSB></Flash_Parameter_Set>
     </Device_Parameter_Set></Execution_Parameter_Set>`,
    'p.xml',
  );
  assert.equal(c.channels, 4);
  assert.equal(c.chipsPerChannel, 4);
  assert.equal(c.gcPolicy, 'RGA');
  assert.equal(c.pcieLaneGBps, 0.4);
  assert.equal(c.readLatencyNs, 60000, 'TLC read latency is the mean of its three levels');
});

test('bad ssdconfig.xml content is rejected naming file, tag and line', () => {
  const bad = exportSsdConfigXml(AUTOBLOX_BASELINE).replace('<GC_Block_Selection_Policy>GREEDY<', '<GC_Block_Selection_Policy>BEST<');
  assert.throws(
    () => importSsdConfigXml(bad, 'bad.xml'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_XML') && /bad\.xml: <GC_Block_Selection_Policy> on line \d+: one of GREEDY/.test(e.message),
  );
  assert.throws(
    () => importSsdConfigXml('<Execution_Parameter_Set>\n<A>1</B>\n</Execution_Parameter_Set>', 'm.xml'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_XML') && /m\.xml: line 2/.test(e.message),
  );
  assert.throws(
    () => exportSsdConfigXml({ ...AUTOBLOX_BASELINE, pageBytes: 65536 }),
    (e) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_CONFIG') && /pageBytes/.test(e.message),
  );
});

test('the export spells the suspend tags as MQSim parses them (only the erase-for-read one with one r)', () => {
  const xml = exportSsdConfigXml(AUTOBLOX_BASELINE);
  assert.match(xml, /<Prefered_suspend_erase_time_for_read>700000</);
  assert.match(xml, /<Preferred_suspend_erase_time_for_write>700000</);
  assert.match(xml, /<Preferred_suspend_write_time_for_read>100000</);
  assert.doesNotMatch(xml, /Prefered_suspend_(erase_time_for_write|write_time_for_read)/);
});

test('configurations MQSim cannot run are refused before it runs, naming the parameter', async () => {
  assert.equal(mqsimRefusal(AUTOBLOX_BASELINE), undefined);
  assert.equal(mqsimRefusal({ ...AUTOBLOX_BASELINE, dataCacheBytes: 0 })?.param, 'dataCacheBytes');
  assert.equal(mqsimRefusal({ ...AUTOBLOX_BASELINE, planesPerDie: 8, diesPerChip: 1 })?.param, 'planesPerDie');
  assert.equal(mqsimRefusal({ ...AUTOBLOX_BASELINE, pageBytes: 65536 })?.param, 'pageBytes');
  // The evaluator refuses them before looking for the binary or reading the trace.
  const ev = createMqsimEvaluator({ binary: '/nonexistent/MQSim' });
  const wl = { name: 'never', open: () => Promise.reject(new Error('the trace must not be read')) };
  await assert.rejects(
    ev.evaluate({ dataCacheBytes: 0 }, wl),
    (e) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_CONFIG') && /dataCacheBytes: MQSim aborts/.test(e.message),
  );
  // MQSim replays traces open loop only.
  assert.throws(
    () => createMqsimEvaluator({ binary: '/x', replay: { mode: 'closed', queueDepth: 32 } }),
    (e) => isSsdtuneError(e, 'SSDTUNE_USAGE') && /closed loop/.test(e.message),
  );
});

test('workload.xml gives every flow parameter, with ID lists matching the geometry', () => {
  const c: SsdConfig = { ...AUTOBLOX_BASELINE, channels: 4, chipsPerChannel: 3, diesPerChip: 2, planesPerDie: 1 };
  const root = parseXml(workloadXml(c, '/tmp/t.trace'), 'w.xml');
  const flow = findAll(root, 'IO_Flow_Parameter_Set_Trace_Based')[0]!;
  const v = Object.fromEntries(flow.children.map((e) => [e.name, e.text]));
  assert.equal(v.Channel_IDs, '0,1,2,3');
  assert.equal(v.Chip_IDs, '0,1,2');
  assert.equal(v.Die_IDs, '0,1');
  assert.equal(v.Plane_IDs, '0');
  for (const k of [
    'Priority_Class',
    'Device_Level_Data_Caching_Mode',
    'Initial_Occupancy_Percentage',
    'File_Path',
    'Percentage_To_Be_Executed',
    'Relay_Count',
    'Time_Unit',
  ])
    assert.ok(v[k], `${k} present`);
  // The occupancy ssdsim uses: a fresh drive unless told otherwise (MQSim also takes RANDOM_PP's rho from it).
  assert.equal(v.Initial_Occupancy_Percentage, '0');
  const full = Object.fromEntries(
    findAll(parseXml(workloadXml(c, '/t', { initialOccupancyPercent: 100 }), 'w.xml'), 'IO_Flow_Parameter_Set_Trace_Based')[0]!.children.map((e) => [
      e.name,
      e.text,
    ]),
  );
  assert.equal(full.Initial_Occupancy_Percentage, '100');
});

test('an exported trace reads back request for request; out-of-range LBAs are folded by default, rejected when asked', async () => {
  const dir = tempDir('ssdtune-mqsim-test-');
  try {
    const original = await collect(await openTrace(WSRCH));
    const big: SsdConfig = { ...AUTOBLOX_BASELINE };
    const file = path.join(dir, 'out.trace');
    const res = await exportMqsimTrace(sourceFromBatches(emptyMeta('wsrch', 'mqsim'), [original]), big, file);
    assert.equal(res.requests, original.length);
    assert.equal(res.firstArrivalNs, 0, 'this trace starts at 0; others are shifted so that MQSim starts at 0 too');
    const back = await collect(await openTrace(file, { format: 'mqsim' }));
    assert.equal(back.length, original.length);
    assert.deepEqual(back.sector, original.sector);
    assert.deepEqual(back.bytes, original.bytes);
    assert.deepEqual(back.op, original.op);
    assert.deepEqual(back.timeNs, original.timeNs);

    // A device smaller than the trace's 16.7 GiB span.
    const tiny: SsdConfig = { ...AUTOBLOX_BASELINE, channels: 2, chipsPerChannel: 1, diesPerChip: 1, blocksPerPlane: 256, pagesPerBlock: 256 };
    await assert.rejects(
      exportMqsimTrace(sourceFromBatches(emptyMeta('wsrch', 'mqsim'), [original]), tiny, file, { lbaPolicy: 'reject' }),
      (e) => isSsdtuneError(e, 'SSDTUNE_SSDSIM_LBA_RANGE') && /wsrch: request \d+ ends at sector/.test(e.message),
    );
    const folded = await exportMqsimTrace(sourceFromBatches(emptyMeta('wsrch', 'mqsim'), [original]), tiny, file);
    const wrapped = await collect(await openTrace(file, { format: 'mqsim' }));
    const cap = logicalSectors(tiny);
    let beyond = 0;
    for (let i = 0; i < original.length; i++) if (original.sector[i]! + Math.ceil(original.bytes[i]! / 512) > cap) beyond++;
    assert.ok(beyond > 0, 'the trace spans more than the tiny drive');
    assert.equal(folded.folded, beyond, 'every request beyond the drive is counted as folded');
    assert.equal(wrapped.length, original.length);
    for (let i = 0; i < wrapped.length; i++) assert.ok(wrapped.sector[i]! + wrapped.bytes[i]! / 512 <= cap);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a folded trace gives the same addresses in ssdsim and in the trace MQSim receives: sectors mod the logical sectors, ends clamped', async () => {
  // A small drive (4 planes, pages of 4 KiB: 8 sectors); requests of one page.
  const c = SMALL_SSD;
  const N = logicalSectors(c);
  const spp = c.pageBytes / 512;
  // MQSim's own logical space (Logical_Address_Partitioning_Unit.cpp: per plane, floor(blocks x pages x sectors x (1 - OP))):
  // it folds only addresses past its last sector (IO_Flow_Trace_Based.cpp, Host_Interface_NVMe.cpp segment_user_request).
  const planes = c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie;
  const mqsimSectors = planes * Math.floor(c.blocksPerPlane * c.pagesPerBlock * spp * (1 - c.overProvisioning));
  assert.ok(N <= mqsimSectors, 'ssdsim exports no sector MQSim lacks');
  // Writes, then reads of the same data addressed k drives further on, so that a
  // different fold reads pages never written (and the results differ).
  const page = c.pageBytes;
  const rows: [number, number, number][] = [
    // [sector as traced, sector it must be replayed at (by hand: mod N, end clamped), op]
    [0, 0, Op.WRITE],
    [N + 64, 64, Op.WRITE],
    [5 * N + 1024, 1024, Op.WRITE],
    [3 * N - 4, N - spp, Op.WRITE], // mod N is N - 4: it would cross the end, so it ends at the last sector
    [N - spp, N - spp, Op.READ],
    [7 * N, 0, Op.READ],
    [64, 64, Op.READ],
    [2 * N + 1024, 1024, Op.READ],
    [N - 4, N - spp, Op.READ], // in range at its start, crossing the end: folded as well
  ];
  const trace = (i: 0 | 1) => {
    const b = new TraceBuilder();
    rows.forEach((r, k) => b.push(k * 1_000_000, r[i], page, r[2]));
    return sourceFromBatches(emptyMeta(i === 0 ? 'traced' : 'by-hand', 'test'), [b.take()]);
  };
  const beyond = rows.filter((r) => r[0] !== r[1]).length;
  const dir = tempDir('ssdtune-mqsim-fold-');
  try {
    // MQSim's side: the exported trace of the traced addresses is the exported trace of the folded ones, byte for byte.
    const a = await exportMqsimTrace(trace(0), c, path.join(dir, 'traced.trace'));
    const h = await exportMqsimTrace(trace(1), c, path.join(dir, 'by-hand.trace'), { lbaPolicy: 'reject' });
    assert.equal(a.folded, beyond);
    assert.equal(h.folded, 0);
    const text = await readFile(path.join(dir, 'traced.trace'), 'utf8');
    assert.equal(text, await readFile(path.join(dir, 'by-hand.trace'), 'utf8'));
    const exported = text
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number));
    assert.deepEqual(
      exported.map((f) => f[2]),
      rows.map((r) => r[1]),
    );
    for (const f of exported) assert.ok(f[2]! + f[3]! - 1 <= mqsimSectors - 1, 'MQSim applies no fold of its own to an exported request');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // ssdsim's side: replaying the traced addresses is replaying the folded ones (on an empty drive: unwritten pages show).
  const opts = { preconditionFill: 0, preconditionAge: 0 };
  const same = (r: SimResults) => ({ ...r, preconditionCpuNs: 0, replayCpuNs: 0, preconditionWallNs: 0, foldedRequests: 0 });
  const traced = await simulate(c, trace(0), opts);
  const byHand = await simulate(c, trace(1), { ...opts, lbaPolicy: 'reject' });
  assert.equal(traced.foldedRequests, beyond);
  assert.equal(byHand.foldedRequests, 0);
  assert.equal(byHand.unmappedReads, 0, 'every read finds what a write put there');
  assert.deepEqual(same(traced), same(byHand));
  // The comparison can fail: one read a page off reads an unwritten page.
  const off = new TraceBuilder();
  rows.forEach((r, k) => off.push(k * 1_000_000, k === 5 ? r[1] + spp : r[1], page, r[2]));
  const shifted = await simulate(c, sourceFromBatches(emptyMeta('shifted', 'test'), [off.take()]), opts);
  assert.equal(shifted.unmappedReads, 1);
  assert.notDeepEqual(same(shifted), same(byHand));
});

/** Hand-written in the layout MQSim's XmlWriter produces (Write_open_tag + Write_attribute_string children). */
const SAMPLE = `<?xml version="1.0" encoding="us-ascii"?>
<MQSim_Results>
	<Host>
		<Host.IO_Flow>
			 <Name>Host.IO_Flow.Trace.workload.trace</Name>
			 <Request_Count>24783</Request_Count>
			 <Read_Request_Count>24780</Read_Request_Count>
			 <Write_Request_Count>3</Write_Request_Count>
			 <IOPS>413.050000</IOPS>
			 <IOPS_Read>413.000000</IOPS_Read>
			 <IOPS_Write>0.050000</IOPS_Write>
			 <Bytes_Transferred>388104192.000000</Bytes_Transferred>
			 <Bytes_Transferred_Read>388055040.000000</Bytes_Transferred_Read>
			 <Bytes_Transferred_Write>49152.000000</Bytes_Transferred_Write>
			 <Bandwidth>6468403.200000</Bandwidth>
			 <Bandwidth_Read>6467584.000000</Bandwidth_Read>
			 <Bandwidth_Write>819.200000</Bandwidth_Write>
			 <Device_Response_Time>180</Device_Response_Time>
			 <Min_Device_Response_Time>95</Min_Device_Response_Time>
			 <Max_Device_Response_Time>2211</Max_Device_Response_Time>
			 <End_to_End_Request_Delay>182</End_to_End_Request_Delay>
			 <Min_End_to_End_Request_Delay>95</Min_End_to_End_Request_Delay>
			 <Max_End_to_End_Request_Delay>2290</Max_End_to_End_Request_Delay>
			 <Last_Completion_Time_ns>60055386480</Last_Completion_Time_ns>
			 <Simulation_End_Time_ns>60055386488</Simulation_End_Time_ns>
			 <Serviced_Read_Request_Count>24780</Serviced_Read_Request_Count>
			 <Serviced_Write_Request_Count>3</Serviced_Write_Request_Count>
			 <Sum_Device_Response_Time_ns>4193454678</Sum_Device_Response_Time_ns>
			 <Sum_Device_Response_Time_Read_ns>4193280510</Sum_Device_Response_Time_Read_ns>
			 <Sum_Device_Response_Time_Write_ns>174168</Sum_Device_Response_Time_Write_ns>
			 <Sum_End_to_End_Request_Delay_ns>4510506000</Sum_End_to_End_Request_Delay_ns>
			 <Sum_End_to_End_Request_Delay_Read_ns>4510331832</Sum_End_to_End_Request_Delay_Read_ns>
			 <Sum_End_to_End_Request_Delay_Write_ns>174168</Sum_End_to_End_Request_Delay_Write_ns>
		</Host.IO_Flow>
	</Host>
	<SSDDevice>
		<SSDDevice.FTL Issued_Flash_Read_CMD="117979" Issued_Flash_Multiplane_Read_CMD="0" Issued_Flash_Program_CMD="8" Issued_Flash_Multiplane_Program_CMD="0" Issued_Flash_Erase_CMD="0" Issued_Flash_Read_CMD_For_Mapping="24675"/>
	</SSDDevice>
</MQSim_Results>
`;

test('MQSim results: IOPS from the exact simulated end time (not whole seconds), latencies from the ns sums', () => {
  const flows = parseMqsimResults(SAMPLE, 'workload_scenario_1.xml');
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.requestCount, 24783);
  assert.equal(flows[0]!.endToEndDelayUs, 182);
  const stdout =
    'Flow Host.IO_Flow.Trace.workload.trace - total requests generated: 24783 total requests serviced:24783\n                   - device response time: 180 (us) end-to-end request delay:182 (us)\n';
  const counts = parseMqsimStdout(stdout);
  assert.deepEqual(counts, [{ flow: 'Host.IO_Flow.Trace.workload.trace', generated: 24783, serviced: 24783 }]);
  const m = mqsimMetrics(flows, counts, 'mqsim', parseMqsimFlashCounts(SAMPLE));
  const endS = 60_055_386_480 / 1e9;
  assert.ok(Math.abs(m.iops - 24783 / endS) < 1e-9);
  assert.ok(m.iops < flows[0]!.reportedIops, "MQSim's own IOPS divide by 60 whole seconds");
  assert.ok(Math.abs(m.latencyMeanUs - 4510506000 / 24783 / 1e3) < 1e-9);
  assert.ok(Math.abs(m.extra!.writeMeanUs! - 174168 / 3 / 1e3) < 1e-9);
  assert.ok(Math.abs(m.throughputBps - 388104192 / endS) < 1e-3);
  assert.equal(m.extra!.mappingReads, 24675);
  assert.equal(m.extra!.flashCommands, 117979 + 8);
  // Less than a simulated second: MQSim writes inf for its rates; the exact figures do not care.
  const short = SAMPLE.replace('<IOPS>413.050000</IOPS>', '<IOPS>inf</IOPS>')
    .replace('<Bandwidth>6468403.200000</Bandwidth>', '<Bandwidth>inf</Bandwidth>')
    .replace('60055386480', '136000000');
  const s = mqsimMetrics(parseMqsimResults(short, 's.xml'), counts, 'mqsim');
  assert.ok(Number.isNaN(parseMqsimResults(short, 's.xml')[0]!.reportedIops));
  assert.ok(Math.abs(s.iops - 24783 / 0.136) < 1e-6);
});

test("an MQSim without ssdtune's exact-time patch is refused, not estimated", () => {
  const unpatched = SAMPLE.replace(/\s*<(Last_Completion|Simulation_End|Serviced|Sum_)[^\n]*/g, '');
  const flows = parseMqsimResults(unpatched, 'u.xml');
  assert.equal(flows[0]!.exact, undefined);
  const counts = parseMqsimStdout('Flow F - total requests generated: 24783 total requests serviced:24783\n');
  assert.throws(
    () => mqsimMetrics(flows, counts, 'mqsim'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_RUN') && /build-mqsim\.sh/.test(e.message),
  );
});

test('a stalled or unfinished MQSim run is a failed evaluation', () => {
  const flows = parseMqsimResults(SAMPLE, 'r.xml');
  const stalled = parseMqsimStdout('Flow F - total requests generated: 24783 total requests serviced:1200\n');
  assert.throws(
    () => mqsimMetrics(flows, stalled, 'mqsim'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_RUN') && /stalled: flow F serviced 1200 of 24783/.test(e.message),
  );
  assert.throws(
    () => mqsimMetrics(flows, [], 'mqsim'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_RUN'),
  );
  assert.throws(
    () => parseMqsimResults('<MQSim_Results><Host/></MQSim_Results>', 'e.xml'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_XML') && /Host\.IO_Flow/.test(e.message),
  );
  assert.throws(
    () => parseMqsimResults(SAMPLE.replace('<Request_Count>24783</Request_Count>', '<Request_Count>x</Request_Count>'), 'n.xml'),
    (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_XML') && /Request_Count/.test(e.message),
  );
});

test('the mqsim evaluator needs an executable MQSim binary', async () => {
  const dir = tempDir('ssdtune-mqsim-test-');
  try {
    const notExec = path.join(dir, 'MQSim');
    await writeFile(notExec, 'not a program');
    const ev = createMqsimEvaluator({ binary: notExec });
    assert.equal(ev.name, 'mqsim');
    assert.equal(ev.space, 'ssd');
    const wl = { name: 'wsrch', open: () => openTrace(WSRCH) };
    await assert.rejects(ev.evaluate({}, wl), (e) => isSsdtuneError(e, 'SSDTUNE_MQSIM_RUN') && /not an executable.*build-mqsim\.sh/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
