import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../src/util/temp-dir.js';
import { isSsdtuneError } from '../src/errors.js';
import { calibrateThreshold, fitConfidence, sameWorkloadProbability } from '../src/ml/calibration.js';
import { chunkRanges, embeddingSpread, gapRange, identify, meanGapUs, MemoryWorkloadStore, profileWorkload } from '../src/ml/identify.js';
import { KnownWorkloads, scanChunks } from '../src/ml/known-workloads.js';
import { majority } from '../src/ml/evaluation.js';
import { HAND_WRITTEN_MARKER } from '../src/ml/model-card.js';
import { ConfDB } from '../src/confdb/db.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../src/features/descriptors.js';
import { ConfDBWorkloadStore } from '../src/service/workload-store.js';
import { loadSimilarityModel, META_FILE, MODEL_FILE, modelSetDir, WEIGHTS_FILE } from '../src/ml/model-io.js';
import { embed, initBackend } from '../src/ml/similarity.js';
import { describeTrace, windowStreams } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { standardize } from '../src/ml/standardize.js';
import { loadStreams } from '../src/ml/data.js';
import { profileSplit, queries, thin } from '../src/ml/split.js';
import { DEFAULT_TRAIN, intensityFactorOf, trainAndSave, type TrainConfig } from '../src/ml/train.js';

const tmp = tempDir('ssdtune-sim-');
const tracesDir = path.join(tmp, 'traces');
const outDir = path.join(tmp, 'model');

function cfg(out: string): TrainConfig {
  return { ...DEFAULT_TRAIN, tracesDir, outDir: out, steps: 60 };
}

/** Window vectors of a bundled trace, per device stream. */
async function streamsOf(file: string, windowSize: number): Promise<Float64Array[][]> {
  const t = await describeTrace(await openTrace(path.resolve('traces', file)), { size: windowSize, splitByDevice: true });
  return windowStreams(t).map((s) => s.windows);
}

test('the wasm backend loads from node_modules', async () => {
  assert.equal(await initBackend(), 'wasm');
});

test('workload spread is measured leave-run-out, within streams', () => {
  // q=1: each window against the centroid of the other three: (1,0) vs (1,2)/sqrt5, (0,1) vs (2,1)/sqrt5.
  const s = embeddingSpread(
    [
      [
        [1, 0],
        [0, 1],
        [1, 0],
        [0, 1],
      ],
    ],
    1,
  );
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.p90 - Math.sqrt(2 - 2 / Math.sqrt(5))) < 1e-12);
  // Runs of 2 overlap: 3 runs, each (1,1)/sqrt2 against the same direction: no spread.
  assert.deepEqual(
    embeddingSpread(
      [
        [
          [1, 0],
          [0, 1],
          [1, 0],
          [0, 1],
        ],
      ],
      2,
    ),
    { p90: 0, n: 3 },
  );
  // Runs never straddle two streams: two streams of 2 windows give 2 runs of 2, not 3.
  assert.equal(
    embeddingSpread(
      [
        [
          [1, 0],
          [0, 1],
        ],
        [
          [1, 0],
          [0, 1],
        ],
      ],
      2,
    ).n,
    2,
  );
  // Too few windows to leave a run out: nothing measured.
  assert.equal(
    embeddingSpread(
      [
        [
          [1, 0],
          [0, 1],
        ],
      ],
      2,
    ).n,
    0,
  );
});

