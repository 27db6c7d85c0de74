/**
 * 1,000,000 requests -> window descriptors (3000-request windows) -> PCA (2-D)
 * -> k-means with k chosen by silhouette (2..8), timed against the same
 * pipeline written with numpy + scikit-learn (/usr/bin/python3), on the same
 * data in the same run. Each side runs in its own fresh process so peak RSS
 * is that pipeline's alone (interpreter included).
 *
 * Data: the real MQSim WebSearch trace (traces/mqsim_wsrch-small.trace,
 * 24,783 requests) replayed end to end until 1M requests (times shifted by
 * the trace's span per replay, addresses unchanged), stored as raw columns
 * in bench/data/ so both sides start from the same arrays in memory; file
 * reading is not timed.
 *
 * The Python side computes every descriptor with the numpy reference
 * (bench/descriptors_numpy.py, which test/features-numpy.test.ts runs too).
 * The bench fails (exit 1, a MISSED line) when the descriptor matrices differ in
 * column names or order, rows, any value beyond DESCRIPTOR_TOLERANCE, or hold a
 * NaN; then PCA ratios must agree, and k-means run from scikit-learn's starting
 * centres must give the same silhouettes and k. A k that differs only through
 * the two sides' random k-means++ starts is explained, not failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DESCRIPTOR_VECTOR_NAMES } from '../src/features/descriptors.js';
import { characterise, describeTrace } from '../src/ml/characterise.js';
import { fitKMeans, silhouette } from '../src/ml/kmeans.js';
import { openTrace } from '../src/readers/registry.js';
import { batchRows, collect, type TraceBatch } from '../src/trace/model.js';
import { compareMatrices, DESCRIPTOR_TOLERANCE, NUMPY_PYTHON, numpyMissing, REFERENCE_DIR } from './descriptors-numpy.js';

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '../..');
const DATA = path.join(ROOT, 'bench', 'data');
const N = 1_000_000;
const WINDOW = 3000;
const COLS = [
  ['time', Float64Array],
  ['sector', Float64Array],
  ['bytes', Uint32Array],
  ['op', Uint16Array],
  ['device', Uint32Array],
] as const;

async function makeData(): Promise<void> {
  if (COLS.every(([c]) => existsSync(path.join(DATA, `features-1m.${c}.bin`)))) return;
  mkdirSync(DATA, { recursive: true });
  const src = await collect(await openTrace(path.join(ROOT, 'traces', 'mqsim_wsrch-small.trace')));
  const n = src.length;
  const span = src.timeNs[n - 1]! - src.timeNs[0]! + (src.timeNs[n - 1]! - src.timeNs[0]!) / n;
  const cols = { time: new Float64Array(N), sector: new Float64Array(N), bytes: new Uint32Array(N), op: new Uint16Array(N), device: new Uint32Array(N) };
  for (let i = 0; i < N; i++) {
    const j = i % n;
    const rep = Math.floor(i / n);
    cols.time[i] = src.timeNs[j]! + rep * span;
    cols.sector[i] = src.sector[j]!;
    cols.bytes[i] = src.bytes[j]!;
    cols.op[i] = src.op[j]!;
    cols.device[i] = src.device[j]!;
  }
  for (const [c] of COLS) writeFileSync(path.join(DATA, `features-1m.${c}.bin`), new Uint8Array(cols[c].buffer));
}

function loadColumns(): TraceBatch {
  const read = <T>(c: string, ctor: new (b: ArrayBuffer) => T): T => {
    const b = readFileSync(path.join(DATA, `features-1m.${c}.bin`));
    return new ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
  };
  const timeNs = read('time', Float64Array);
  return {
    length: timeNs.length,
    timeNs,
    sector: read('sector', Float64Array),
    bytes: read('bytes', Uint32Array),
    op: read('op', Uint16Array),
    device: read('device', Uint32Array),
    pid: new Uint32Array(timeNs.length),
  };
}

/** The ssdtune side, in a child process. */
async function worker(): Promise<void> {
  const all = loadColumns();
  const batches: TraceBatch[] = [];
  const B = 65536;
  for (let o = 0; o < all.length; o += B) {
    const e = Math.min(all.length, o + B);
    batches.push(batchRows(all, o, e));
  }
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const c0 = cpu();
  const t0 = performance.now();
  const described = await describeTrace(
    (async function* () {
      yield* batches;
    })(),
    { size: WINDOW },
  );
  const t1 = performance.now();
  const c1 = cpu();
  const c = characterise(described, { seed: 1 });
  const t2 = performance.now();
  const c2 = cpu();
  // Not timed: k-means from scikit-learn's starting centres (given on stdin, one set per k), to tell the
  // algorithms apart from the random starts when the chosen k differ.
  const starts = JSON.parse(readFileSync(0, 'utf8')) as Record<string, number[][]>;
  const sameStart = Object.entries(starts).map(([k, initialCentres]) => {
    const m = fitKMeans(c.projections, { initialCentres });
    return { k: Number(k), silhouette: silhouette(c.projections, m.assignments, m.k) };
  });
  process.stdout.write(
    JSON.stringify({
      features: (t1 - t0) / 1000,
      model: (t2 - t1) / 1000,
      total: (t2 - t0) / 1000,
      cpuFeatures: c1 - c0,
      cpuModel: c2 - c1,
      windows: described.windows.length,
      k: c.kmeans.k,
      ratio: c.pca.explainedVarianceRatio,
      scores: c.kmeans.scores,
      sameStart,
      names: DESCRIPTOR_VECTOR_NAMES,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      X: described.windows.map((w) => [...w.vector]),
    }),
  );
}

