/**
 * The similarity model's three files are saved as one set: a save that fails part way (a real full file system, a
 * small tmpfs this test mounts) leaves the previous model loadable, whole; a save over an older layout (the three
 * files in the directory itself, as the bundled model is) replaces it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isSsdtuneError } from '../src/errors.js';
import {
  loadSimilarityInfo,
  loadSimilarityModel,
  META_FILE,
  MODEL_FILE,
  saveSimilarityModel,
  SET_POINTER,
  WEIGHTS_FILE,
  type SimilarityModel,
} from '../src/ml/model-io.js';
import { tempDir } from '../src/util/temp-dir.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const BUNDLED = path.resolve('models/similarity');

/** Another model: the bundled one with other metadata (`pad` characters of training notes make its set larger). */
function another(m: SimilarityModel, pad = 0): SimilarityModel {
  return { ...m, meta: { ...m.meta, seed: m.meta.seed + 1, training: { ...m.meta.training, note: 'x'.repeat(pad) } } };
}

test('a save over the older layout (the files in the directory itself) replaces it with a set and its pointer', async () => {
  const dir = tempDir('ssdtune-model-save-');
  try {
    for (const f of [MODEL_FILE, WEIGHTS_FILE, META_FILE]) copyFileSync(path.join(BUNDLED, f), path.join(dir, f));
    const m = await loadSimilarityModel(dir);
    const next = another(m);
    await saveSimilarityModel(dir, next);
    const names = readdirSync(dir).sort();
    assert.equal(names.length, 2, names.join(' '));
    assert.equal(names[0], SET_POINTER);
    assert.match(names[1]!, /^set-[0-9a-f]{16}$/);
    const loaded = await loadSimilarityModel(dir);
    assert.equal(loaded.meta.seed, m.meta.seed + 1);
    assert.notEqual(loaded.id, m.id);
    // Saved again: the new set replaces the one before; the model is the same, and so is its fingerprint.
    await saveSimilarityModel(dir, next);
    assert.equal(readdirSync(dir).length, 2);
    assert.equal(loadSimilarityInfo(dir).id, loaded.id);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a save that runs out of space part way leaves the previous model loadable, whole, and no partial set',
  { skip: isRoot ? undefined : 'mounting a small tmpfs needs root' },
  async () => {
    const mnt = tempDir('ssdtune-model-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const out = path.join(mnt, 'model');
      const m = await loadSimilarityModel(BUNDLED);
      await saveSimilarityModel(out, m);
      const before = loadSimilarityInfo(out).id;
      assert.equal(before, m.id, 'saved as loaded: the same three files');
      // Fill the file system in 4 KiB pieces, then free 32 KiB: room for part of a model, not for all of it. The new
      // one's metadata is 64 KiB larger, so even the older in-place save, which reuses its files' space, runs out.
      const fill = path.join(mnt, 'fill');
      const pieces: string[] = [];
      try {
        for (let i = 0; ; i++) {
          const f = `${fill}-${i}`;
          writeFileSync(f, Buffer.alloc(4096, 1));
          pieces.push(f);
        }
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC', String(e));
      }
      for (const f of pieces.splice(-9)) rmSync(f, { force: true });
      await assert.rejects(saveSimilarityModel(out, another(m, 64 << 10)), (e) => {
        assert.ok(isSsdtuneError(e, 'SSDTUNE_MODEL_WRITE'), String(e));
        assert.match((e as Error).message, /ENOSPC/);
        return true;
      });
      const after = await loadSimilarityModel(out);
      assert.equal(after.id, before, 'the previous model, whole');
      assert.equal(after.meta.seed, m.meta.seed);
      assert.deepEqual(
        readdirSync(out).filter((n) => n.includes('partial') || n.startsWith('.')),
        [],
        'no partial set or pointer left',
      );
      // With room again, the new model saves and replaces the old one.
      for (const f of pieces) rmSync(f, { force: true });
      await saveSimilarityModel(out, another(m, 64 << 10));
      assert.equal((await loadSimilarityModel(out)).meta.seed, m.meta.seed + 1);
      assert.equal(readdirSync(out).length, 2);
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  },
);

test('a pointer naming no set is a coded corruption error naming it', async () => {
  const dir = tempDir('ssdtune-model-pointer-');
  try {
    writeFileSync(path.join(dir, SET_POINTER), '{"set": "../../etc"}\n');
    await assert.rejects(
      loadSimilarityModel(dir),
      (e) => isSsdtuneError(e, 'SSDTUNE_MODEL_CORRUPT') && (e as Error).message.includes(path.join(dir, SET_POINTER)),
    );
    assert.ok(!existsSync(path.join(dir, 'model.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