test('calibration: the most same-workload matches among thresholds that reject enough new workloads', () => {
  const c = calibrateThreshold([0.1, 0.2, 0.3], [0.5, 0.6], 0.99);
  assert.ok(Math.abs(c.threshold - 0.4) < 1e-12);
  assert.equal(c.acceptance, 1);
  assert.equal(c.rejection, 1);
  // Negatives among the positives: rejecting 75% allows t = 0.55 (accepts both positives);
  // rejecting all of them forces t below 0.3 (accepts one).
  assert.ok(Math.abs(calibrateThreshold([0.1, 0.5], [0.3, 0.6, 0.7, 0.8], 0.75).threshold - 0.55) < 1e-12);
  const strict = calibrateThreshold([0.1, 0.5], [0.3, 0.6, 0.7, 0.8], 0.9);
  assert.ok(Math.abs(strict.threshold - 0.2) < 1e-12);
  assert.equal(strict.acceptance, 0.5);
  // Nothing separates: the threshold below every distance still rejects everything.
  assert.equal(calibrateThreshold([1, 1], [1, 1], 1).acceptance, 0);
  assert.throws(
    () => calibrateThreshold([], [1], 0.9),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'),
  );
  assert.throws(
    () => calibrateThreshold([1], [], 0.9),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'),
  );
});

test('confidence curve: near distances are the same workload, far ones are not, 1/2 between the classes', () => {
  const curve = fitConfidence([0.01, 0.02, 0.03, 0.05, 0.08], [0.1, 0.3, 0.4, 0.5, 0.9]);
  assert.ok(curve.slope < 0, JSON.stringify(curve));
  assert.ok(sameWorkloadProbability(curve, 0.01) > 0.9);
  assert.ok(sameWorkloadProbability(curve, 0.9) < 0.1);
  const mid = Math.exp(-curve.intercept / curve.slope);
  assert.ok(mid > 0.05 && mid < 0.15, `p = 1/2 at ${mid}`);
  assert.equal(sameWorkloadProbability(curve, Infinity), 0);
  // Classes that separate completely still give a finite curve.
  const sep = fitConfidence([0.01, 0.02], [1, 2]);
  assert.ok(Number.isFinite(sep.intercept) && Number.isFinite(sep.slope));
});

