/**
 * Runs the numpy reference of the window descriptors (bench/descriptors_numpy.py,
 * Debian's python3-numpy at /usr/bin/python3) and compares its matrices with
 * ssdtune's, column by column: for the features bench and for
 * test/features-numpy.test.ts, so both check against the one reference.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceBatch } from '../src/trace/model.js';

export const NUMPY_PYTHON = '/usr/bin/python3';
/** The folder of descriptors_numpy.py (the source tree's bench/, also from dist/bench/). */
export const REFERENCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench');
export const REFERENCE = path.join(REFERENCE_DIR, 'descriptors_numpy.py');

/**
 * Two values agree when |ssdtune - numpy| <= DESCRIPTOR_TOLERANCE * max(1, |numpy|):
 * room for summation order (numpy sums pairwise, the addon in one pass) and
 * numpy's two-sided interpolation formula, nothing more.
 */
export const DESCRIPTOR_TOLERANCE = 1e-9;

/** Why the numpy reference cannot run here, or false when it can. */
export function numpyMissing(): string | false {
  const probe = spawnSync(NUMPY_PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status === 0) return false;
  return `${NUMPY_PYTHON} with numpy is not available (${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}); install python3-numpy`;
}

type Columns = Pick<TraceBatch, 'timeNs' | 'sector' | 'bytes' | 'op' | 'device' | 'completeNs'>;

/** Writes a trace's columns as PREFIX{time,sector,bytes,op,device,complete}.bin, the reference's input. */
export function writeColumns(prefix: string, c: Columns): void {
  const put = (name: string, a: ArrayBufferView) => writeFileSync(`${prefix}${name}.bin`, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  put('time', c.timeNs);
  put('sector', c.sector);
  put('bytes', c.bytes);
  put('op', c.op);
  put('device', c.device);
  if (c.completeNs) put('complete', c.completeNs);
}

export interface NumpyWindow {
  /** Device of the window's stream, or -1 for the whole trace. */
  stream: number;
  index: number;
  /** In the order of NumpyTrace.descriptors; NaN where the reference gave a non-finite value. */
  descriptors: number[];
  vector: number[];
  perIo?: Record<'logIat' | 'logOffset' | 'logSize' | 'isRead' | 'device', number[]>;
}

export interface NumpyTrace {
  /** The reference's descriptor names, in its order. */
  descriptors: string[];
  /** The reference's vector column names, in its order. */
  vector: string[];
  windows: NumpyWindow[];
}

/** The reference's description of the trace whose columns writeColumns put at `prefix`. */
export function runNumpyDescriptors(prefix: string, window: number, opts: { splitByDevice?: boolean; perIo?: boolean } = {}): NumpyTrace {
  const args = [REFERENCE, prefix, String(window), ...(opts.splitByDevice ? ['--split-by-device'] : []), ...(opts.perIo ? ['--per-io'] : [])];
  const r = spawnSync(NUMPY_PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${NUMPY_PYTHON} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  // JSON has no NaN: the reference writes null, which becomes NaN here so that the comparison catches it.
  return JSON.parse(r.stdout, (_k, v: unknown) => (v === null ? NaN : v)) as NumpyTrace;
}

export interface ColumnAgreement {
  name: string;
  /** Largest |ssdtune - numpy| over the rows (NaN when either side has a NaN there). */
  maxDiff: number;
  /** Row of the largest difference (the first NaN, if any). */
  row: number;
  ours: number;
  theirs: number;
  /** Rows beyond the tolerance, NaN rows included. */
  disagreeing: number;
}

export interface MatrixAgreement {
  /** Everything that makes the matrices disagree, each naming the column (empty when they agree). */
  problems: string[];
  columns: ColumnAgreement[];
}

/**
 * Compares two matrices (rows of equal meaning, columns named) column by column:
 * the names and their order, the row count, then every value to
 * DESCRIPTOR_TOLERANCE. A NaN on either side is a disagreement, never a pass.
 */
export function compareMatrices(
  ours: { names: readonly string[]; rows: readonly ArrayLike<number>[] },
  theirs: { names: readonly string[]; rows: readonly ArrayLike<number>[] },
  rowName: (row: number) => string = (r) => `row ${r}`,
): MatrixAgreement {
  const problems: string[] = [];
  if (ours.names.join('\n') !== theirs.names.join('\n')) {
    const missing = ours.names.filter((n) => !theirs.names.includes(n));
    const extra = theirs.names.filter((n) => !ours.names.includes(n));
    const at = ours.names.findIndex((n, i) => theirs.names[i] !== n);
    problems.push(
      `columns differ: ssdtune has ${ours.names.length}, numpy ${theirs.names.length}` +
        (missing.length ? `; numpy lacks ${missing.join(', ')}` : '') +
        (extra.length ? `; ssdtune lacks ${extra.join(', ')}` : '') +
        (!missing.length && !extra.length ? `; order differs from column ${at} (${ours.names[at]} vs ${theirs.names[at]})` : ''),
    );
  }
  if (ours.rows.length !== theirs.rows.length) problems.push(`rows differ: ssdtune has ${ours.rows.length}, numpy ${theirs.rows.length}`);
  const columns: ColumnAgreement[] = [];
  if (problems.length) return { problems, columns };
  ours.names.forEach((name, j) => {
    const c: ColumnAgreement = { name, maxDiff: 0, row: -1, ours: NaN, theirs: NaN, disagreeing: 0 };
    for (let i = 0; i < ours.rows.length; i++) {
      const a = ours.rows[i]![j]!;
      const b = theirs.rows[i]![j]!;
      const diff = Math.abs(a - b);
      const bad = !(diff <= DESCRIPTOR_TOLERANCE * Math.max(1, Math.abs(b)));
      if (bad) c.disagreeing++;
      if (Number.isNaN(c.maxDiff)) continue;
      if (Number.isNaN(diff) || diff > c.maxDiff || c.row < 0) Object.assign(c, { maxDiff: diff, row: i, ours: a, theirs: b });
    }
    if (c.disagreeing) {
      problems.push(
        `${name}: ${c.disagreeing} of ${ours.rows.length} rows differ beyond the tolerance; worst ${rowName(c.row)}: ssdtune ${c.ours}, numpy ${c.theirs}`,
      );
    }
    columns.push(c);
  });
  return { problems, columns };
}
