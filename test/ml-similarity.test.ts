import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSsdtuneError } from '../src/errors.js';
import { embeddingSpread, identify, MemoryWorkloadStore, MIN_RADIUS, profileWorkload, shrunkRadius } from '../src/ml/identify.js';
import { ConfDB } from '../src/confdb/db.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../src/features/descriptors.js';
import { ConfDBWorkloadStore } from '../src/service/workload-store.js';
import { loadSimilarityModel, META_FILE, MODEL_FILE, WEIGHTS_FILE, type SimilarityModel } from '../src/ml/model-io.js';
import { embed, initBackend } from '../src/ml/similarity.js';
import { describeTrace } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { standardize } from '../src/ml/standardize.js';
import { assignRoles, calibrateThreshold, DEFAULT_TRAIN, loadStreams, queries, timeSplit, trainAndSave, type TrainConfig } from '../src/ml/train.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'ssdtune-sim-'));
const tracesDir = path.join(tmp, 'traces');
const outDir = path.join(tmp, 'model');
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function cfg(out: string): TrainConfig {
  return { ...DEFAULT_TRAIN, tracesDir, outDir: out, steps: 60, compareUnmerged: false };
}

test('the wasm backend loads from node_modules', async () => {
  assert.equal(await initBackend(), 'wasm');
});

test('workload spread is measured leave-run-out and shrunk towards the typical radius', () => {
  // q=1: each window against the centroid of the other three: (1,0) vs (1,2)/sqrt5, (0,1) vs (2,1)/sqrt5.
  const s = embeddingSpread([[1, 0], [0, 1], [1, 0], [0, 1]], 1);
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.p90 - Math.sqrt(2 - 2 / Math.sqrt(5))) < 1e-12);
  // Runs of 2 overlap: 3 runs, each (1,1)/sqrt2 against the same direction: no spread.
  assert.deepEqual(embeddingSpread([[1, 0], [0, 1], [1, 0], [0, 1]], 2), { p90: 0, n: 3 });
  // Too few windows to leave a run out: nothing measured, the prior decides.
  assert.equal(embeddingSpread([[1, 0], [0, 1]], 2).n, 0);
  const m = { meta: { radiusPrior: 0.5, radiusPriorWeight: 4 } } as unknown as SimilarityModel;
  assert.ok(Math.abs(shrunkRadius(m, { p90: 0.1, n: 1 }) - Math.sqrt((0.01 + 4 * 0.25) / 5)) < 1e-12);
  assert.ok(Math.abs(shrunkRadius(m, { p90: 0, n: 0 }) - 0.5) < 1e-12);
  assert.equal(shrunkRadius({ meta: {} } as unknown as SimilarityModel, { p90: 0, n: 0 }), MIN_RADIUS);
  // The cap: a broad workload's radius stops at radiusCap x the prior; tight ones keep theirs.
  const capped = { meta: { radiusPrior: 0.5, radiusPriorWeight: 4, radiusCap: 1 } } as unknown as SimilarityModel;
  assert.equal(shrunkRadius(capped, { p90: 3, n: 100 }), 0.5);
  assert.ok(Math.abs(shrunkRadius(capped, { p90: 0.1, n: 1 }) - Math.sqrt((0.01 + 4 * 0.25) / 5)) < 1e-12);
});