test('chunks, queries, profile split, majority vote', () => {
  assert.deepEqual(queries([1, 2, 3, 4, 5], 2), [
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(queries([1], 4), []);
  assert.deepEqual(thin([1, 2, 3, 4], 2), [1, 3]);
  assert.deepEqual(profileSplit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), { profile: [1, 2, 3, 4, 5, 6], later: [7, 8, 9, 10] });
  // Chunks never straddle streams; a stream's remainder and streams shorter than q give none.
  assert.deepEqual(chunkRanges([9, 3, 4], 4), [
    [0, 0, 4],
    [0, 4, 8],
    [2, 0, 4],
  ]);
  assert.deepEqual(chunkRanges([3], 4), []);
  assert.equal(chunkRanges([4000], 4, 64).length, 64);
  // Known only with two thirds of the chunks behind one workload; a bare majority, ties and pluralities are "new".
  const at = (nearest: string, distance: number) => ({ nearest, distance });
  assert.deepEqual(majority([at('a', 0.1), at('a', 0.1), at('b', 0.1)], 0.5), { answer: 'a', share: 2 / 3 });
  assert.equal(majority([at('a', 0.1), at('a', 0.1), at('a', 0.1), at('b', 0.1), at('x', 0.9)], 0.5).answer, 'new');
  assert.equal(majority([...Array(6).fill(at('a', 0.1)), at('b', 0.1), at('x', 0.9), at('x', 0.9)], 0.5).answer, 'a');
  // One chunk is not enough evidence to reuse a configuration.
  assert.equal(majority([at('a', 0.1)], 0.5).answer, 'new');
  assert.equal(majority([at('a', 0.1), at('a', 0.9)], 0.5).answer, 'new');
  assert.equal(majority([at('a', 0.1), at('a', 0.1), at('b', 0.1), at('c', 0.1), at('x', 0.9)], 0.5).answer, 'new');
});

test('training data: a per-CPU blktrace set in a subdirectory is read as one trace; other subdirectories are listed as not read', async () => {
  const dir = path.join(tmp, 'sets');
  mkdirSync(path.join(dir, 'vm'), { recursive: true });
  mkdirSync(path.join(dir, 'empty'), { recursive: true });
  for (const f of ['sda.blktrace.0', 'sda.blktrace.1']) copyFileSync(path.resolve('traces/blktrace_centos7_vm_small', f), path.join(dir, 'vm', f));
  copyFileSync(path.resolve('traces/msr_hm_0_sample1000.csv'), path.join(dir, 'msr_hm_0.csv'));
  const r = await loadStreams(dir, 64);
  assert.deepEqual(
    r.files.map((f) => [f.file, f.format]),
    [
      ['msr_hm_0.csv', 'msr'],
      [path.join('vm', 'sda.blktrace.0'), 'blktrace'],
    ],
  );
  assert.deepEqual(
    r.skipped.map((s) => s.file),
    ['empty'],
  );
  // Both per-CPU files are read as one trace (the reader finds the set from its first file).
  assert.equal(r.files.find((f) => f.format === 'blktrace')!.requests, 109);
});

test('train leave-one-source-out on real traces, save, load back identically, keep the hand-written card section, identify', async () => {
  mkdirSync(tracesDir, { recursive: true });
  copyFileSync(path.resolve('traces/mqsim_wsrch-small.trace'), path.join(tracesDir, 'mqsim_wsrch-small.trace'));
  copyFileSync(path.resolve('traces/blkparse_hadoop_writeback_apress.txt'), path.join(tracesDir, 'hadoop.blkparse.txt'));
  copyFileSync(path.resolve('traces/msr_hm_0_sample1000.csv'), path.join(tracesDir, 'msr_hm_0.csv'));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'MODEL_CARD.md'), `old generated text\n${HAND_WRITTEN_MARKER}\n## Notes\nA hand-written comparison.\n`);
  const r = await trainAndSave(cfg(outDir), 'test');
  assert.deepEqual([...new Set(r.streams.map((s) => s.source))].sort(), ['hadoop.blkparse.txt', 'mqsim_wsrch-small.trace', 'msr_hm_0.csv']);
  assert.equal(r.streams.filter((s) => s.source === 'mqsim_wsrch-small.trace').length, 3); // per device
  // Every source was held out once, with a threshold from the others.
  assert.deepEqual(r.figures.network.sources.map((s) => s.source).sort(), ['hadoop.blkparse.txt', 'mqsim_wsrch-small.trace', 'msr_hm_0.csv']);
  for (const s of r.figures.network.sources) assert.ok(s.detection.queries > 0 && s.threshold > 0, JSON.stringify(s));
  assert.ok(r.losses.length > 0 && r.losses.every(Number.isFinite));
  const card = readFileSync(path.join(outDir, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /## Retrain/);
  assert.match(card, /leave one source out/i);
  assert.match(card, /Same-workload match >= 95% of 4-window queries: [\d.]+%, (met|\*\*MISSED\*\*)/);
  assert.ok(card.endsWith(`${HAND_WRITTEN_MARKER}\n\n## Notes\nA hand-written comparison.\n`), card.slice(-300));
  assert.doesNotMatch(card, /old generated text/);

  const loaded = await loadSimilarityModel(outDir);
  assert.deepEqual(loaded.meta.scaler, r.model.meta.scaler);
  assert.equal(loaded.meta.threshold, r.model.meta.threshold);
  assert.deepEqual(loaded.meta.confidence, r.figures.network.curve);
  const { streams } = await loadStreams(tracesDir, loaded.meta.windowSize);
  const rows = streams[0]!.windows.slice(0, 5).map((w) => standardize(loaded.meta.scaler, w));
  assert.deepEqual(embed(loaded.model, rows), embed(r.model.model, rows));

  // Same seed, same data: the same weights and thresholds.
  const again = path.join(tmp, 'again');
  await trainAndSave(cfg(again), 'test');
  assert.deepEqual(readFileSync(path.join(modelSetDir(again), WEIGHTS_FILE)), readFileSync(path.join(modelSetDir(outDir), WEIGHTS_FILE)));
  assert.deepEqual(JSON.parse(readFileSync(path.join(modelSetDir(again), META_FILE), 'utf8')).threshold, loaded.meta.threshold);

  const store = new MemoryWorkloadStore();
  const hadoop = streams.find((s) => s.source === 'hadoop.blkparse.txt')!;
  const empty = await identify(loaded, [hadoop.windows.slice(0, 4)], store);
  assert.equal(empty.kind, 'new');
  assert.equal(empty.distance, Infinity);
  assert.deepEqual(empty.candidates, []);
  for (const s of streams) store.put(profileWorkload(loaded, s.name, s.name, [profileSplit(s.windows).profile]));
  // A long query (many chunks) of a stored workload's own windows: known, that workload, nearest candidate.
  const own = profileSplit(hadoop.windows).profile;
  const id = await identify(loaded, [own], store);
  assert.equal(id.kind, 'known', JSON.stringify(id));
  assert.equal(id.exact, true);
  const part = await identify(loaded, [own.slice(0, 40)], store);
  assert.notEqual(part.exact, true);
  assert.equal(part.chunks, 10);
  assert.equal(part.candidates[0]?.id, hadoop.name);
  assert.ok(
    part.candidates.every((c, i) => i === 0 || c.distance >= part.candidates[i - 1]!.distance),
    'candidates nearest first',
  );
  assert.ok(part.confidence >= 0 && part.confidence <= 1);
  // Fewer windows than one query: "new", not decided by a distance the threshold was not calibrated for.
  const short = await identify(loaded, [own.slice(1, 3)], store);
  assert.equal(short.kind, 'new');
  assert.equal(short.short, true);
  assert.equal(short.nearest?.id, hadoop.name);
  await assert.rejects(identify(loaded, [[]], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_TOO_SHORT'));
  const nan = Float64Array.from(own[0]!);
  nan[3] = NaN;
  await assert.rejects(identify(loaded, [[nan]], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE'));
  await assert.rejects(identify(loaded, [[new Float64Array(3)]], store), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_DEGENERATE'));
});

test('training refuses at once a model directory it could not write: it found out only when it saved, minutes later', async () => {
  mkdirSync(tmp, { recursive: true });
  const file = path.join(tmp, 'a-file');
  writeFileSync(file, '');
  const logged: string[] = [];
  for (const [out, why] of [
    [file, /cannot write the model to .*a-file: it exists and is not a directory/],
    [path.join(file, 'model'), /cannot write the model to .*a-file\/model: ENOTDIR/],
    ['/proc/no-such-pid/model', /cannot write the model to \/proc\/no-such-pid\/model: /],
  ] as const) {
    await assert.rejects(
      trainAndSave({ ...cfg(out), log: (m) => logged.push(m) }, 'test'),
      (e) => isSsdtuneError(e, 'SSDTUNE_MODEL_WRITE') && why.test((e as Error).message),
      out,
    );
  }
  assert.deepEqual(logged, [], 'refused before any trace was read');
});

test('corrupt or missing model files give coded errors naming the file', async () => {
  await assert.rejects(
    loadSimilarityModel(path.join(tmp, 'nowhere')),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_MODEL_MISSING') && /nowhere: no model here/.test((e as Error).message),
  );
  const corrupt = async (file: string, mutate: (b: Buffer) => Buffer | string, pattern: RegExp) => {
    const dir = mkdtempSync(path.join(tmp, 'bad-'));
    for (const f of [MODEL_FILE, WEIGHTS_FILE, META_FILE]) copyFileSync(path.join(modelSetDir(outDir), f), path.join(dir, f));
    writeFileSync(path.join(dir, file), mutate(readFileSync(path.join(dir, file))));
    await assert.rejects(loadSimilarityModel(dir), (e: unknown) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_MODEL_CORRUPT'), String(e));
      assert.ok((e as Error).message.includes(path.join(dir, file)), (e as Error).message);
      assert.match((e as Error).message, pattern);
      return true;
    });
  };
  await corrupt(WEIGHTS_FILE, (b) => b.subarray(0, b.length - 7), /bytes, model.json describes/);
  await corrupt(
    WEIGHTS_FILE,
    (b) => {
      const c = Buffer.from(b);
      c.writeFloatLE(NaN, 8);
      return c;
    },
    /weight 2 is NaN/,
  );
  await corrupt(MODEL_FILE, (b) => b.subarray(0, 100), /not valid JSON/);
  await corrupt(MODEL_FILE, () => '{"modelTopology": 3}', /expected a tfjs layers-model/);
  await corrupt(META_FILE, (b) => JSON.stringify({ ...JSON.parse(b.toString()), threshold: null }), /threshold must be a positive number/);
  await corrupt(
    META_FILE,
    (b) => JSON.stringify({ ...JSON.parse(b.toString()), confidence: { intercept: 1 } }),
    /confidence must hold a finite intercept and slope/,
  );
  await corrupt(META_FILE, (b) => JSON.stringify({ ...JSON.parse(b.toString()), version: 1 }), /version is 1, expected 2 .*retrain/);
  await corrupt(META_FILE, (b) => JSON.stringify({ ...JSON.parse(b.toString()), descriptorNames: ['x'] }), /retrain/);
});

test('the shipped model tells a stored workload from a new one, per device stream', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  assert.equal(m.meta.windowSize, 64);
  assert.match(m.id ?? '', /^[0-9a-f]{16}$/);
  const [dev0] = await streamsOf('mqsim_wsrch-small.trace', m.meta.windowSize);
  const store = new MemoryWorkloadStore();
  store.put(profileWorkload(m, 'ws', 'WebSearch ASU 0', [profileSplit(dev0!).profile]));
  const id = await identify(m, [profileSplit(dev0!).later], store);
  assert.equal(id.kind, 'known', JSON.stringify(id));
  assert.equal(id.nearest?.name, 'WebSearch ASU 0');
  assert.ok(id.confidence > 0.5, JSON.stringify(id));
  // Sequential 1 MiB writes (the Hadoop writeback trace's opposite: a fio video ingest) are nothing like WebSearch reads.
  const video = await streamsOf('fio_video-ingest.trace.xz', m.meta.windowSize);
  const other = await identify(m, video, store);
  assert.equal(other.kind, 'new', JSON.stringify(other));
  assert.ok(other.confidence > 0.5, JSON.stringify(other));
});

test('a profile from another model is recognised only by its exact windows', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  const msr = await streamsOf('msr_hm_0_sample1000.csv', m.meta.windowSize);
  const profile = profileWorkload(m, 'msr', 'MSR hm_0', msr);
  const foreign = new MemoryWorkloadStore();
  foreign.put({ ...profile, comparable: false });
  assert.equal((await identify(m, msr, foreign)).exact, true);
  const far = await identify(m, [msr[0]!.slice(0, 8)], foreign);
  assert.equal(far.kind, 'new');
  assert.equal(far.nearest, undefined, 'nothing comparable to be near');
});

test('a workload with two phases is known in either phase: distances go to the nearest phase centroid', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  // Two real workloads back to back stand for one application with a read phase and a write phase.
  const reads = (await streamsOf('mqsim_wsrch-small.trace', m.meta.windowSize))[0]!.slice(0, 80);
  const writes = (await streamsOf('blkparse_hadoop_writeback_apress.txt', m.meta.windowSize))[0]!;
  const profile = profileWorkload(m, 'app', 'two-phase app', [[...reads, ...writes.slice(0, 120)]]);
  assert.ok(profile.modes && profile.modes.length >= 2, 'phases summarised');
  const store = new MemoryWorkloadStore();
  store.put(profile);
  const later = [writes.slice(200, 200 + 2 * m.meta.queryWindows)];
  const withModes = await identify(m, later, store);
  const { modes: _dropped, ...single } = profile;
  const one = new MemoryWorkloadStore();
  one.put(single);
  const withoutModes = await identify(m, later, one);
  assert.ok(withModes.distance < withoutModes.distance, `phase centroid nearer (${withModes.distance}) than the overall centroid (${withoutModes.distance})`);
  assert.equal(withModes.kind, 'known');
});

test("intensity: mean gaps from the vectors, a workload's range of them, and the factor that keeps other rates apart", () => {
  const at = DESCRIPTOR_VECTOR_NAMES.indexOf('ln1p(iatMean)');
  const win = (gapUs: number) => {
    const v = new Float64Array(DESCRIPTOR_VECTOR_NAMES.length);
    v[at] = Math.log1p(gapUs);
    return v;
  };
  // Windows hold equally many requests: the mean of their mean gaps is the gap of all their requests.
  assert.ok(Math.abs(meanGapUs([win(100), win(300)]) - 200) < 1e-9);
  // Runs of 2 of one stream (10, 20, 30, ... 200 µs): 15, 25, ... 195; a stream shorter than a run counts as one run (5000).
  // Of those 20 runs the 5th percentile is the 1st (15 µs), the 95th the 19th (195 µs): one idle run does not widen it.
  const stream = Array.from({ length: 20 }, (_, i) => win(10 * (i + 1)));
  const [lo, hi] = gapRange([stream, [win(5000)]], 2);
  assert.ok(Math.abs(lo - 15) < 1e-9 && Math.abs(hi - 195) < 1e-9, `${lo} ${hi}`);
  // The factor is the largest time scale training treats as another workload, either way.
  assert.equal(intensityFactorOf([0.25, 4]), 4);
  assert.equal(intensityFactorOf([0.1, 2]), 10);
  assert.equal(intensityFactorOf([]), 0);
  // Two stored workloads at the same place in the embedding, one seen at 100-200 µs, one at 10-20 ms: a chunk at
  // 150 µs is the first, one at 900 µs (4.5x past the first's slowest, 11x past the second's fastest) neither.
  const twin = { centroidEmbedding: [1, 0], pcaCentre: [0, 0], descriptors: [0] };
  const known = KnownWorkloads.of([
    { ...twin, id: 'fast', name: 'fast', arrivalGapUs: [100, 200] },
    { ...twin, id: 'slow', name: 'slow', arrivalGapUs: [10_000, 20_000] },
    { ...twin, id: 'old', name: 'old' },
  ]);
  const rows = Float64Array.of(1, 0, 1, 0, 1, 0);
  const r = scanChunks(known, 'network', rows, 3, 3, { gapUs: [150, 900, 40_000], factor: 4 });
  assert.deepEqual([...r.nearest], [0, 2, 1], 'the profile without a range (stored before it) is never excluded');
  const strict = KnownWorkloads.of(known.items.slice(0, 2));
  const s2 = scanChunks(strict, 'network', rows, 3, 3, { gapUs: [150, 900, 3_000], factor: 4 });
  assert.deepEqual([...s2.nearest], [0, -1, 1]);
  assert.deepEqual([...s2.distance], [0, Infinity, 0]);
  // The candidates are by distance whatever the rate: both are listed.
  assert.deepEqual(s2.closest, [0, 1]);
  // Without the rule (a model trained without time-scaled copies), the earlier one.
  assert.deepEqual([...scanChunks(strict, 'network', rows, 3, 1).nearest], [0, 0, 0]);
});

test('the MSR hm_0 sample is not the Heimdall cut of 15x its rate; the cut is known again in its own later part', async () => {
  const m = await loadSimilarityModel(path.resolve('models/similarity'));
  assert.equal(m.meta.intensityFactor, 4);
  const cut = await describeTrace(await openTrace(path.resolve('traces/heimdall_msr_cut_rw_40_60.1370.trace.xz'), { format: 'heimdall' }), {
    size: m.meta.windowSize,
    splitByDevice: true,
  });
  const cutStreams = windowStreams(cut).map((x) => x.windows);
  // Stored whole, as tune stores it.
  const store = new MemoryWorkloadStore();
  store.put(profileWorkload(m, 'cut', 'heimdall rw_40_60', cutStreams));
  const hm0 = await streamsOf('msr_hm_0_sample1000.csv', m.meta.windowSize);
  const r = await identify(m, hm0, store);
  assert.equal(r.kind, 'new', JSON.stringify(r));
  // Its nearest stored workload is still the cut, within the threshold: only the intensity tells them apart. Two of
  // the sample's three chunks run more than 4x slower than 95% of the cut's runs.
  assert.equal(r.nearest?.id, 'cut');
  assert.ok(r.nearest.distance <= r.threshold, JSON.stringify(r));
  assert.equal(r.nearest.outOfRate, 2, JSON.stringify(r));
  assert.deepEqual(r.votes, { cut: 1, new: 2 });
  // The cut stored from its first 60% is known again from its last 40%, at its own rates.
  const first = new MemoryWorkloadStore();
  first.put(profileWorkload(m, 'cut', 'heimdall rw_40_60', [profileSplit(cutStreams[0]!).profile]));
  const later = await identify(m, [profileSplit(cutStreams[0]!).later], first);
  assert.equal(later.kind, 'known', JSON.stringify(later));
});

test('the ConfDB workload store only offers profiles made with this descriptor set and window size', async () => {
  const db = await ConfDB.open(mkdtempSync(path.join(tmp, 'confdb-')));
  try {
    const base = {
      name: 'w',
      createdAt: new Date(0).toISOString(),
      source: { paths: ['x'], format: 'mqsim', requests: 1 },
      descriptors: [1],
      pcaCentre: [0, 0],
      embedding: [1, 0],
      embeddingSpread: 0.1,
      windowSize: 64,
    };
    await db.put('workloads', { ...base, id: 'current', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES] });
    await db.put('workloads', { ...base, id: 'older-model', descriptorNames: DESCRIPTOR_VECTOR_NAMES.slice(0, 20) });
    await db.put('workloads', { ...base, id: 'other-window', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], windowSize: 128 });
    assert.deepEqual(
      (await new ConfDBWorkloadStore(db, 64).list()).map((k) => k.id),
      ['current'],
    );
    // Given the loaded model's fingerprint, profiles of another model (or of none recorded) are exact-match only.
    await db.put('workloads', { ...base, id: 'this-model', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'abc' });
    await db.put('workloads', { ...base, id: 'retrained-since', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'old' });
    const listed = await new ConfDBWorkloadStore(db, 64, 'abc').list();
    assert.deepEqual(Object.fromEntries(listed.map((k) => [k.id, k.comparable ?? true])), { current: false, 'this-model': true, 'retrained-since': false });
    // The intensity range: read back as stored; a record stored before it existed (or a malformed one) has none.
    await db.put('workloads', { ...base, id: 'paced', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'abc', arrivalGapUs: [120, 4000] });
    await db.put('workloads', { ...base, id: 'bad-pace', descriptorNames: [...DESCRIPTOR_VECTOR_NAMES], modelId: 'abc', arrivalGapUs: [4000, 120] });
    const paced = await new ConfDBWorkloadStore(db, 64, 'abc').list();
    assert.deepEqual(Object.fromEntries(paced.map((k) => [k.id, k.arrivalGapUs ?? null])), {
      current: null,
      'this-model': null,
      'retrained-since': null,
      paced: [120, 4000],
      'bad-pace': null,
    });
  } finally {
    await db.close();
  }
});
