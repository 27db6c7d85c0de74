/**
 * What the CLI prints for people, checked as a new user meets it: `db list`
 * on an empty ConfDB and as a table, `tune` on an empty ConfDB (no "distance
 * ∞"), its chosen values as a diff against the baseline they were graded on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../src/util/temp-dir.js';
import { killAtExit } from '../src/util/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');
const WSRCH = path.resolve('traces/mqsim_wsrch-small.trace');
const ENV = { ...process.env, SSDTUNE_SERVER: '' };

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { env: ENV, encoding: 'utf8' });
}

test('db list and tune talk to people: empty kinds said, tables with headers and units, values as a diff against the baseline', { timeout: 300_000 }, () => {
  const dataDir = tempDir('ssdtune-cli-output-');
  const db = ['--data-dir', dataDir];
  try {
    // An empty ConfDB: every kind says so, --json gives an empty array.
    for (const kind of ['workloads', 'configs', 'devices', 'pins']) {
      const r = run('db', 'list', kind, ...db);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^no ${kind} stored yet`), kind);
    }
    assert.deepEqual(JSON.parse(run('db', 'list', 'workloads', ...db, '--json').stdout), []);
    assert.equal(run('db', 'list', 'configs', ...db, '--limit', '0').status, 2, '--limit 0 is a usage error');

    // The first tune meets an empty ConfDB: no distance to give, and no bare cluster ids.
    const first = run('tune', ...db, '--space', 'host', '--budget', '4', WSRCH);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /— new: no workloads stored yet/);
    assert.doesNotMatch(first.stdout, /∞|Infinity|clusters/);

    // Asked again it is known; the JSON carries the baseline the text diffs against.
    const again = JSON.parse(run('tune', ...db, '--space', 'host', '--budget', '4', '--json', WSRCH).stdout) as {
      source: string;
      config: { values: Record<string, unknown> };
      baseline: Record<string, unknown>;
    };
    assert.equal(again.source, 'confdb');
    assert.ok(again.baseline && Object.keys(again.baseline).length > 0, 'the result names its baseline');
    const changed = Object.keys(again.baseline).filter((k) => String(again.config.values[k]) !== String(again.baseline[k]));
    if (changed.length === 0) {
      assert.match(first.stdout, /values {6}the baseline's: no parameter changed/);
    } else {
      assert.match(first.stdout, new RegExp(`values {6}${changed.length} of ${Object.keys(again.baseline).length} parameters differ from the baseline:`));
      for (const k of changed) assert.match(first.stdout, new RegExp(`^ {14}${k} +${again.baseline[k]} -> ${again.config.values[k]}$`, 'm'), k);
    }
    const known = run('tune', ...db, '--space', 'host', '--budget', '4', WSRCH);
    assert.match(known.stdout, /— known \(the same trace as before\)/);

    // Tables: a header and its rule, workloads by name, sizes in binary units.
    const configs = run('db', 'list', 'configs', ...db).stdout.split('\n');
    assert.match(configs[0]!, /^id +space +workload +evaluator +grade +created$/);
    assert.match(configs[1]!, /^-+( +-+)+$/);
    assert.match(configs[2]!, /host +mqsim_wsrch-small\.trace +readahead-model +-?\d\.\d{3} +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    const traces = run('db', 'list', 'traces', ...db).stdout;
    assert.match(traces, /^id +name +format +size +added +by$/m);
    assert.match(traces, /mqsim_wsrch-small\.trace +mqsim +668 KiB/);
    const evals = run('db', 'list', 'evaluations', ...db, '--limit', '2')
      .stdout.trimEnd()
      .split('\n');
    assert.equal(evals.length, 5, 'header, rule, two rows, and the note that there are more');
    assert.match(evals[4]!, /the first 2; --limit N shows more/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('output piped into a reader that stops early (| head): the end of a Unix tool (SIGPIPE, 141 in a shell), no EPIPE stack trace', async () => {
  // An exit 0 told a pipeline (`set -o pipefail`) that the whole output was read; cat, seq and blkparse die of SIGPIPE.
  const dataDir = tempDir('ssdtune-cli-pipe-');
  try {
    for (const args of [
      ['analyze', path.resolve('traces/msr_hm_0_sample1000.csv')],
      ['analyze', path.resolve('traces/msr_hm_0_sample1000.csv'), '--report', '-'],
      ['db', 'export', '-', '--data-dir', dataDir],
      ['verify', '--help'],
    ]) {
      const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], cwd: dataDir });
      killAtExit(child);
      // The reader is gone before the command writes its first line: every write meets a closed pipe.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      assert.deepEqual({ code, signal }, { code: null, signal: 'SIGPIPE' }, `ssdtune ${args.join(' ')}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|Error|\n\s+at /);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('"-" is standard output wherever an output file is taken: analyze --report - prints the HTML and moves the text report to stderr', () => {
  // It wrote a file named "-" in the working directory, and db export had a way of its own to write "-".
  const dir = tempDir('ssdtune-cli-dash-');
  try {
    const r = spawnSync(process.execPath, [CLI, 'analyze', path.resolve('traces/msr_hm_0_sample1000.csv'), '--report', '-'], {
      env: ENV,
      encoding: 'utf8',
      cwd: dir,
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^<!DOCTYPE html>/i);
    assert.match(r.stdout, /<\/html>\s*$/i);
    assert.match(r.stderr, /requests/, 'the text report, on stderr');
    assert.doesNotMatch(r.stderr, /report written to/);
    assert.deepEqual(readdirSync(dir), [], 'no file named "-"');

    const exp = spawnSync(process.execPath, [CLI, 'db', 'export', '-', '--data-dir', path.join(dir, 'db')], { env: ENV, encoding: 'utf8', cwd: dir });
    assert.equal(exp.status, 0, exp.stderr);
    assert.match(exp.stdout, /^\{"ssdtune-confdb":1/);
    assert.match(exp.stdout, /\{"ssdtune-confdb-end":\{/);
    assert.match(exp.stderr, /^exported to -: /, 'the summary, on stderr');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live tune with a device it could not replay on: refused before the trace is read, worded with the flag', () => {
  const dataDir = tempDir('ssdtune-cli-device-');
  const db = ['--data-dir', dataDir];
  try {
    const r = run('tune', ...db, '--space', 'host', '--evaluator', 'live', '--device', '/dev/null', '--budget', '2', WSRCH);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /^ssdtune: --device: \/dev\/null: not a block device .*\[SSDTUNE_DEVICE\]$/m);
    const json = run('tune', ...db, '--space', 'host', '--evaluator', 'live', '--device', '/dev/null', '--budget', '2', '--json', WSRCH);
    assert.match(JSON.parse(json.stderr).error.message, /^--device: \/dev\/null: not a block device/);
    const unused = run('tune', ...db, '--device', '/dev/null', '--budget', '2', WSRCH);
    assert.equal(unused.status, 2, unused.stderr);
    assert.match(unused.stderr, /^ssdtune: --device: the ssdsim evaluator works from the trace alone: a device does not apply to it/m);
    // Refused before anything was written: not even the trace's record.
    assert.match(run('db', 'list', 'traces', ...db).stdout, /^no traces stored yet/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