test('calibration, roles, time split and query grouping', () => {
  const c = calibrateThreshold([0.1, 0.2, 0.3], [0.5, 0.6]);
  assert.ok(Math.abs(c.threshold - 0.4) < 1e-12);
  assert.equal(c.balancedAccuracy, 1);
  const o = calibrateThreshold([0.1, 0.5], [0.3, 0.6]); // best: accept 0.1 only, or accept <= 0.55: both 0.75
  assert.equal(o.balancedAccuracy, 0.75);
  assert.ok(Math.abs(o.threshold - 0.2) < 1e-12); // the first best (lowest threshold) wins
  // A minimum rejection rules out thresholds that accept too many negatives:
  // known [0.1, 0.5], negatives [0.3, 0.6, 0.7, 0.8]: t=0.55 has the best balanced accuracy (1 + 0.75)/2 but rejects
  // only 75%; with 0.9 required, t=0.2 (rejects all, accepts half) is the best allowed.
  assert.ok(Math.abs(calibrateThreshold([0.1, 0.5], [0.3, 0.6, 0.7, 0.8]).threshold - 0.55) < 1e-12);
  assert.ok(Math.abs(calibrateThreshold([0.1, 0.5], [0.3, 0.6, 0.7, 0.8], 0.9).threshold - 0.2) < 1e-12);
  // Without held-out workloads: the 95th percentile of known distances.
  assert.equal(calibrateThreshold([1, 2, 3, 4], []).threshold, 4);
  // 6 files: f0 has 3 streams (largest, always known); 5 others, 1 held out for validation, 1 for test.
  const streams = [
    ...['a', 'b', 'c'].map((d) => ({ name: `f0#${d}`, file: 'f0' })),
    ...[1, 2, 3, 4, 5].map((i) => ({ name: `f${i}`, file: `f${i}` })),
    { name: 'f5#x', file: 'f5' },
  ];
  const r1 = assignRoles(streams, 1);
  assert.deepEqual([...assignRoles(streams, 1)], [...r1]);
  const count = (role: string) => [...r1.values()].filter((x) => x === role).length;
  assert.equal(count('new-val') >= 1 && count('new-test') >= 1, true);
  assert.equal(count('known') + count('new-val') + count('new-test'), 9);
  assert.ok(['f0#a', 'f0#b', 'f0#c'].every((n) => r1.get(n) === 'known'));
  assert.equal(r1.get('f5'), r1.get('f5#x')); // a file's streams share their role
  assert.ok([...assignRoles(streams.slice(0, 5), 1).values()].every((x) => x === 'known')); // 3 files: too few to hold out
  assert.deepEqual(timeSplit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), { train: [1, 2, 3, 4, 5, 6], val: [7, 8], test: [9, 10] });
  assert.deepEqual(queries([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4]]);
  assert.deepEqual(queries([1], 4), [[1]]);
});

