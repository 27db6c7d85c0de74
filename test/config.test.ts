/**
 * Settings: layers merge deeply, every tune setting has an environment
 * variable, bad values name their source; progress reporting in log lines
 * when stderr is not a terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { loadSettings, mergeDeep } from '../src/config.js';
import { isSsdtuneError } from '../src/errors.js';
import { resolveTuneArgs } from '../src/service/tune-spec.js';
import { formatDuration, progressReporter } from '../src/cli/progress.js';
import { tempDir } from '../src/util/temp-dir.js';
import { intOption } from '../src/cli/options.js';

/** Runs fn with the environment variables set (and restores them). */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

const TUNE_ENV = [
  'SSDTUNE_SPACE',
  'SSDTUNE_BUDGET',
  'SSDTUNE_SEED',
  'SSDTUNE_SEARCHER',
  'SSDTUNE_BATCH',
  'SSDTUNE_REPLAY',
  'SSDTUNE_LBA_POLICY',
  'SSDTUNE_SCREEN_FRACTION',
  'SSDTUNE_DEVICE',
  'SSDTUNE_PROGRESS',
  'SSDTUNE_SIM_PRECONDITION',
  'SSDTUNE_EVALUATOR',
  'SSDTUNE_CONFIG',
  'SSDTUNE_PORT',
];
const usage = (re: RegExp) => (e: unknown) => isSsdtuneError(e, 'SSDTUNE_USAGE') && re.test((e as Error).message);
const clean = Object.fromEntries(TUNE_ENV.map((k) => [k, undefined]));

