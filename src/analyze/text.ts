/** The plain-text rendering of an AnalysisReport (the default output of `ssdtune analyze`). */
import type { AnalysisReport } from './types.js';
import type { QuantileSummary } from './sketch.js';
import { OP_CLASSES, type TraceStats } from './stats.js';
import { fmtBytes, fmtCount, fmtNs, fmtPct, fmtRate, table } from '../util/units.js';

/** Process / device rows shown in text (the JSON has up to TABLE_ROWS). */
const TEXT_ROWS = 10;

export function renderText(r: AnalysisReport): string {
  const out: string[] = [];
  for (const t of r.traces) {
    out.push(`== ${t.source} (${t.format}) ==`);
    if (t.skippedRecords) out.push(`  skipped ${fmtCount(t.skippedRecords)} malformed records (--skip-bad)`);
    for (const w of t.warnings) out.push(`  warning: ${w}`);
    out.push(...statsText(t.stats).map((l) => (l ? '  ' + l : l)), '');
  }
  if (r.combined) {
    out.push(`== combined: ${r.combined.sources.length} traces ==`);
    out.push(...statsText(r.combined.stats, true).map((l) => (l ? '  ' + l : l)), '');
  }
  return out.join('\n');
}

function kv(rows: Array<[string, string]>): string[] {
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 1)}  ${v}`);
}

function q(s: QuantileSummary | null, f: (v: number) => string): string {
  if (!s) return '-';
  const approx = s.relativeError ? ` (±${(s.relativeError * 100).toFixed(0)}%)` : '';
  return `p50 ${f(s.p50)}  p90 ${f(s.p90)}  p99 ${f(s.p99)}  max ${f(s.max)}  mean ${f(s.mean)}${approx}`;
}

/** `combined`: the statistics of several traces together (queue depth is then only per trace). */
export function statsText(s: TraceStats, combined = false): string[] {
  if (s.requests === 0) return ['no requests in this trace'];
  const out: string[] = [];
  const rows: Array<[string, string]> = [
    ['requests', fmtCount(s.requests)],
    ['duration', `${fmtNs(s.durationNs)} (first arrival ${fmtNs(s.firstNs)}, last ${fmtNs(s.lastNs)})`],
    ['data', fmtBytes(s.totalBytes)],
    ['mean rate', `${fmtCount(s.throughput.meanIops)} IOPS, ${fmtRate(s.throughput.meanBytesPerSec)}`],
    [
      'peak rate',
      `${fmtCount(s.throughput.peakIops)} IOPS, ${fmtRate(s.throughput.peakBytesPerSec)} ` +
        (s.throughput.coarseClock
          ? `(the busiest step: the trace's clock steps by ${fmtNs(s.throughput.timeStepNs!)}, and rates are over whole steps)`
          : `(bins of ${fmtNs(s.throughput.binWidthNs)})`),
    ],
    ['size', q(s.size.all, fmtBytes)],
    ['  read size', q(s.size.read, fmtBytes)],
    ['  write size', q(s.size.write, fmtBytes)],
    ['sequential', `${fmtPct(s.sequential.fraction)} (reads ${fmtPct(s.sequential.readFraction)}, writes ${fmtPct(s.sequential.writeFraction)})`],
    ['LBA span', s.lba ? `sectors ${fmtCount(s.lba.minSector)} .. ${fmtCount(s.lba.maxSector)} (${fmtBytes(s.lba.spanBytes)})` : '-'],
    [
      'working set',
      `${fmtBytes(s.workingSet.bytes)} (${fmtCount(s.workingSet.blocks)} distinct 4 KiB blocks${s.workingSet.exact ? '' : `, HyperLogLog ±${(s.workingSet.relativeError * 100).toFixed(1)}%`})`,
    ],
  ];
  if (s.queueDepth) {
    const qd = s.queueDepth;
    rows.push([
      'queue depth',
      `in flight mean ${qd.meanInFlight.toFixed(2)} max ${qd.maxInFlight}${qd.meanAtDevice !== null ? `; at device mean ${qd.meanAtDevice.toFixed(2)}` : ''} (from ${qd.source})`,
    ]);
  } else rows.push(['queue depth', combined ? 'see each trace' : 'n/a (no completion times in the trace)']);
  if (s.latency) {
    rows.push(['latency Q->C', q(s.latency.total, fmtNs)]);
    if (s.latency.device) rows.push(['latency D->C', q(s.latency.device, fmtNs)]);
  } else rows.push(['latency', 'n/a (no completion times in the trace)']);
  out.push(...kv(rows), '');
  out.push(...latencyHistogramText(s));

  out.push(
    ...table(
      ['op', 'requests', 'share', 'bytes', 'byte share'],
      OP_CLASSES.filter((c) => s.mix[c].requests > 0).map((c) => [
        c,
        fmtCount(s.mix[c].requests),
        fmtPct(s.mix[c].fraction),
        fmtBytes(s.mix[c].bytes),
        fmtPct(s.mix[c].byteFraction),
      ]),
      [false, true, true, true, true],
    ),
    '',
  );

  const maxBin = Math.max(1, ...s.size.histogram.map((b) => b.read + b.write + b.other));
  out.push(
    ...table(
      ['size', 'reads', 'writes', 'other', ''],
      s.size.histogram.map((b) => [
        `${fmtBytes(b.lowBytes)}..`,
        fmtCount(b.read),
        fmtCount(b.write),
        fmtCount(b.other),
        '#'.repeat(Math.ceil((30 * (b.read + b.write + b.other)) / maxBin)),
      ]),
      [false, true, true, true, false],
    ),
    '',
  );

  const indented = (t: Tabular): string[] => table(t.header, t.rows, t.numeric).map((l) => '  ' + l);
  out.push(`processes (${fmtCount(s.processCount)}):`, ...indented(processesTable(s, TEXT_ROWS)));
  if (s.processes.length > TEXT_ROWS) out.push(`  ... ${s.processCount - TEXT_ROWS} more in --json`);
  out.push('', `devices (${fmtCount(s.deviceCount)}):`, ...indented(devicesTable(s, TEXT_ROWS)));
  if (s.devices.length > TEXT_ROWS) out.push(`  ... ${s.deviceCount - TEXT_ROWS} more in --json`);
  return out;
}

