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
 * The Python side computes every descriptor with numpy, and the bench checks
 * that both descriptor matrices agree (max abs difference printed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTrace } from '../src/ml/characterise.js';
import { characterise } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { batchRows, collect, type TraceBatch } from '../src/trace/model.js';

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
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      X: described.windows.map((w) => [...w.vector]),
    }),
  );
}

const PY = String.raw`
import sys, time, json, resource
import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
d = sys.argv[1]
t = np.fromfile(d + "/features-1m.time.bin", dtype=np.float64)
s = np.fromfile(d + "/features-1m.sector.bin", dtype=np.float64)
b = np.fromfile(d + "/features-1m.bytes.bin", dtype=np.uint32).astype(np.float64)
op = np.fromfile(d + "/features-1m.op.bin", dtype=np.uint16)
dev = np.fromfile(d + "/features-1m.device.bin", dtype=np.uint32).astype(np.int64)
W = ${WINDOW}
t0 = time.perf_counter(); c0 = time.process_time()
nw = len(t) // W
gap = np.empty_like(t); gap[0] = 0; gap[1:] = np.maximum(t[1:] - t[:-1], 0)
gap /= 1000.0
rows = []
for w in range(nw):
    sl = slice(w * W, (w + 1) * W)
    tw, sw, bw, ow, dw, g = t[sl], s[sl], b[sl], op[sl], dev[sl], gap[sl]
    n = W
    lsz = np.log1p(bw); lof = np.log1p(sw - sw.min()); lia = np.log1p(g)
    sp = np.percentile(bw, [10, 50, 90]); gp = np.percentile(g, [10, 50, 90])
    vals, counts = np.unique(bw, return_counts=True); mode = vals[np.argmax(counts)]  # smallest of the most frequent
    op_ = np.percentile(sw * 512, [10, 50, 90])
    gm = g.mean(); gs = g.std()
    seq = np.count_nonzero((dw[1:] == dw[:-1]) & (sw[1:] == sw[:-1] + bw[:-1] / 512)) / (n - 1)
    span = ((sw + bw / 512).max() - sw.min()) * 512
    key = np.floor(sw / 8) * 4096 + dw
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = ks[1:] == ks[:-1]
    iv = (order[1:] - order[:-1])[same]
    reuse_frac = iv.size / n
    reuse_med = float(np.median(iv)) if iv.size else 0.0
    busy = n * 1e5; qd = busy / ((tw + 1e5).max() - tw.min())
    rows.append([(ow & 1).sum() / n, *np.log1p(sp), np.log1p(mode), *np.log1p(op_), *np.log1p(gp), np.log1p(gm), np.log1p(gs / gm if gm > 0 else 0.0),
                 seq, np.log1p(span), reuse_frac, np.log1p(reuse_med), np.log1p(qd),
                 lia.mean(), lia.std(), lof.mean(), lof.std(), lsz.mean(), lsz.std()])
X = np.array(rows)
t1 = time.perf_counter(); c1 = time.process_time()
Z = StandardScaler().fit_transform(X)
pca = PCA(n_components=2, svd_solver="full").fit(Z)
P = pca.transform(Z)
best = None
for k in range(2, 9):
    km = KMeans(n_clusters=k, n_init=1, random_state=1, algorithm="lloyd").fit(P)
    sc = silhouette_score(P, km.labels_)
    if best is None or sc > best[0]: best = (sc, k)
t2 = time.perf_counter(); c2 = time.process_time()
print(json.dumps({"features": t1 - t0, "model": t2 - t1, "total": t2 - t0, "cpuFeatures": c1 - c0, "cpuModel": c2 - c1, "windows": nw, "k": best[1],
                  "ratio": pca.explained_variance_ratio_.tolist(),
                  "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "X": X.tolist()}))
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
  maxRssMiB: number;
  X: number[][];
}

export async function run(): Promise<void> {
  await makeData();
  const ts = spawnSync(process.execPath, [HERE, '--worker'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (ts.status !== 0) throw new Error(`ssdtune worker failed: ${ts.stderr}`);
  const a = JSON.parse(ts.stdout) as Side;
  const py = spawnSync('/usr/bin/python3', ['-c', PY, DATA], { encoding: 'utf8', maxBuffer: 256 << 20 });
  let b: Side | undefined;
  if (py.status === 0) b = JSON.parse(py.stdout) as Side;
  else console.log(`scikit-learn side failed or missing (/usr/bin/python3 with python3-sklearn): ${py.stderr.trim().split('\n').pop()}`);
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
  if (b) {
    let maxDiff = 0;
    for (let i = 0; i < a.X.length; i++) for (let j = 0; j < a.X[i]!.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a.X[i]![j]! - b.X[i]![j]!));
    console.log(`descriptor matrices agree: max |ssdtune - numpy| = ${maxDiff.toExponential(2)} over ${a.X.length}x${a.X[0]!.length}`);
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === HERE) await worker();
