/**
 * The npm package as a user installs it: `npm pack` (its prepack builds
 * dist/ and the prebuilt binaries), `npm install -g --prefix TMP` of the
 * tarball, then the installed `ssdtune` analyzes a trace and serves the API
 * and the dashboard from there. The install compiles nothing: the prebuilt
 * addons load (no build/ directory appears in the installed package).
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT as ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';
import { killAtExit } from '../src/util/cleanup.js';

describe('the packed tarball, installed into a temporary prefix', { timeout: 20 * 60_000 }, () => {
  let dir: string;
  let tarball: string;
  let prefix: string;
  let pkgDir: string;
  let bin: string;
  let files: string[];
  before(() => {
    dir = tempDir('ssdtune-package-');
    // What npm's children leave in $TMPDIR (prebuildify's cache, core-js's banner list) goes with `dir`.
    const env = { ...process.env, TMPDIR: path.join(dir, 'tmp') };
    mkdirSync(env.TMPDIR);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    ) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(dir, packed[0]!.filename);
    files = packed[0]!.files.map((f) => f.path);
    prefix = path.join(dir, 'prefix');
    // --prefer-offline: the dependencies come from npm's cache when `npm ci` filled it
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    pkgDir = path.join(prefix, 'lib', 'node_modules', 'ssdtune');
    bin = path.join(prefix, 'bin', 'ssdtune');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships what runs, not the repository', () => {
    for (const f of [
      'dist/src/cli/main.js',
      'dist/src/api/dashboard/index.html',
      'models/similarity/model.json',
      'binding.gyp',
      'scripts/build-bpf.sh',
      'scripts/native-stamp.cjs',
      'native/bpf/biotrace.bpf.c',
    ])
      assert.ok(files.includes(f), `${f} is in the package`);
    assert.ok(
      files.some((f) => /^prebuilds\/linux-[^/]+\/ssdtune\..*node$/.test(f)),
      'the prebuilt main addon',
    );
    for (const feature of ['ebpf', 'uring'])
      assert.ok(
        files.some((f) => new RegExp(`^prebuilds/linux-[^/]+/features/ssdtune_${feature}\\.node$`).test(f)),
        `the prebuilt ${feature} addon`,
      );
    // Only what runs or documents: an allow-list, so that a new top-level folder is a decision, not an accident.
    const shipped =
      /^(dist\/src\/|native\/(src|bpf)\/|prebuilds\/|models\/|docs\/|man\/|contrib\/|scripts\/(build-bpf\.sh|native-stamp\.cjs)$|binding\.gyp$|package\.json$|README\.md$|LICENSE$)/;
    for (const f of files) assert.ok(shipped.test(f), `${f} should not be shipped`);
    // No stale compiled module (a moved or deleted source still shipped from an old dist/): each is built from a source.
    for (const f of files.filter((x) => /^dist\/src\/.*\.js$/.test(x)))
      assert.ok(existsSync(path.join(ROOT, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${f} has no source`);
  });

  it('installs without compiling and runs `ssdtune analyze`', () => {
    assert.ok(existsSync(bin), `${bin} exists`);
    assert.equal(existsSync(path.join(pkgDir, 'build')), false, 'the prebuilt addon was used, nothing compiled');
    const r = spawnSync(bin, ['analyze', '--json', path.join(ROOT, 'traces', 'msr_hm_0_sample1000.csv')], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { traces: { stats: { requests: number } }[] };
    assert.equal(report.traces[0]!.stats.requests, 1000);
    const doctor = JSON.parse(spawnSync(bin, ['doctor', '--json'], { encoding: 'utf8' }).stdout) as {
      features: { feature: string; available: boolean; detail: string }[];
    };
    for (const f of doctor.features) assert.ok(f.available || f.detail.length > 0, `${f.feature}: available or says why`);
  });

  it('runs `ssdtune serve`: health and the dashboard answer', async () => {
    const data = path.join(dir, 'data');
    const child = spawn(bin, ['serve', '--data-dir', data, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    killAtExit(child); // a finally does not run on a signal or a throw from a timer (util/cleanup.ts)
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /serving (http:\/\/\S+?)\s/.exec(err);
          if (m) resolve(m[1]!.replace(/\/$/, ''));
        });
        child.once('exit', (c) => reject(new Error(`serve exited with ${c}: ${err}`)));
      });
      const health = await fetch(`${url}/v1/health`);
      assert.equal(health.status, 200);
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