/** A table as the text and the HTML report both draw it: which columns hold numbers (right-aligned). */
export interface Tabular {
  header: string[];
  rows: string[][];
  numeric: boolean[];
}

/** A trace column where the rows come from several traces (a combined analysis), else none. */
function traceColumn(rows: Array<{ trace?: number }>): { header: string[]; cell: (r: { trace?: number }) => string[]; numeric: boolean[] } {
  if (!rows.some((r) => r.trace !== undefined)) return { header: [], cell: () => [], numeric: [] };
  return { header: ['trace'], cell: (r) => [r.trace !== undefined ? String(r.trace + 1) : ''], numeric: [true] };
}

/** The busiest processes of `s`, the first `limit` of them. */
export function processesTable(s: TraceStats, limit = Infinity): Tabular {
  const t = traceColumn(s.processes);
  return {
    header: ['pid', 'name', ...t.header, 'requests', 'reads', 'writes', 'read', 'written'],
    rows: s.processes
      .slice(0, limit)
      .map((p) => [
        p.pid < 0 ? '' : String(p.pid),
        p.name,
        ...t.cell(p),
        fmtCount(p.requests),
        fmtCount(p.reads),
        fmtCount(p.writes),
        fmtBytes(p.readBytes),
        fmtBytes(p.writeBytes),
      ]),
    numeric: [true, false, ...t.numeric, true, true, true, true, true],
  };
}

/** The devices of `s`, the first `limit` of them. */
export function devicesTable(s: TraceStats, limit = Infinity): Tabular {
  const t = traceColumn(s.devices);
  return {
    header: ['device', ...t.header, 'requests', 'read', 'written', 'sequential', 'first sector', 'last sector'],
    rows: s.devices
      .slice(0, limit)
      .map((d) => [
        d.device,
        ...t.cell(d),
        fmtCount(d.requests),
        fmtBytes(d.readBytes),
        fmtBytes(d.writeBytes),
        fmtPct(d.sequentialFraction),
        fmtCount(d.minSector),
        fmtCount(d.maxSector),
      ]),
    numeric: [false, ...t.numeric, true, true, true, true, true, true],
  };
}

/**
 * biolatency's terminal histogram, one per operation: log2 buckets of
 * microseconds, from the first to the last non-empty one, 40 stars for the
 * fullest bucket.
 */
export function latencyHistogramText(s: TraceStats): string[] {
  const h = s.latencyHistogram;
  if (!h) return [];
  const out: string[] = [];
  const basis = h.basis === 'D->C' ? 'issue to completion (D->C)' : 'arrival to completion (Q->C; the trace has no issue times)';
  for (const op of OP_CLASSES) {
    const counts = h.ops[op];
    if (!counts) continue;
    const first = counts.findIndex((c) => c > 0);
    const max = Math.max(...counts);
    out.push(`${op} latency, ${basis}:`, `${'usecs'.padStart(10).padEnd(24)} : count    distribution`);
    for (let k = first; k < counts.length; k++) {
      const lo = k === 0 ? 0 : 2 ** k;
      const hi = 2 ** (k + 1) - 1;
      const c = counts[k]!;
      const stars = max > 0 ? Math.round((40 * c) / max) : 0;
      out.push(`${String(lo).padStart(10)} -> ${String(hi).padEnd(10)} : ${String(c).padEnd(8)} |${'*'.repeat(stars).padEnd(40)}|`);
    }
    out.push('');
  }
  return out;
}