function dataDirWith(config: unknown): string {
  const dir = tempDir('ssdtune-config-');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

test('mergeDeep: objects field by field, everything else replaced, undefined skipped', () => {
  assert.deepEqual(mergeDeep({ a: 1, s: { x: 1, y: 2 }, l: [1, 2] }, { s: { y: 3 }, l: [9] }, { a: undefined, s: { z: 4 } }), {
    a: 1,
    s: { x: 1, y: 3, z: 4 },
    l: [9],
  });
});

test('settings merge deeply: SSDTUNE_SIM_PRECONDITION=0 no longer drops lbaPolicy from config.json', () => {
  // The older place of lbaPolicy (ssdsim.lbaPolicy) and the tune section both survive an environment override of ssdsim.
  const dir = dataDirWith({ ssdsim: { lbaPolicy: 'modulo', preconditionAge: 2 }, tune: { budget: 12 } });
  const s = withEnv({ ...clean, SSDTUNE_SIM_PRECONDITION: '0' }, () => loadSettings({ dataDir: dir }));
  assert.deepEqual(s.ssdsim, { preconditionAge: 2, preconditionFill: 0 });
  assert.equal(s.tune.lbaPolicy, 'modulo');
  assert.equal(s.tune.budget, 12);
  const spec = resolveTuneArgs({}, s).spec;
  assert.equal(spec.lbaPolicy, 'modulo', "the ssd space's evaluator gets it");
  assert.equal(spec.budget, 12);
  // An evaluator that maps no addresses does not get a default it would refuse.
  assert.equal(resolveTuneArgs({ space: 'host' }, s).spec.lbaPolicy, undefined);
});

test('every tune setting has an environment variable; flags (request fields) win over them', () => {
  const dir = dataDirWith({ tune: { budget: 50, searcher: 'random' } });
  const s = withEnv(
    {
      ...clean,
      SSDTUNE_SPACE: 'host',
      SSDTUNE_BUDGET: '7',
      SSDTUNE_SEED: '42',
      SSDTUNE_SEARCHER: 'learnedssd',
      SSDTUNE_BATCH: '4',
      SSDTUNE_REPLAY: 'scaled:10',
      SSDTUNE_SCREEN_FRACTION: '0.25',
      SSDTUNE_PROGRESS: 'log',
    },
    () => loadSettings({ dataDir: dir }),
  );
  assert.equal(s.progress, 'log');
  // A screen is the adaptive search's: the environment's learnedssd with its screen is refused as a pair.
  assert.throws(
    () => resolveTuneArgs({}, s),
    (e) => isSsdtuneError(e, 'SSDTUNE_USAGE') && /screenFraction 0\.25 .*the learnedssd searcher cannot screen/.test((e as Error).message),
  );
  assert.equal(resolveTuneArgs({ searcher: 'adaptive' }, s).spec.screenFraction, 0.25);
  const spec = resolveTuneArgs({ screenFraction: 1 }, s).spec;
  assert.deepEqual(
    {
      space: spec.space,
      evaluator: spec.evaluator,
      budget: spec.budget,
      seed: spec.seed,
      searcher: spec.searcher,
      batch: spec.batch,
      replay: spec.replay,
      screenFraction: spec.screenFraction,
    },
    {
      space: 'host',
      evaluator: 'readahead-model',
      budget: 7,
      seed: 42,
      searcher: 'learnedssd',
      batch: 4,
      replay: { mode: 'scaled', speedup: 10 },
      screenFraction: 1,
    },
  );
  const flags = resolveTuneArgs({ budget: 9, searcher: 'adaptive', batch: 1, replay: { mode: 'recorded' } }, s).spec;
  assert.deepEqual([flags.budget, flags.searcher, flags.batch, flags.replay], [9, 'adaptive', 1, { mode: 'recorded' }]);
  // SSDTUNE_LBA_POLICY reaches the ssd space.
  const ssd = withEnv({ ...clean, SSDTUNE_LBA_POLICY: 'modulo' }, () => loadSettings({ dataDir: dir }));
  assert.equal(resolveTuneArgs({ space: 'ssd' }, ssd).spec.lbaPolicy, 'modulo');
});

test('bad settings are usage errors naming the variable, or the file and field', () => {
  const dir = dataDirWith({});
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_BUDGET: 'lots' }, () => loadSettings({ dataDir: dir })),
    usage(/SSDTUNE_BUDGET=lots: expected an integer >= 2/),
  );
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_LBA_POLICY: 'wrap' }, () => loadSettings({ dataDir: dir })),
    usage(/SSDTUNE_LBA_POLICY=wrap: expected one of reject, modulo/),
  );
  assert.throws(() => withEnv({ ...clean, SSDTUNE_SCREEN_FRACTION: '0' }, () => loadSettings({ dataDir: dir })), usage(/SSDTUNE_SCREEN_FRACTION=0/));
  assert.throws(() => withEnv({ ...clean, SSDTUNE_PROGRESS: 'loud' }, () => loadSettings({ dataDir: dir })), usage(/SSDTUNE_PROGRESS=loud/));
  const bad = dataDirWith({ tune: { batch: 0 } });
  assert.throws(() => withEnv(clean, () => loadSettings({ dataDir: bad })), usage(/config\.json: field tune\.batch: expected an integer >= 1/));
  const badSim = dataDirWith({ ssdsim: { lbaPolicy: 'sometimes' } });
  assert.throws(() => withEnv(clean, () => loadSettings({ dataDir: badSim })), usage(/field ssdsim\.lbaPolicy: expected "reject" or "modulo"/));
  // The simulator's preconditioning: a misspelt field used to simulate a fresh drive silently, a negative fill was
  // taken as 0, and an age of 1e12 preconditioned for ever.
  for (const [sim, re] of [
    [{ precondtionFill: 0.5 }, /field ssdsim\.precondtionFill: expected none such: ssdsim takes preconditionFill and preconditionAge/],
    [{ preconditionFill: -1 }, /field ssdsim\.preconditionFill: expected a number in \[0, 1\]/],
    [{ preconditionFill: 'lots' }, /field ssdsim\.preconditionFill: expected a number in \[0, 1\]/],
    [{ preconditionFill: 0.01, preconditionAge: 1e12 }, /field ssdsim\.preconditionAge: expected a number in \[0, 100\]/],
  ] as const)
    assert.throws(() => withEnv(clean, () => loadSettings({ dataDir: dataDirWith({ ssdsim: sim }) })), usage(re), JSON.stringify(sim));
  assert.deepEqual(withEnv(clean, () => loadSettings({ dataDir: dataDirWith({ ssdsim: { preconditionFill: 1, preconditionAge: 100 } }) })).ssdsim, {
    preconditionFill: 1,
    preconditionAge: 100,
  });
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_SIM_PRECONDITION: 'yes' }, () => loadSettings({ dataDir: dir })),
    usage(/SSDTUNE_SIM_PRECONDITION=yes: expected one of 0, 1/),
  );
  assert.throws(() => withEnv({ ...clean, SSDTUNE_PORT: 'abc' }, () => loadSettings({ dataDir: dir })), usage(/SSDTUNE_PORT=abc: expected an integer >= 0/));
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_PORT: '99999' }, () => loadSettings({ dataDir: dir })),
    usage(/port \(--port, SSDTUNE_PORT or config\.json "port"\) must be an integer in 0\.\.65535, got 99999/),
  );
  // Numeric flags name the text given, not NaN.
  assert.throws(() => intOption('port', 0, 65535)('abc'), usage(/--port must be an integer in 0\.\.65535, got "abc"/));
  assert.throws(() => intOption('budget', 2)(''), usage(/--budget must be an integer >= 2, got ""/));
  assert.equal(intOption('port', 0, 65535)('7411'), 7411);
  // A searcher or replay the request schema refuses is named as coming from the settings.
  const s = withEnv({ ...clean, SSDTUNE_SEARCHER: 'bayes' }, () => loadSettings({ dataDir: dir }));
  assert.throws(
    () => resolveTuneArgs({}, s),
    usage(/tune settings \(SSDTUNE_\* environment, config\.json "tune"\): searcher must be equal to one of the allowed values: adaptive, learnedssd, /),
  );
  const r = withEnv({ ...clean, SSDTUNE_REPLAY: 'fast' }, () => loadSettings({ dataDir: dir }));
  assert.throws(
    () => resolveTuneArgs({}, r),
    usage(/SSDTUNE_REPLAY \(or config\.json "tune\.replay"\): expected recorded, scaled:<speedup> or closed:<queueDepth>, got "fast"/),
  );
  // An evaluator no space has is a typo, refused; one of the other space is passed over, as the setting serves both.
  const typo = withEnv({ ...clean, SSDTUNE_EVALUATOR: 'ssdsm' }, () => loadSettings({ dataDir: dir }));
  assert.throws(() => resolveTuneArgs({}, typo), usage(/evaluator \(SSDTUNE_EVALUATOR or config\.json "evaluator"\) must be one of ssdsim, .*got "ssdsm"/));
  const other = withEnv({ ...clean, SSDTUNE_EVALUATOR: 'readahead-model' }, () => loadSettings({ dataDir: dir }));
  assert.equal(resolveTuneArgs({ space: 'ssd' }, other).spec.evaluator, 'ssdsim');
  assert.equal(resolveTuneArgs({ space: 'host' }, other).spec.evaluator, 'readahead-model');
  // A config file named explicitly must exist: a typo in its path would silently run on the defaults.
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_CONFIG: path.join(dir, 'nosuch.json') }, () => loadSettings({ dataDir: dir })),
    usage(/SSDTUNE_CONFIG=.*nosuch\.json: no such file/),
  );
});