// The numpy + scikit-learn side: descriptors by the numpy reference (bench/descriptors_numpy.py, shared
// with test/features-numpy.test.ts), then the same model pipeline as characterise(): StandardScaler, a
// 2-component PCA, k-means for k = 2..8 (one k-means++ start each), the k of the best silhouette (ties: the smaller).
const PY = String.raw`
import sys, time, json, resource
sys.path.insert(0, sys.argv[2])
import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.metrics import silhouette_score
import descriptors_numpy as ref
cols = ref.read_columns(sys.argv[1] + "/features-1m.")
W = ${WINDOW}
t0 = time.perf_counter(); c0 = time.process_time()
X = np.array([w["vector"] for w in ref.describe_trace(cols, W)])
t1 = time.perf_counter(); c1 = time.process_time()
Z = StandardScaler().fit_transform(X)
pca = PCA(n_components=2, svd_solver="full").fit(Z)
P = pca.transform(Z)
best = None; scores = []
for k in range(2, 9):
    km = KMeans(n_clusters=k, n_init=1, random_state=1, algorithm="lloyd").fit(P)
    sc = silhouette_score(P, km.labels_)
    scores.append({"k": k, "silhouette": float(sc)})
    if best is None or sc > best[0]: best = (sc, k)
t2 = time.perf_counter(); c2 = time.process_time()
# Not timed: k-means++ starts for ssdtune's k-means to run from, on ssdtune's signs (each component's
# largest loading positive, src/ml/pca.ts), and this side's k-means from the same starts (tol 0 as ssdtune).
flip = np.array([1.0 if c[np.argmax(np.abs(c))] > 0 else -1.0 for c in pca.components_])
P = P * flip
starts = {}; same = []
for k in range(2, 9):
    starts[k] = kmeans_plusplus(P, k, random_state=1)[0]
    km = KMeans(n_clusters=k, init=starts[k], n_init=1, tol=0, algorithm="lloyd").fit(P)
    same.append({"k": k, "silhouette": float(silhouette_score(P, km.labels_))})
print(json.dumps(ref.finite_or_none({"features": t1 - t0, "model": t2 - t1, "total": t2 - t0, "cpuFeatures": c1 - c0, "cpuModel": c2 - c1, "windows": len(X), "k": best[1],
                  "ratio": pca.explained_variance_ratio_.tolist(), "scores": scores, "names": ref.VECTOR,
                  "sameStart": same, "starts": {str(k): v.tolist() for k, v in starts.items()},
                  "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "X": X.tolist()}), allow_nan=False))
`;

