import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isSsdtuneError } from '../src/errors.js';
import { labelTrace } from '../src/ml/cluster-label.js';
import { characterise, describeTrace } from '../src/ml/characterise.js';
import { fitKMeans, silhouette } from '../src/ml/kmeans.js';
import { fitPca } from '../src/ml/pca.js';
import { openTrace } from '../src/readers/registry.js';
import { Op, TraceBuilder, emptyMeta, sourceFromBatches, type TraceSource } from '../src/trace/model.js';

function synthetic(n: number, row: (i: number) => [number, number, number, number]): TraceSource {
  const b = new TraceBuilder();
  for (let i = 0; i < n; i++) b.push(...row(i));
  return sourceFromBatches(emptyMeta('synthetic', 'test'), [b.take()]);
}

test('label: top cluster, or top two when top < 2x second', () => {
  assert.deepEqual(labelTrace([0, 0, 0, 0, 1, 1, 2], 3).clusters, [0]); // 4 >= 2*2
  assert.deepEqual(labelTrace([0, 0, 0, 1, 1, 2], 3).clusters, [0, 1]); // 3 < 2*2
  assert.deepEqual(labelTrace([2, 2, 2], 3), { clusters: [2], counts: [0, 0, 3] });
  assert.deepEqual(labelTrace([1, 0], 2).clusters, [0, 1]); // tie: lower id first
  assert.throws(
    () => labelTrace([], 2),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_TOO_SHORT'),
  );
});

test('silhouette and k choice on well separated points', () => {
  const pts: number[][] = [];
  for (let i = 0; i < 10; i++) pts.push([i * 0.01, 0], [10 + i * 0.01, 0], [0, 10 + i * 0.01]);
  const km = fitKMeans(pts, { seed: 1 });
  assert.equal(km.k, 3);
  assert.ok(km.silhouette > 0.99);
  assert.equal(km.scores[0]!.k, 2);
  // Exact silhouette of 1-D points {0,1} {4,5}: point 0 has a = 1, b = mean(4, 5) = 4.5; point 1 a = 1, b = 3.5.
  const s = silhouette([[0], [1], [4], [5]], [0, 0, 1, 1], 2);
  const exp = [(4.5 - 1) / 4.5, (3.5 - 1) / 3.5, (3.5 - 1) / 3.5, (4.5 - 1) / 4.5];
  assert.ok(Math.abs(s - exp.reduce((a, b) => a + b) / 4) < 1e-12);
  assert.equal(fitKMeans(pts, { k: 2, seed: 1 }).k, 2);
  assert.throws(
    () =>
      fitKMeans(
        [
          [1, 1],
          [1, 1],
        ],
        {},
      ),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'),
  );
});

test('characterise a real trace: deterministic, every window assigned, sample bounded', async () => {
  const run = async () =>
    characterise(await describeTrace(await openTrace(path.resolve('traces/mqsim_wsrch-small.trace')), { size: 250 }), { sampleSize: 40, seed: 7 });
  const a = await run();
  const b = await run();
  assert.equal(a.fittedOn, 40);
  assert.equal(a.assignments.length, Math.floor(24783 / 250));
  assert.deepEqual(a.assignments, b.assignments);
  assert.deepEqual(a.label, b.label);
  assert.ok(a.kmeans.k >= 2 && a.kmeans.k <= 8);
  assert.ok(a.label.clusters.length === 1 || a.label.clusters.length === 2);
  const ratio = a.pca.explainedVarianceRatio;
  assert.ok(ratio[0]! >= ratio[1]! && ratio[0]! + ratio[1]! <= 1 + 1e-12);
});

test('bad input: too short, a single request, identical requests', async () => {
  const short = await describeTrace(
    synthetic(2999, (i) => [i * 1000, i * 8, 4096, Op.READ]),
    { source: 'short.trace' },
  );
  assert.throws(
    () => characterise(short),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_TOO_SHORT') && /short\.trace: 2999 requests make 0 full window\(s\) of 3000/.test((e as Error).message),
  );
  const single = await describeTrace(
    synthetic(1, () => [0, 0, 4096, Op.READ]),
    { size: 2, source: 'one.trace' },
  );
  assert.throws(
    () => characterise(single),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_TOO_SHORT') && /one\.trace: 1 requests/.test((e as Error).message),
  );
  const same = await describeTrace(
    synthetic(1000, () => [0, 64, 4096, Op.READ]),
    { size: 100 },
  );
  assert.throws(
    () => characterise(same),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE') && /identical descriptors/.test((e as Error).message),
  );
  assert.throws(
    () => fitPca([[1, 2]]),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'),
  );
  assert.throws(
    () =>
      fitPca([
        [1, NaN],
        [2, 3],
      ]),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE'),
  );
});
