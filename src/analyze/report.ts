/**
 * `--report out.html`: one self-contained HTML file. Every plot is a
 * Vega-Lite spec compiled and rendered to SVG here in Node (vega's headless
 * 'none' renderer), and inlined; the page has no scripts, fonts or links to
 * fetch, so it opens offline and can be mailed or attached to a ticket.
 */
import * as vl from 'vega-lite';
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import type { AnalysisReport } from './types.js';
import { devicesTable, processesTable, statsText } from './text.js';
import { OP_CLASSES, type TraceStats } from './stats.js';
import { fmtBytes, fmtCount, fmtNs, fmtPct, fmtRate } from '../util/units.js';

const WIDTH = 800;
const OP_COLORS = { read: '#4c78a8', write: '#e45756', other: '#9d9d9d' };

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A time unit that keeps axis numbers readable for a span of `ns`. */
function timeUnit(ns: number): { div: number; name: string } {
  if (ns >= 2 * 3600e9) return { div: 3600e9, name: 'h' };
  if (ns >= 600e9) return { div: 60e9, name: 'min' };
  if (ns >= 2e9) return { div: 1e9, name: 's' };
  if (ns >= 2e6) return { div: 1e6, name: 'ms' };
  return { div: 1e3, name: 'µs' };
}

function byteUnit(bytes: number): { div: number; name: string } {
  if (bytes >= 2 * 2 ** 40) return { div: 2 ** 40, name: 'TiB' };
  if (bytes >= 2 * 2 ** 30) return { div: 2 ** 30, name: 'GiB' };
  if (bytes >= 2 * 2 ** 20) return { div: 2 ** 20, name: 'MiB' };
  return { div: 2 ** 10, name: 'KiB' };
}

function heatmapSpec(s: TraceStats): TopLevelSpec | null {
  const h = s.heatmap;
  const [first] = h.counts;
  if (!first) return null;
  const cols = first.length;
  const tu = timeUnit(cols * h.timeBinNs);
  const bu = byteUnit((h.lbaFirstSector + h.counts.length * h.lbaBinSectors) * 512);
  const values: Array<{ t0: number; t1: number; l0: number; l1: number; n: number }> = [];
  h.counts.forEach((row, r) => {
    const l0 = ((h.lbaFirstSector + r * h.lbaBinSectors) * 512) / bu.div;
    const l1 = ((h.lbaFirstSector + (r + 1) * h.lbaBinSectors) * 512) / bu.div;
    row.forEach((n, c) => {
      if (n) values.push({ t0: (c * h.timeBinNs) / tu.div, t1: ((c + 1) * h.timeBinNs) / tu.div, l0, l1, n });
    });
  });
  return {
    title: {
      text: 'Where and when: requests by LBA and time',
      subtitle: `bins of ${fmtNs(h.timeBinNs)} x ${fmtBytes(h.lbaBinSectors * 512)}; colour = requests per bin (log scale)`,
    },
    width: WIDTH,
    height: 360,
    data: { values },
    mark: { type: 'rect' },
    encoding: {
      x: { field: 't0', type: 'quantitative', title: `time (${tu.name})`, scale: { domain: [0, (cols * h.timeBinNs) / tu.div], nice: false } },
      x2: { field: 't1' },
      y: { field: 'l0', type: 'quantitative', title: `LBA offset (${bu.name})`, scale: { zero: false, nice: false } },
      y2: { field: 'l1' },
      color: { field: 'n', type: 'quantitative', title: 'requests', scale: { type: 'log', scheme: 'viridis' } },
    },
  };
}

/** Foot of the bars on a log axis (below 1, so a bin of one request shows). */
const LOG_BASE = 0.5;