test('train on a real trace, save, load back identically, identify', async () => {
  mkdirSync(tracesDir, { recursive: true });
  copyFileSync(path.resolve('traces/mqsim_wsrch-small.trace'), path.join(tracesDir, 'mqsim_wsrch-small.trace'));
  copyFileSync(path.resolve('traces/blkparse_hadoop_writeback_apress.txt'), path.join(tracesDir, 'hadoop.blkparse.txt'));
  const r = await trainAndSave(cfg(outDir), 'test');
  assert.equal(r.streams.length, 4); // 3 MQSim devices + Hadoop
  assert.ok(r.streams.every((s) => s.role === 'known'));
  assert.ok(r.losses.length > 0 && r.losses.every(Number.isFinite));
  const card = readFileSync(path.join(outDir, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /## Retrain/);
  assert.match(card, /Siamese network/);

  const loaded = await loadSimilarityModel(outDir);
  assert.deepEqual(loaded.meta.scaler, r.model.meta.scaler);
  assert.equal(loaded.meta.threshold, r.model.meta.threshold);
  const { streams } = await loadStreams(tracesDir, loaded.meta.windowSize);
  const rows = streams[0]!.windows.slice(0, 5).map((w) => standardize(loaded.meta.scaler, w));
  assert.deepEqual(embed(loaded.model, rows), embed(r.model.model, rows));

  // Same seed, same data: the same weights.
  const again = path.join(tmp, 'again');
  await trainAndSave(cfg(again), 'test');
  assert.deepEqual(readFileSync(path.join(again, WEIGHTS_FILE)), readFileSync(path.join(outDir, WEIGHTS_FILE)));

  const store = new MemoryWorkloadStore();
  const empty = await identify(loaded, streams[0]!.windows.slice(0, 4), store);
  assert.equal(empty.kind, 'new');
  assert.equal(empty.distance, Infinity);
  for (const s of streams) store.put(profileWorkload(loaded, s.name, s.name, timeSplit(s.windows).train));
  // A long query (many chunks) of a known workload's own windows: known, that workload.
  // (Hadoop writeback: the MQSim devices are near-twins, ASUs of one WebSearch application.)
  const hadoop = streams.find((s) => s.name.startsWith('hadoop'))!;
  const own = timeSplit(hadoop.windows).train;
  {
    const id = await identify(loaded, own, store, 'network');
    assert.equal(id.kind, 'known', JSON.stringify(id));
    assert.equal(id.nearest?.id, hadoop.name);
    assert.equal(id.windows, own.length);
    assert.ok(id.confidence > 0 && id.confidence <= 1);
    const pca = await identify(loaded, own, store, 'pca');
    assert.equal(pca.distance, pca.nearest?.distance); // the reported chunk's own nearest and distance
  }
  // A one-chunk query identical to a profile is at distance 0 from it.
  const q = own.slice(0, loaded.meta.queryWindows);
  const exact = new MemoryWorkloadStore();
  exact.put(profileWorkload(loaded, 'x', 'x', q));
  for (const method of ['network', 'pca', 'both'] as const) {
    const id = await identify(loaded, q, exact, method);
    assert.equal(id.kind, 'known');
    assert.ok(id.distance < 1e-6 && id.confidence > 0.99, `${method}: ${JSON.stringify(id)}`);
  }
  await assert.rejects(identify(loaded, [], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_TOO_SHORT'));
  const nan = Float64Array.from(own[0]!);
  nan[3] = NaN;
  await assert.rejects(identify(loaded, [nan], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE'));
  await assert.rejects(identify(loaded, [new Float64Array(3)], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'));
});

test('corrupt or missing model files give coded errors naming the file', async () => {
  await assert.rejects(loadSimilarityModel(path.join(tmp, 'nowhere')), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_MODEL_MISSING') && /nowhere: no model here/.test((e as Error).message));
  const corrupt = async (file: string, mutate: (b: Buffer) => Buffer | string, pattern: RegExp) => {
    const dir = mkdtempSync(path.join(tmp, 'bad-'));
    for (const f of [MODEL_FILE, WEIGHTS_FILE, META_FILE]) copyFileSync(path.join(outDir, f), path.join(dir, f));
    writeFileSync(path.join(dir, file), mutate(readFileSync(path.join(dir, file))));
    await assert.rejects(loadSimilarityModel(dir), (e: unknown) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_MODEL_CORRUPT'), String(e));
      assert.ok((e as Error).message.includes(path.join(dir, file)), (e as Error).message);
      assert.match((e as Error).message, pattern);
      return true;
    });
  };
  await corrupt(WEIGHTS_FILE, (b) => b.subarray(0, b.length - 7), /bytes, model.json describes/);
  await corrupt(WEIGHTS_FILE, (b) => {
    const c = Buffer.from(b);
    c.writeFloatLE(NaN, 8);
    return c;
  }, /weight 2 is NaN/);
  await corrupt(MODEL_FILE, (b) => b.subarray(0, 100), /not valid JSON/);
  await corrupt(MODEL_FILE, () => '{"modelTopology": 3}', /expected a tfjs layers-model/);
  await corrupt(META_FILE, (b) => JSON.stringify({ ...JSON.parse(b.toString()), threshold: null }), /threshold must be a positive number/);
  await corrupt(META_FILE, (b) => JSON.stringify({ ...JSON.parse(b.toString()), descriptorNames: ['x'] }), /retrain/);
});

test('the shipped model in models/similarity loads and tells its own workloads from a new one', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  assert.equal(m.meta.windowSize, 64);
  const t = await describeTrace(await openTrace(path.resolve('traces/mqsim_wsrch-small.trace')), { size: m.meta.windowSize, splitByDevice: true });
  const dev0 = { name: 'mqsim#0', windows: t.windows.filter((w) => w.stream === 0).map((w) => w.vector) };
  const store = new MemoryWorkloadStore();
  store.put(profileWorkload(m, dev0.name, 'WebSearch ASU 0', timeSplit(dev0.windows).train));
  const id = await identify(m, dev0.windows.slice(0, m.meta.queryWindows), store);
  assert.equal(id.kind, 'known');
  assert.equal(id.nearest?.name, 'WebSearch ASU 0');
  // A synthetic sequential-write stream (1 MiB writes, back to back) is nothing like WebSearch reads.
  const seq = Array.from({ length: m.meta.queryWindows }, (_, k) => {
    const v = Float64Array.from(dev0.windows[k]!);
    const at = (name: string) => DESCRIPTOR_VECTOR_NAMES.indexOf(name as (typeof DESCRIPTOR_VECTOR_NAMES)[number]);
    v[at('readRatio')] = 0;
    v[at('sequentialFraction')] = 1;
    v[at('ln1p(sizeP10)')] = v[at('ln1p(sizeP50)')] = v[at('ln1p(sizeP90)')] = Math.log1p(1 << 20);
    return v;
  });
  const other = await identify(m, seq, store);
  assert.equal(other.kind, 'new', JSON.stringify(other));
});

test('a short, noisy workload alone in the store does not swallow other traces; its own trace is still known', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  const windowsOf = async (f: string) => (await describeTrace(await openTrace(path.resolve('traces', f)), { size: m.meta.windowSize })).windows.map((w) => w.vector);
  // The 1,000-request MSR sample: 15 windows spread ~10x the typical radius. Uncapped, its radius
  // made every trace below "known: MSR".
  const msr = await windowsOf('msr_hm_0_sample1000.csv');
  const store = new MemoryWorkloadStore();
  const profile = profileWorkload(m, 'msr', 'MSR hm_0', msr);
  assert.ok(profile.embeddingRadius <= m.meta.radiusCap! * m.meta.radiusPrior! + 1e-12, 'radius capped');
  store.put(profile);
  for (const other of ['mqsim_wsrch-small.trace', 'msps_msnfs_30s.trace', 'blkparse_hadoop_writeback_apress.txt', 'cloudphysics_vscsi_sample.csv']) {
    const r = await identify(m, await windowsOf(other), store);
    assert.equal(r.kind, 'new', `${other}: ${JSON.stringify(r)}`);
  }
  const self = await identify(m, msr, store);
  assert.equal(self.kind, 'known');
  assert.equal(self.exact, true);
  // A different slice of it is not the same windows: decided by distance, no exact shortcut.
  const part = await identify(m, msr.slice(0, 8), store);
  assert.notEqual(part.exact, true);
  // A profile from another model is never compared by distance, only recognised exactly.
  const foreign = new MemoryWorkloadStore();
  foreign.put({ ...profile, comparable: false });
  assert.equal((await identify(m, msr, foreign)).exact, true);
  const far = await identify(m, msr.slice(0, 8), foreign);
  assert.equal(far.kind, 'new');
  assert.equal(far.nearest, undefined, 'nothing comparable to be near');
  // The shipped model has a fingerprint of its files.
  assert.match(m.id ?? '', /^[0-9a-f]{16}$/);
});

test('a workload with two phases is known in either phase: distances go to the nearest phase centroid', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  const windowsOf = async (f: string) => (await describeTrace(await openTrace(path.resolve('traces', f)), { size: m.meta.windowSize })).windows.map((w) => w.vector);
  // Two real workloads back to back stand for one application with a read phase and a write phase.
  const reads = (await windowsOf('mqsim_wsrch-small.trace')).slice(0, 120);
  const writes = (await windowsOf('blkparse_hadoop_writeback_apress.txt')).slice(0, 120);
  const profile = profileWorkload(m, 'app', 'two-phase app', [...reads, ...writes]);
  assert.ok(profile.modes && profile.modes.length >= 2, 'phases summarised');
  const store = new MemoryWorkloadStore();
  store.put(profile);
  const later = (await windowsOf('blkparse_hadoop_writeback_apress.txt')).slice(200, 200 + m.meta.queryWindows);
  const withModes = await identify(m, later, store);
  const { modes: _dropped, ...single } = profile;
  const one = new MemoryWorkloadStore();
  one.put(single);
  const withoutModes = await identify(m, later, one);
  assert.ok(withModes.distance < withoutModes.distance, `phase centroid nearer (${withModes.distance}) than the overall centroid (${withoutModes.distance})`);
  assert.equal(withModes.kind, 'known');
});

test('the ConfDB workload store only offers profiles made with this descriptor set and window size', async () => {
  const db = await ConfDB.open(mkdtempSync(path.join(tmp, 'confdb-')));
  try {
    const base = { name: 'w', createdAt: new Date(0).toISOString(), source: { paths: ['x'], format: 'mqsim', requests: 1 }, descriptors: [1], pcaCentre: [0, 0], embedding: [1, 0], embeddingRadius: 0.1, windowSize: 64 };
    await db.put('workloads', { ...base, id: 'current', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES] });
    await db.put('workloads', { ...base, id: 'older-model', descriptorNames: DESCRIPTOR_VECTOR_NAMES.slice(0, 20) });
    await db.put('workloads', { ...base, id: 'other-window', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], windowSize: 128 });
    assert.deepEqual((await new ConfDBWorkloadStore(db, 64).list()).map((k) => k.id), ['current']);
    // Given the loaded model's fingerprint, profiles of another model (or of none recorded) are exact-match only.
    await db.put('workloads', { ...base, id: 'this-model', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'abc' });
    await db.put('workloads', { ...base, id: 'retrained-since', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'old' });
    const listed = await new ConfDBWorkloadStore(db, 64, 'abc').list();
    assert.deepEqual(Object.fromEntries(listed.map((k) => [k.id, k.comparable ?? true])), { current: false, 'this-model': true, 'retrained-since': false });
  } finally {
    await db.close();
  }
});