/** A writable that collects what is written, with a settable isTTY. */
test('config.json: a port written as 1e400 is echoed as not finite, not as null', () => {
  const dir = tempDir('ssdtune-config-');
  writeFileSync(path.join(dir, 'config.json'), '{"port": 1e400}');
  assert.throws(
    () => withEnv({ ...clean, SSDTUNE_PORT: undefined }, () => loadSettings({ dataDir: dir })),
    usage(
      /config\.json "port"\) must be an integer in 0\.\.65535, got Infinity \(not finite: JSON reads a number beyond ±1\.8e308, such as 1e400, as infinite\)/,
    ),
  );
});

function sink(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  (w as { isTTY: boolean }).isTTY = isTTY;
  return { stream: w, text: () => chunks.join('') };
}

test('progress: log lines (phase, evaluations, best grade, ETA) when not a terminal, a bar when it is, nothing with none', () => {
  let t = 0;
  const now = () => t;
  const log = sink(false);
  const p = progressReporter('tune', { stream: log.stream, now, logEveryMs: 10_000 });
  p.update(0, 30, { phase: 'characterising' });
  t = 4000;
  p.update(0, 30, { phase: 'search', unit: 'evaluations' });
  for (let i = 1; i <= 30; i++) {
    t += 1000;
    p.update(i, 30, { phase: 'search', best: i / 100, unit: 'evaluations' });
  }
  p.done();
  const lines = log.text().trim().split('\n');
  assert.equal(lines[0], 'tune: characterising 0/30, 0s elapsed');
  assert.equal(lines[1], 'tune: search 0/30 evaluations, 4s elapsed');
  // One line per 10 s within the phase, the ETA from the phase's pace (1 evaluation a second).
  assert.equal(lines[2], 'tune: search 10/30 evaluations, best grade 0.100, 14s elapsed, ETA 20s');
  assert.ok(lines.length <= 6, lines.join('\n'));
  assert.equal(lines.at(-1), 'tune: search 30/30 evaluations, best grade 0.300, 34s elapsed');
  assert.ok(!log.text().includes('\r'));

  const tty = sink(true);
  const bar = progressReporter('tune', { stream: tty.stream, now });
  bar.update(3, 10, { phase: 'search', best: 0.5 });
  bar.done();
  assert.match(tty.text(), /\r\x1b\[K\[#+\.+\] tune: search 3\/10, best grade 0\.500/);

  const none = sink(false);
  const quiet = progressReporter('tune', { stream: none.stream, mode: 'none' });
  quiet.update(1, 2, { phase: 'search' });
  quiet.done();
  assert.equal(none.text(), '');
  // A short job without phases says nothing in log mode.
  const short = sink(false);
  const s2 = progressReporter('analyze', { stream: short.stream, now });
  s2.update(1, 2);
  s2.update(2, 2);
  s2.done();
  assert.equal(short.text(), '');
  assert.deepEqual([formatDuration(59_400), formatDuration(61_000), formatDuration(7_380_000)], ['59s', '1m01s', '2h03m']);
});

test('tune from a script: progress arrives as log lines on stderr, the result on stdout', () => {
  const dataDir = tempDir('ssdtune-progress-');
  const r = spawnSync(
    process.execPath,
    [path.resolve('dist/src/cli/main.js'), 'tune', '--data-dir', dataDir, '--space', 'host', '--budget', '5', path.resolve('traces/mqsim_wsrch-small.trace')],
    {
      encoding: 'utf8',
      env: { ...process.env, ...Object.fromEntries(TUNE_ENV.map((k) => [k, ''])), SSDTUNE_PROGRESS: 'log' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^tune: characterising 0\/5, \d+s elapsed$/m);
  assert.match(r.stderr, /^tune: search \d\/5 evaluations(, best grade \d\.\d{3})?, \d+s elapsed/m);
  assert.match(r.stdout, /^search {6}adaptive, 5 evaluations/m);
});

test("tune's numeric flags refuse what is not a number: a NaN passes a schema's bounds and turned the screen off", () => {
  const dataDir = tempDir('ssdtune-flags-');
  for (const [flag, text] of [
    ['--screen-fraction', 'x'],
    ['--screen-fraction', 'NaN'],
    ['--budget', 'ten'],
    ['--seed', ''],
    ['--confirm-rounds', 'many'],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [path.resolve('dist/src/cli/main.js'), 'tune', '--data-dir', dataDir, flag, text, path.resolve('traces/msr_hm_0_sample1000.csv')],
      {
        encoding: 'utf8',
        env: { ...process.env, ...Object.fromEntries(TUNE_ENV.map((k) => [k, ''])), SSDTUNE_PROGRESS: 'none' },
      },
    );
    assert.equal(r.status, 2, `${flag} ${text}: ${r.stderr}${r.stdout}`);
    assert.equal(r.stderr, `ssdtune: ${flag} must be a number, got "${text}" [SSDTUNE_USAGE]\n`);
  }
});