function sizeSpec(s: TraceStats): TopLevelSpec | null {
  if (s.size.histogram.length === 0) return null;
  // Grouped bars on a log scale: 76 reads of 128 KiB stay visible beside 15,448 writes of 4 KiB
  // (stacked linear bars hid them); each bar is labelled with its count and its share of the op.
  const opTotal = { read: 0, write: 0, other: 0 };
  for (const b of s.size.histogram) for (const op of ['read', 'write', 'other'] as const) opTotal[op] += b[op];
  const labels: string[] = [];
  const values: Array<{ size: string; op: string; n: number; base: number; label: string }> = [];
  for (const b of s.size.histogram) {
    const size = b.lowBytes >= 2 ** 31 ? '>= 2 GiB' : `${fmtBytes(b.lowBytes)} - ${fmtBytes(b.lowBytes * 2)}`;
    labels.push(size); // every power of two between the smallest and largest size stays on the axis
    for (const op of ['read', 'write', 'other'] as const) {
      if (b[op]) values.push({ size, op, n: b[op], base: LOG_BASE, label: `${fmtCount(b[op])} (${fmtPct(b[op] / opTotal[op])})` });
    }
  }
  const ops = (['read', 'write', 'other'] as const).filter((op) => opTotal[op] > 0);
  const x = { field: 'size', type: 'ordinal' as const, title: 'request size', scale: { domain: labels }, axis: { labelAngle: -30 } };
  const xOffset = { field: 'op', type: 'nominal' as const, scale: { domain: [...ops] } };
  const y = { field: 'n', type: 'quantitative' as const, title: 'requests (log scale)', scale: { type: 'log' as const, domainMin: LOG_BASE } };
  return {
    title: {
      text: 'Request sizes',
      subtitle: "requests per power-of-two size bin [low, 2 x low), per operation, log scale; labels: count (share of that operation's requests)",
    },
    width: WIDTH,
    height: 280,
    data: { values },
    layer: [
      {
        mark: { type: 'bar' },
        // a log axis has no zero: bars rise from LOG_BASE
        encoding: {
          x,
          xOffset,
          y,
          y2: { field: 'base' },
          color: { field: 'op', type: 'nominal', title: 'operation', scale: { domain: Object.keys(OP_COLORS), range: Object.values(OP_COLORS) } },
        },
      },
      { mark: { type: 'text', dy: -6, fontSize: 10 }, encoding: { x, xOffset, y, text: { field: 'label', type: 'nominal' } } },
    ],
  };
}

function queueDepthSpec(s: TraceStats): TopLevelSpec | null {
  const bins = s.throughput.bins.filter((b) => b.meanInFlight !== null);
  if (bins.length === 0) return null;
  const tu = timeUnit(s.throughput.bins.length * s.throughput.binWidthNs);
  return {
    title: {
      text: 'Queue depth over time',
      subtitle: `mean number of requests in flight seen by the requests arriving in each bin of ${fmtNs(s.throughput.binWidthNs)} (themselves included)`,
    },
    width: WIDTH,
    height: 200,
    // one bar per time bin with arrivals (a line would bridge stretches where nothing arrived)
    data: { values: bins.map((b) => ({ t0: b.startNs / tu.div, t1: (b.startNs + s.throughput.binWidthNs) / tu.div, qd: b.meanInFlight })) },
    mark: { type: 'rect', color: OP_COLORS.read },
    encoding: {
      x: { field: 't0', type: 'quantitative', title: `time (${tu.name})` },
      x2: { field: 't1' },
      y: { field: 'qd', type: 'quantitative', title: 'requests in flight' },
      y2: { datum: 0 },
    },
  };
}

/** A seek bin by its bound nearer to zero ("+4 KiB" = [4 KiB, 8 KiB), "-4 KiB" = (-8 KiB, -4 KiB]). */
function seekLabel(b: { fromSectors: number; toSectors: number }): string {
  if (b.fromSectors === 0 && b.toSectors === 1) return '0';
  return b.fromSectors > 0 ? `+${fmtBytes(b.fromSectors * 512)}` : `-${fmtBytes((1 - b.toSectors) * 512)}`;
}

function seekSpec(s: TraceStats): TopLevelSpec | null {
  const k = s.seek;
  if (!k) return null;
  const labels = k.bins.map(seekLabel);
  return {
    title: {
      text: 'Seek distance',
      subtitle: [
        'from the end of the previous data request on the same device to the start of the next; 0 = sequential, backward seeks on the left;',
        `power-of-two bins labelled by their bound nearer 0 (+4 KiB = 4 to 8 KiB forward); mean |seek| ${fmtBytes(k.meanAbsSectors * 512)} over ${fmtCount(k.requests)} requests`,
      ],
    },
    width: WIDTH,
    height: 240,
    data: {
      values: k.bins.map((b, i) => ({
        bin: labels[i],
        n: b.count,
        share: b.count / k.requests,
        label: b.count / k.requests >= 0.005 ? fmtPct(b.count / k.requests) : '',
      })),
    },
    layer: [
      {
        mark: { type: 'bar', color: '#72b7b2' },
        encoding: {
          x: { field: 'bin', type: 'ordinal', title: 'seek distance', scale: { domain: labels }, axis: { labelAngle: -40 } },
          y: { field: 'share', type: 'quantitative', title: 'share of requests', axis: { format: '%' } },
        },
      },
      {
        mark: { type: 'text', dy: -6, fontSize: 10 },
        encoding: {
          x: { field: 'bin', type: 'ordinal', scale: { domain: labels } },
          y: { field: 'share', type: 'quantitative' },
          text: { field: 'label', type: 'nominal' },
        },
      },
    ],
  };
}

