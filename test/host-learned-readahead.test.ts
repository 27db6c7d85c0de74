/**
 * The learned readahead model shipped in models/readahead: loads, classifies
 * the clear-cut access patterns as the readahead model labels them, and
 * survives a save/load round trip unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { LearnedReadahead } from '../src/evaluators/readahead/learned-readahead.js';
import { windowFeatures, FEATURE_NAMES } from '../src/evaluators/readahead/kml-features.js';
import { patternTrace } from '../src/evaluators/readahead/workloads.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';

test('KML features separate sequential from random windows', () => {
  const seq = patternTrace({ pattern: 'sequential', count: 256, requestBytes: 4096, spanBytes: 1 << 30 });
  const rnd = patternTrace({ pattern: 'random', count: 256, requestBytes: 4096, spanBytes: 1 << 30, seed: 9 });
  const fs = windowFeatures(seq, 0, 256, 128);
  const fr = windowFeatures(rnd, 0, 256, 128);
  assert.equal(fs.length, FEATURE_NAMES.length);
  assert.equal(fs[0], 8, 'log2 of 256 transactions');
  assert.equal(fs[5], 1, 'every sequential request follows the previous one');
  assert.equal(fs[2], 1, 'mean page delta 1 -> log2(2)');
  assert.ok(fr[5]! < 0.05);
  assert.ok(fr[1]! > 0.2 && fr[1]! < 0.35, `uniform random normalised std ~0.29: ${fr[1]}`);
  assert.ok(fr[2]! > 10);
});

test('the shipped model picks large readahead for streams and the small class for random reads', async () => {
  const m = await LearnedReadahead.load();
  const seq = m.suggest(patternTrace({ pattern: 'sequential', count: 1024, requestBytes: 4096, spanBytes: 2 ** 32 }));
  assert.ok(seq.readAheadKb >= 512, `sequential 4 KiB: ${seq.readAheadKb}`);
  const rnd = m.suggest(patternTrace({ pattern: 'random', count: 1024, requestBytes: 4096, spanBytes: 2 ** 32, seed: 4 }));
  assert.equal(rnd.readAheadKb, 16);
  assert.ok(m.meta.metrics.testAccuracy! > 0.7, `held-out accuracy recorded: ${m.meta.metrics.testAccuracy}`);
});

test('save/load round trip keeps the predictions; a missing model is a clear error', async () => {
  const m = await LearnedReadahead.load();
  const dir = tempDir('ssdtune-ra-model-');
  try {
    await m.save(dir);
    const again = await LearnedReadahead.load(dir);
    const feats = [windowFeatures(patternTrace({ pattern: 'strided', count: 256, requestBytes: 16384, strideBytes: 65536, spanBytes: 2 ** 32 }), 0, 256, 128)];
    const a = m.probabilities(feats)[0]!;
    const b = again.probabilities(feats)[0]!;
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
    await assert.rejects(LearnedReadahead.load(path.join(dir, 'nothing-here')), (e) => isSsdtuneError(e, 'SSDTUNE_NOT_FOUND'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
