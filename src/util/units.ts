/** Human-readable units shared by the text output and the HTML report (binary byte units, SI for rates of requests). */

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  // Whole numbers print as they are; fractions (a mean size, a rate in B/s) round alike in every unit.
  if (Number.isInteger(v)) return `${v} ${units[i]}`;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  const a = Math.abs(ns);
  if (a < 1e3) return `${ns.toFixed(0)} ns`;
  if (a < 1e6) return `${(ns / 1e3).toFixed(a < 1e4 ? 2 : 1)} us`;
  if (a < 1e9) return `${(ns / 1e6).toFixed(a < 1e7 ? 2 : 1)} ms`;
  if (a < 600e9) return `${(ns / 1e9).toFixed(a < 1e10 ? 3 : 2)} s`;
  return `${(ns / 60e9).toFixed(1)} min`;
}

export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : n < 1000 ? 1 : 0 });
}

export function fmtPct(f: number): string {
  return Number.isFinite(f) ? `${(f * 100).toFixed(1)}%` : '-';
}

export function fmtRate(bytesPerSec: number): string {
  return `${fmtBytes(bytesPerSec)}/s`;
}

/** Render rows as aligned columns: numbers right-aligned, text left-aligned. */
export function table(header: string[], rows: string[][], rightAlign: boolean[]): string[] {
  const all = [header, ...rows];
  const w = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  // a row with more cells than the header: the extra cells keep their own width
  const line = (r: string[]): string =>
    r
      .map((cell, c) => (rightAlign[c] ? cell.padStart(w[c] ?? 0) : cell.padEnd(w[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(w.map((x) => '-'.repeat(x))), ...rows.map(line)];
}