function timelineSpec(s: TraceStats): TopLevelSpec | null {
  const bins = s.throughput.bins;
  if (bins.length === 0) return null;
  const tu = timeUnit(bins.length * s.throughput.binWidthNs);
  const peakBw = Math.max(...bins.map((b) => Math.max(b.readBytesPerSec, b.writeBytesPerSec)));
  const bu = byteUnit(peakBw);
  const values: Array<{ t: number; op: string; iops: number; bw: number }> = [];
  for (const b of bins) {
    const t = b.startNs / tu.div;
    values.push({ t, op: 'read', iops: b.readIops, bw: b.readBytesPerSec / bu.div });
    values.push({ t, op: 'write', iops: b.writeIops, bw: b.writeBytesPerSec / bu.div });
  }
  const x = { field: 't', type: 'quantitative' as const, title: `time (${tu.name})` };
  const color = { field: 'op', type: 'nominal' as const, title: 'operation', scale: { domain: ['read', 'write'], range: [OP_COLORS.read, OP_COLORS.write] } };
  return {
    title: { text: 'Throughput over time', subtitle: `bins of ${fmtNs(s.throughput.binWidthNs)} (the last bin may be only partly covered by the trace)` },
    data: { values },
    vconcat: [
      {
        width: WIDTH,
        height: 200,
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y: { field: 'iops', type: 'quantitative', title: 'IOPS' }, color },
      },
      {
        width: WIDTH,
        height: 200,
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y: { field: 'bw', type: 'quantitative', title: `bandwidth (${bu.name}/s)` }, color },
      },
    ],
  };
}

function latencySpec(s: TraceStats): TopLevelSpec | null {
  const l = s.latency;
  if (!l) return null;
  const values: Array<{ us: number; f: number; kind: string }> = [];
  const add = (cdf: Array<[number, number]>, kind: string): void => {
    for (const [v, f] of cdf) values.push({ us: Math.max(v, 1) / 1e3, f, kind });
  };
  add(l.totalCdf, 'total Q→C');
  add(l.deviceCdf, 'device D→C');
  if (values.length === 0) return null;
  return {
    title: { text: 'Latency distribution (CDF)', subtitle: 'fraction of requests completed within a latency' },
    width: WIDTH,
    height: 260,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'us', type: 'quantitative', title: 'latency (µs, log scale)', scale: { type: 'log' } },
      y: { field: 'f', type: 'quantitative', title: 'fraction of requests', scale: { domain: [0, 1] }, axis: { format: '%' } },
      color: { field: 'kind', type: 'nominal', title: 'latency' },
    },
  };
}