interface Side {
  features: number;
  model: number;
  total: number;
  cpuFeatures: number;
  cpuModel: number;
  windows: number;
  k: number;
  ratio: number[];
  /** Mean silhouette of each k tried. */
  scores: { k: number; silhouette: number }[];
  /** Mean silhouette of each k, k-means started from scikit-learn's k-means++ centres. */
  sameStart: { k: number; silhouette: number }[];
  /** scikit-learn's starting centres, by k (its side only). */
  starts?: Record<string, number[][]>;
  /** Names of X's columns. */
  names: string[];
  maxRssMiB: number;
  X: number[][];
}

/** PCA explained-variance ratios agree when within this (both are exact decompositions of the same covariance). */
const RATIO_TOLERANCE = 1e-6;

export async function run(): Promise<void> {
  await makeData();
  const missing = numpyMissing();
  const py = missing ? undefined : spawnSync(NUMPY_PYTHON, ['-c', PY, DATA, REFERENCE_DIR], { encoding: 'utf8', maxBuffer: 256 << 20 });
  let b: Side | undefined;
  if (py?.status === 0) b = JSON.parse(py.stdout, (_k, v: unknown) => (v === null ? NaN : v)) as Side;
  const ts = spawnSync(process.execPath, [HERE, '--worker'], { input: JSON.stringify(b?.starts ?? {}), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (ts.status !== 0) throw new Error(`ssdtune worker failed: ${ts.stderr}`);
  const a = JSON.parse(ts.stdout) as Side;
  const f = (x: number) => x.toFixed(3).padStart(9);
  const row = (label: string, get: (s: Side) => number) => console.log(`${label.padEnd(34)}${f(get(a))}        ${b ? f(get(b)) : '      n/a'}`);
  console.log(
    `${N} requests, ${a.windows} windows of ${WINDOW}; 2-core machine shared with other jobs (load average ${loadavg()[0]!.toFixed(1)}): CPU times are the steadier figure`,
  );
  console.log(`${''.padEnd(34)}  ssdtune    numpy+sklearn`);
  row('features+descriptors wall (s)', (s) => s.features);
  row('features+descriptors CPU (s)', (s) => s.cpuFeatures);
  row('PCA + k-means k=2..8 wall (s)', (s) => s.model);
  row('PCA + k-means k=2..8 CPU (s)', (s) => s.cpuModel);
  row('total wall (s)', (s) => s.total);
  row('total CPU (s)', (s) => s.cpuFeatures + s.cpuModel);
  row('peak RSS (MiB)', (s) => s.maxRssMiB);
  console.log(`${'chosen k'.padEnd(34)}${String(a.k).padStart(9)}        ${b ? String(b.k).padStart(9) : '      n/a'}`);
  console.log(
    `${'PCA explained variance ratio'.padEnd(34)}${a.ratio.map((x) => x.toFixed(4)).join(' ')}  ${b ? b.ratio.map((x) => x.toFixed(4)).join(' ') : 'n/a'}`,
  );
  const silhouettes = (s: Side) => s.scores.map((x) => `${x.k}:${x.silhouette.toFixed(3)}`).join(' ');
  console.log(`${'silhouette by k, ssdtune'.padEnd(34)}${silhouettes(a)}`);
  if (b) console.log(`${'silhouette by k, scikit-learn'.padEnd(34)}${silhouettes(b)}`);

  // The verdict: the reference must run, the descriptor matrices must agree column by column, and then the models.
  const missed: string[] = [];
  if (!b) missed.push(`the numpy + scikit-learn side did not run: ${missing || (py?.stderr ?? '').trim().split('\n').pop()}`);
  else {
    const m = compareMatrices({ names: a.names, rows: a.X }, { names: b.names, rows: b.X }, (r) => `window ${r}`);
    const worst = m.columns.reduce<(typeof m.columns)[number] | undefined>((w, c) => (!w || !(c.maxDiff <= w.maxDiff) ? c : w), undefined);
    console.log(
      `descriptor matrices, ${a.X.length}x${a.names.length} (ssdtune) vs ${b.X.length}x${b.names.length} (numpy), tolerance ${DESCRIPTOR_TOLERANCE} x max(1, |numpy|):` +
        (m.problems.length
          ? ` ${m.problems.length} problem(s)`
          : ` every column agrees; largest |ssdtune - numpy| ${worst ? `${worst.maxDiff.toExponential(2)} (${worst.name})` : 'n/a'}`),
    );
    for (const p of m.problems) console.log(`  ${p}`);
    if (m.problems.length) missed.push('the descriptor matrices disagree (above)');
    else {
      // Same matrix: PCA is deterministic, so its ratios must agree; k-means starts from each side's own random k-means++ draw.
      const ratioDiff = Math.max(...a.ratio.map((x, i) => Math.abs(x - b!.ratio[i]!)));
      if (!(ratioDiff <= RATIO_TOLERANCE))
        missed.push(`PCA explained variance ratios differ by ${ratioDiff.toExponential(2)} (tolerance ${RATIO_TOLERANCE}) on the same matrix`);
      // k-means from the same starts: the algorithms (Lloyd, silhouette, the choice of k) must agree exactly.
      const pick = (scores: Side['scores']) => scores.reduce((w, x) => (x.silhouette > w.silhouette ? x : w)).k;
      const sameDiff = Math.max(...a.sameStart.map((x, i) => Math.abs(x.silhouette - b!.sameStart[i]!.silhouette)));
      const sameK = [pick(a.sameStart), pick(b.sameStart)];
      console.log(
        `${'same starts: silhouette by k'.padEnd(34)}${silhouettes({ ...a, scores: a.sameStart })}; chosen k ${sameK[0]} (ssdtune) vs ${sameK[1]} (scikit-learn), largest silhouette difference ${sameDiff.toExponential(2)}`,
      );
      if (!(sameDiff <= RATIO_TOLERANCE) || sameK[0] !== sameK[1]) {
        missed.push(
          `from the same starting centres the k-means differ: k ${sameK[0]} vs ${sameK[1]}, silhouettes up to ${sameDiff.toExponential(2)} apart (tolerance ${RATIO_TOLERANCE})`,
        );
      } else if (a.k !== b.k) {
        const at = (s: Side, k: number) => s.scores.find((x) => x.k === k)?.silhouette ?? NaN;
        console.log(
          `chosen k differs (${a.k} vs ${b.k}) only through the random starts: each side runs one k-means++ start per k from its own generator, ` +
            `and the silhouettes at k=${a.k} (${at(a, a.k).toFixed(4)} vs ${at(b, a.k).toFixed(4)}) and k=${b.k} (${at(a, b.k).toFixed(4)} vs ${at(b, b.k).toFixed(4)}) ` +
            `differ by their local optima; from the same starts both choose k=${sameK[0]}`,
        );
      }
    }
  }
  if (missed.length) {
    for (const m of missed) console.log(`MISSED: ${m}`);
    process.exitCode = 1;
  } else
    console.log(
      `reference agreement: met (descriptors to ${DESCRIPTOR_TOLERANCE}, PCA ratios and same-start silhouettes to ${RATIO_TOLERANCE}, same k from the same starts)`,
    );
}

if (process.argv[2] === '--worker' && process.argv[1] === HERE) await worker();
