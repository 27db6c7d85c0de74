/**
 * Cross-checks against scikit-learn (Debian's python3-sklearn, /usr/bin/python3)
 * on descriptor vectors of a real trace, run inside the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { describeTrace } from '../src/ml/characterise.js';
import { fitPca, projectPca } from '../src/ml/pca.js';
import { fitKMeans, silhouette } from '../src/ml/kmeans.js';
import { tempDir } from '../src/util/temp-dir.js';

const PY = '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' });
const skip =
  probe.status === 0 ? false : `${PY} has no scikit-learn (${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}); install python3-sklearn`;

const SCRIPT = `
import json, sys, numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
d = json.load(open(sys.argv[1]))
X = np.array(d["X"], dtype=np.float64)
Z = StandardScaler().fit_transform(X)
p = PCA(n_components=2, svd_solver="full").fit(Z)
P = np.array(d["P"], dtype=np.float64)
km = KMeans(n_clusters=len(d["init"]), init=np.array(d["init"]), n_init=1, tol=0.0, max_iter=300, algorithm="lloyd").fit(P)
json.dump({"ev": p.explained_variance_.tolist(), "ratio": p.explained_variance_ratio_.tolist(),
           "proj": p.transform(Z).tolist(), "labels": km.labels_.tolist(), "inertia": float(km.inertia_),
           "centres": km.cluster_centers_.tolist(), "silhouette": float(silhouette_score(P, km.labels_))}, sys.stdout)
`;

test('PCA and k-means agree with scikit-learn on a real trace', { skip }, async () => {
  const src = await openTrace(path.resolve('traces/mqsim_wsrch-small.trace'));
  const t = await describeTrace(src, { size: 200, splitByDevice: true });
  const X = t.windows.map((w) => [...w.vector]);
  assert.ok(X.length > 100);
  const pca = fitPca(X, 2);
  const P = X.map((x) => projectPca(pca, x));
  // Initial centres: three windows far apart in time, one from each device.
  const init = [0, Math.floor(X.length / 2), X.length - 1].map((i) => P[i]!);
  const km = fitKMeans(P, { initialCentres: init });

  const dir = tempDir('ssdtune-sk-');
  try {
    const f = path.join(dir, 'm.json');
    writeFileSync(f, JSON.stringify({ X, P, init }));
    const r = spawnSync(PY, ['-c', SCRIPT, f], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const sk = JSON.parse(r.stdout) as { ev: number[]; ratio: number[]; proj: number[][]; labels: number[]; inertia: number; silhouette: number };
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(pca.explainedVariance[c]! - sk.ev[c]!) <= 1e-6 * Math.max(1, sk.ev[c]!), `variance ${c}: ${pca.explainedVariance[c]} vs ${sk.ev[c]}`);
      assert.ok(Math.abs(pca.explainedVarianceRatio[c]! - sk.ratio[c]!) <= 1e-6, `ratio ${c}`);
      // Same component up to sign: fix the sign on the largest projection.
      let big = 0;
      for (let i = 0; i < P.length; i++) if (Math.abs(sk.proj[i]![c]!) > Math.abs(sk.proj[big]![c]!)) big = i;
      const sign = Math.sign(P[big]![c]!) === Math.sign(sk.proj[big]![c]!) ? 1 : -1;
      for (let i = 0; i < P.length; i++)
        assert.ok(Math.abs(P[i]![c]! - sign * sk.proj[i]![c]!) <= 1e-6, `projection ${i},${c}: ${P[i]![c]} vs ${sk.proj[i]![c]}`);
    }
    assert.deepEqual(km.assignments, sk.labels);
    assert.ok(Math.abs(km.inertia - sk.inertia) <= 1e-6 * sk.inertia, `inertia ${km.inertia} vs ${sk.inertia}`);
    const sil = silhouette(P, km.assignments, km.k);
    assert.ok(Math.abs(sil - sk.silhouette) <= 1e-9, `silhouette ${sil} vs ${sk.silhouette}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