/** `numeric`: the columns that hold numbers (right-aligned). */
function htmlTable(header: string[], rows: string[][], numeric: boolean[]): string {
  const th = header.map((h, i) => `<th${numeric[i] ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

async function section(title: string, s: TraceStats, notes: string[], combined = false): Promise<string> {
  const parts: string[] = [`<section><h2>${esc(title)}</h2>`];
  for (const n of notes) parts.push(`<p class="note">${esc(n)}</p>`);
  if (s.requests === 0) return parts.concat('<p>No requests in this trace.</p></section>').join('\n');
  const q = (x: { p50: number; p90: number; p99: number; max: number } | null, f: (v: number) => string): string[] =>
    x ? [f(x.p50), f(x.p90), f(x.p99), f(x.max)] : ['-', '-', '-', '-'];
  parts.push(
    '<div class="grid">',
    htmlTable(
      ['', ''],
      [
        ['requests', fmtCount(s.requests)],
        ['duration', fmtNs(s.durationNs)],
        ['data transferred', fmtBytes(s.totalBytes)],
        ['mean IOPS', fmtCount(s.throughput.meanIops)],
        ['mean bandwidth', fmtRate(s.throughput.meanBytesPerSec)],
        ['sequential', `${fmtPct(s.sequential.fraction)} (R ${fmtPct(s.sequential.readFraction)}, W ${fmtPct(s.sequential.writeFraction)})`],
        ['LBA span', s.lba ? fmtBytes(s.lba.spanBytes) : '-'],
        ['working set', `${fmtBytes(s.workingSet.bytes)}${s.workingSet.exact ? '' : ` (±${(s.workingSet.relativeError * 100).toFixed(1)}%)`}`],
        [
          'queue depth (mean / max in flight)',
          s.queueDepth ? `${s.queueDepth.meanInFlight.toFixed(2)} / ${s.queueDepth.maxInFlight}` : combined ? 'see each trace' : 'n/a',
        ],
      ],
      [false, true],
    ),
    htmlTable(
      ['operation', 'requests', 'share', 'bytes'],
      OP_CLASSES.filter((c) => s.mix[c].requests).map((c) => [c, fmtCount(s.mix[c].requests), fmtPct(s.mix[c].fraction), fmtBytes(s.mix[c].bytes)]),
      [false, true, true, true],
    ),
    htmlTable(
      ['', 'p50', 'p90', 'p99', 'max'],
      [
        ['size (all)', ...q(s.size.all, fmtBytes)],
        ['size (read)', ...q(s.size.read, fmtBytes)],
        ['size (write)', ...q(s.size.write, fmtBytes)],
        ...(s.latency?.total ? [['latency Q→C', ...q(s.latency.total, fmtNs)]] : []),
        ...(s.latency?.device ? [['latency D→C', ...q(s.latency.device, fmtNs)]] : []),
      ],
      [false, true, true, true, true],
    ),
    '</div>',
  );
  for (const spec of [heatmapSpec(s), timelineSpec(s), queueDepthSpec(s), sizeSpec(s), seekSpec(s), latencySpec(s)]) {
    if (spec) parts.push(`<figure>${await renderSvg(spec)}</figure>`);
  }
  const processes = processesTable(s);
  const devices = devicesTable(s);
  parts.push(
    `<h3>Processes (${fmtCount(s.processCount)})</h3>`,
    htmlTable(processes.header, processes.rows, processes.numeric),
    `<h3>Devices (${fmtCount(s.deviceCount)})</h3>`,
    htmlTable(devices.header, devices.rows, devices.numeric),
    `<details><summary>As text</summary><pre>${esc(statsText(s, combined).join('\n'))}</pre></details>`,
    '</section>',
  );
  return parts.join('\n');
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em;word-break:break-all}
table{border-collapse:collapse;margin:8px 16px 8px 0;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}th{background:#f5f5f5}
.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;align-items:flex-start}
figure{margin:16px 0}figure svg{max-width:100%;height:auto}.note{color:#555;font-size:13px}pre{font-size:12px;background:#f8f8f8;padding:8px;overflow:auto}
`;

export async function renderReport(r: AnalysisReport): Promise<string> {
  const sections: string[] = [];
  for (const t of r.traces) {
    const notes = [`format ${t.format}`];
    if (t.skippedRecords) notes.push(`${fmtCount(t.skippedRecords)} malformed records skipped (--skip-bad)`);
    for (const w of t.warnings) notes.push(`warning: ${w}`);
    sections.push(await section(t.source, t.stats, notes));
  }
  if (r.combined)
    sections.push(
      await section(
        `Combined: ${r.combined.sources.length} traces`,
        r.combined.stats,
        ['per-trace devices and processes kept apart; queue depth only per trace'],
        true,
      ),
    );
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>ssdtune analysis: ${esc(r.traces.map((t) => t.source.split('/').pop()).join(', '))}</title>
<style>${CSS}</style></head>
<body>
<h1>ssdtune trace analysis</h1>
<p class="note">Generated ${esc(r.generatedAt)}. Sizes in binary units (1 KiB = 1024 B); percentiles are nearest-rank; sequential = starts where the previous request on the same device ended.</p>
${sections.join('\n')}
</body></html>
`;
}
