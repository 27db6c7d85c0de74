/**
 * The native addons carry the stamp of the sources they were built from
 * (scripts/native-stamp.cjs, compiled in by binding.gyp), and src/native.ts
 * refuses one built from other sources with a coded error. The case it is
 * for: new native code pulled into a checkout whose build/ is older, which
 * `npm ci` keeps (node-gyp-build loads any existing build). Here a copy of
 * the checkout, with the real addons this checkout built, gets a native
 * source changed after the build, as a pull does; and an addon from before
 * the stamp existed (a real addon without one) takes the main addon's place.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT as ROOT, featureStatus, native, nativeFeature } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';

const require = createRequire(import.meta.url);
const { sourceStamp } = require(path.join(ROOT, 'scripts', 'native-stamp.cjs')) as { sourceStamp(root: string): string };
const FEATURES = ['ebpf', 'uring'] as const;

test('every addon built here carries the stamp of the sources beside it', () => {
  const want = sourceStamp(ROOT);
  assert.match(want, /^[0-9a-f]{16}$/);
  assert.equal(native().sourceStamp, want);
  for (const f of FEATURES) {
    const st = featureStatus(f);
    assert.doesNotMatch(st.detail, /other native sources/, `${f}: ${st.detail}`);
    if (st.available) assert.equal(nativeFeature(f).sourceStamp, want, f);
  }
});

/** A copy of what loading the addons needs: the loader, the sources it hashes, and this checkout's build. */
function checkout(): string {
  const dir = tempDir('ssdtune-stamp-');
  for (const f of ['package.json', 'binding.gyp', 'scripts/native-stamp.cjs', 'native/src', 'native/bpf', 'dist/src/native.js', 'dist/src/errors.js'])
    cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  mkdirSync(path.join(dir, 'build', 'Release', 'features'), { recursive: true });
  for (const f of ['ssdtune_native.node', ...FEATURES.map((x) => `features/ssdtune_${x}.node`)])
    if (existsSync(path.join(ROOT, 'build', 'Release', f))) cpSync(path.join(ROOT, 'build', 'Release', f), path.join(dir, 'build', 'Release', f));
  return dir;
}

interface Outcome {
  code?: string;
  message?: string;
  stamp?: string;
}
interface Loaded {
  main: Outcome;
  features: Record<string, Outcome & { available: boolean; fix: string }>;
}

/** Loads the copy's addons through its own src/native.ts, in a process of its own (addons stay loaded). */
function load(dir: string): Loaded {
  const script = `
    const m = await import(${JSON.stringify(path.join(dir, 'dist', 'src', 'native.js'))});
    const outcome = (f) => { try { return { stamp: f().sourceStamp }; } catch (e) { return { code: e.code, message: e.message }; } };
    const features = {};
    for (const f of ${JSON.stringify(FEATURES)}) {
      const st = m.featureStatus(f);
      features[f] = { ...(st.available || /other native sources/.test(st.detail) ? outcome(() => m.nativeFeature(f)) : {}), available: st.available, fix: st.fix };
    }
    console.log(JSON.stringify({ main: outcome(() => m.native()), features }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Loaded;
}

test('an addon built from other sources than those beside it is refused with SSDTUNE_NATIVE_STALE, naming the file and the fix', () => {
  const dir = checkout();
  const built = sourceStamp(ROOT);
  // Control: the copy as built loads, so what follows fails for the stamp alone.
  const fresh = load(dir);
  assert.deepEqual(fresh.main, { stamp: built });
  for (const f of FEATURES) if (fresh.features[f]!.available) assert.deepEqual(fresh.features[f]!.stamp, built, f);

  // A pull brings a newer native source; the build stays as it was.
  appendFileSync(path.join(dir, 'native', 'src', 'addon.cc'), '// a change pulled after the build\n');
  const now = sourceStamp(dir);
  assert.notEqual(now, built);
  const stale = load(dir);
  const file = path.join(dir, 'build', 'Release', 'ssdtune_native.node');
  assert.equal(stale.main.code, 'SSDTUNE_NATIVE_STALE', JSON.stringify(stale.main));
  assert.equal(
    stale.main.message,
    `native addon ${file} was built from other native sources (stamp ${built}) than those beside it (stamp ${now}): run \`npm run build:native\``,
  );
  for (const f of FEATURES) {
    if (!existsSync(path.join(dir, 'build', 'Release', 'features', `ssdtune_${f}.node`))) continue;
    const s = stale.features[f]!;
    assert.equal(s.available, false, f);
    assert.equal(s.fix, 'npm run build:native', f);
    assert.equal(s.code, 'SSDTUNE_NATIVE_STALE', `${f}: ${JSON.stringify(s)}`);
    assert.ok(s.message!.includes(path.join('features', `ssdtune_${f}.node`)), s.message);
  }
});

test('an addon from before the stamp (no sourceStamp export) is refused the same way', () => {
  const dir = checkout();
  // A real addon without the export in the main addon's place: classic-level's, as node-gyp-build picks it here.
  const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  const old = gypBuild.resolve(path.dirname(require.resolve('classic-level/package.json')));
  cpSync(old, path.join(dir, 'build', 'Release', 'ssdtune_native.node'));
  const r = load(dir).main;
  assert.equal(r.code, 'SSDTUNE_NATIVE_STALE', JSON.stringify(r));
  assert.match(r.message!, /ssdtune_native\.node was built from other native sources \(stamp none\) than those beside it .*npm run build:native/);
});
