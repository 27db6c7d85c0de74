/**
 * Confirming a measured evaluator's best against the baseline before it is
 * kept (src/search/confirm.ts): the t quantiles against scipy, the bound and
 * the alternating order on a real (deterministic) evaluator, and a live tune
 * on a loop device whose stored result is the confirmation's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CONFIRM_ROUNDS, T95, confirmGain, summarise } from '../src/search/confirm.js';
import { grade } from '../src/search/grade.js';
import { ReadaheadModelEvaluator } from '../src/evaluators/readahead/readahead-model.js';
import { patternWorkload } from '../src/evaluators/readahead/workloads.js';
import type { Evaluator } from '../src/evaluators/types.js';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readAttr } from '../src/blockdev/sysfs.js';
import { PROJECT_ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';
import { readaheadOffWithSeed, writeSequentialReads } from './helpers/readahead-gain.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

function scipyT95(): number[] | undefined {
  const r = spawnSync('python3', ['-c', `import scipy.stats as s; print(' '.join(repr(float(s.t.ppf(0.95, d))) for d in range(1, ${CONFIRM_ROUNDS.max})))`], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim().split(' ').map(Number) : undefined;
}
const scipy = scipyT95();

test(
  'the t quantiles are scipy.stats.t.ppf(0.95, df) for every number of rounds allowed',
  { skip: scipy ? false : 'python3 with scipy is not installed' },
  () => {
    assert.equal(T95.length, CONFIRM_ROUNDS.max - 1);
    T95.forEach((t, i) => assert.ok(Math.abs(t - scipy![i]!) < 6e-4, `df ${i + 1}: ${t} vs scipy ${scipy![i]}`));
  },
);

test('summarise: the mean paired grade and its one-sided 95% lower bound', () => {
  const m = (latencyMeanUs: number, throughputBps: number) => ({ latencyMeanUs, throughputBps, iops: throughputBps / 4096 });
  // sd 0.1 over 3 rounds: 0.2 - 2.920 * 0.1 / sqrt(3).
  const c = summarise([0.1, 0.2, 0.3], [m(1, 1), m(1, 1), m(1, 1)], [m(1, 1), m(1, 1), m(1, 1)]);
  assert.ok(Math.abs(c.grade - 0.2) < 1e-12);
  assert.ok(Math.abs(c.low - (0.2 - (2.92 * 0.1) / Math.sqrt(3))) < 1e-12, `low ${c.low}`);
  assert.equal(c.holds, true);
  // Two rounds that disagree in sign: no gain can be claimed.
  assert.equal(summarise([0.5, -0.1], [m(1, 1), m(1, 1)], [m(1, 1), m(1, 1)]).holds, false);
  // The kept metrics are geometric means, so the grade of the kept metrics is the mean paired grade.
  const cand = [m(100, 300), m(150, 200), m(80, 500)];
  const base = [m(200, 100), m(190, 120), m(260, 90)];
  const s = summarise(
    cand.map((x, i) => grade(x, base[i]!)),
    cand,
    base,
  );
  assert.ok(Math.abs(grade(s.candidate, s.baseline) - s.grade) < 1e-12, `${grade(s.candidate, s.baseline)} vs ${s.grade}`);
  assert.throws(() => summarise([0.1], [m(1, 1)], [m(1, 1)]), RangeError);
});

test('confirmGain alternates the order of baseline and candidate and holds a real gain, not a tie', async () => {
  const model = new ReadaheadModelEvaluator();
  const order: string[] = [];
  // The readahead model, recording which configuration each call measured.
  const recording: Evaluator = {
    name: model.name,
    space: model.space,
    evaluate: (c, w, o) => {
      order.push(String(c.read_ahead_kb));
      return model.evaluate(c, w, o);
    },
  };
  const w = patternWorkload('seq', { pattern: 'sequential', count: 4000, requestBytes: 4096, spanBytes: 64 << 20 });
  const rounds: number[] = [];
  const c = await confirmGain(recording, w, { read_ahead_kb: 0 }, { read_ahead_kb: 512 }, 3, { onRound: (n) => rounds.push(n) });
  assert.deepEqual(order, ['0', '512', '512', '0', '0', '512']);
  assert.deepEqual(rounds, [1, 2, 3]);
  // A deterministic evaluator: the same grade each round, so the bound is the grade itself.
  assert.ok(c.grade > 0.1, `readahead on sequential 4 KiB reads: grade ${c.grade}`);
  assert.ok(Math.abs(c.low - c.grade) < 1e-9);
  assert.equal(c.holds, true);
  const tie = await confirmGain(model, w, { read_ahead_kb: 128 }, { read_ahead_kb: 128 }, 2);
  assert.equal(tie.grade, 0);
  assert.equal(tie.holds, false, 'no gain is not a gain');
});

const skipLoop = canUseLoopDevices();

test(
  'a live tune stores what its confirmation showed, not its search best, and leaves the device as it found it',
  { skip: skipLoop ?? false, timeout: 240_000 },
  async () => {
    const dir = tempDir('ssdtune-confirm-');
    const loop = createLoopDevice({ sizeBytes: 64 << 20, fill: true });
    try {
      const dev = resolveDevice(loop.path);
      const seed = readaheadOffWithSeed(loop.path);
      const trace = path.join(dir, 'seq.trace');
      writeSequentialReads(trace);
      const args = [
        'tune',
        '--data-dir',
        path.join(dir, 'db'),
        '--space',
        'host',
        '--evaluator',
        'live',
        '--device',
        loop.path,
        '--budget',
        '2',
        '--seed',
        String(seed),
      ];
      const r = spawnSync(process.execPath, [CLI, ...args, '--replay', 'closed:1', '--confirm-rounds', '3', '--progress', 'log', '--json', trace], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /confirming the best against the baseline 6\/6 evaluations/);
      const out = JSON.parse(r.stdout);
      const c = out.config.confirmation;
      assert.ok(c, `the search measured a gain, so it was confirmed: ${r.stdout}`);
      assert.equal(c.rounds, 3);
      assert.equal(c.grades.length, 3);
      assert.ok(c.searchGrade > 0);
      const mean = c.grades.reduce((a: number, b: number) => a + b, 0) / 3;
      if (c.holds) {
        assert.ok(c.low > 0);
        assert.ok(Math.abs(out.config.grade - mean) < 1e-9, 'the kept grade is the confirmation mean, not the search best');
        assert.notDeepEqual(out.config.values, out.baseline);
        assert.equal(c.candidate, undefined);
      } else {
        assert.ok(c.low <= 0);
        assert.equal(out.config.grade, 0);
        assert.deepEqual(out.config.values, out.baseline);
        assert.ok(c.candidate);
      }
      // Readahead against none on 5000 sequential pages: a gain no load on this machine hides.
      assert.equal(c.holds, true, `grades ${c.grades.join(', ')}, lower bound ${c.low}`);
      assert.ok(out.config.values.read_ahead_kb >= 128);
      const stored = spawnSync(process.execPath, [CLI, 'db', 'show', 'configs', out.config.id, '--data-dir', path.join(dir, 'db'), '--json'], {
        encoding: 'utf8',
      });
      assert.equal(stored.status, 0, stored.stderr);
      assert.deepEqual(JSON.parse(stored.stdout).confirmation, c);
      assert.equal(readAttr(dev, 'read_ahead_kb'), '0', 'every trial was reverted');
      // Deterministic evaluators have nothing to confirm: asking is a usage error.
      const ssd = spawnSync(process.execPath, [CLI, 'tune', '--data-dir', path.join(dir, 'db'), '--confirm-rounds', '3', trace], { encoding: 'utf8' });
      assert.equal(ssd.status, 2, ssd.stderr);
      assert.match(ssd.stderr, /ssdsim evaluator is deterministic/);
    } finally {
      loop.destroy();
    }
  },
);
