/**
 * A stored configuration is recommended only to a tune that would grade it
 * the same way: with the evaluator it was graded by and, for live replay, on
 * the device it was measured on. Before, a live tune of a known workload got
 * whatever the ConfDB held for the space (a readahead-model result, or
 * another disk's measurement), and nothing was measured on its device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readSnapshot } from '../src/blockdev/sysfs.js';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { tune } from '../src/service/tune.js';
import { EVALUATORS } from '../src/service/catalog.js';
import { resolveTuneArgs, type TuneArgs } from '../src/service/tune-spec.js';
import { tempDir } from '../src/util/temp-dir.js';
import { PROJECT_ROOT } from '../src/native.js';
import { loopWithoutScheduler } from './helpers/loop.js';

const skip = canUseLoopDevices();
const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

/** 2,000 sequential 4 KiB reads 10 ms apart: readahead matters to them, on the model and on a device. */
function sequentialTrace(dir: string): string {
  const trace = path.join(dir, 'seq.trace');
  writeFileSync(trace, Array.from({ length: 2000 }, (_, i) => `${i * 10_000} 0 ${i * 8} 8 1`).join('\n') + '\n');
  return trace;
}

test(
  'a stored configuration answers only a tune with its evaluator and, for live replay, on its device',
  { skip: skip ?? false, timeout: 240_000 },
  async () => {
    const dir = tempDir('ssdtune-scope-');
    const svc = await openService(loadSettings({ dataDir: path.join(dir, 'db') }), jobHandlers);
    // Two devices alike in every way the kernel reports but their backing files.
    const a = loopWithoutScheduler(32 << 20);
    const b = loopWithoutScheduler(32 << 20);
    try {
      const trace = sequentialTrace(dir);
      const run = (o: TuneArgs) =>
        tune(svc, {
          tracePath: trace,
          spec: resolveTuneArgs({ space: 'host', budget: 2, replay: { mode: 'closed', queueDepth: 1 }, ...o }, svc.settings).spec,
        });
      const live = (device: string) => run({ evaluator: 'live', device, confirmRounds: 0 });

      const model = await run({});
      assert.equal(model.source, 'search');
      assert.equal(model.config.evaluator, 'readahead-model');
      assert.equal(model.config.measuredOn, undefined, 'a model measures on no device');

      const before = readSnapshot(resolveDevice(a.path));
      const onA = await live(a.path);
      assert.equal(onA.workload.id, model.workload.id, 'the same workload');
      assert.equal(onA.source, 'search', "the readahead model's grade says nothing of the device: measured anew");
      assert.equal(onA.config.evaluator, 'live');
      assert.equal(onA.config.measuredOn?.disk, path.basename(a.path));
      assert.deepEqual(
        onA.notComparable,
        { id: model.config.id, evaluator: 'readahead-model', replay: model.config.replay, evaluatorOptions: model.config.evaluatorOptions },
        'and says why it searched',
      );
      assert.deepEqual(readSnapshot(resolveDevice(a.path)), before, 'every trial was reverted');

      const againOnA = await live(a.path);
      assert.equal(againOnA.source, 'confdb', 'measured on this device: recommended');
      assert.equal(againOnA.config.id, onA.config.id);

      const onB = await live(b.path);
      assert.equal(onB.source, 'search', "another disk's measurement says nothing of this one");
      assert.equal(onB.config.measuredOn?.disk, path.basename(b.path));
      assert.notEqual(onB.config.measuredOn?.key, onA.config.measuredOn?.key);
      assert.ok([model.config.id, onA.config.id].includes(onB.notComparable!.id));

      const modelAgain = await run({});
      assert.equal(modelAgain.source, 'confdb');
      assert.equal(modelAgain.config.id, model.config.id, "the model's own result, whatever the live grades");
      assert.equal(await svc.db.count('workloads'), 1);
    } finally {
      await svc.close();
      a.destroy();
      b.destroy();
    }
  },
);

test('a stored configuration answers a tune at its own replay intensity, whichever is graded higher', async () => {
  const dir = tempDir('ssdtune-scope-');
  const trace = sequentialTrace(dir);
  const svc = await openService(loadSettings({ dataDir: path.join(dir, 'db') }), jobHandlers);
  try {
    const run = (replay: TuneArgs['replay']) => tune(svc, { tracePath: trace, spec: resolveTuneArgs({ space: 'host', budget: 3, replay }, svc.settings).spec });
    const recorded = await run({ mode: 'recorded' });
    const closed = await run({ mode: 'closed', queueDepth: 4 });
    assert.equal(recorded.source, 'search');
    assert.equal(closed.source, 'search', 'another intensity: searched anew');
    assert.notEqual(recorded.config.grade, closed.config.grade, 'one is graded higher: the test needs the lower one asked again');
    // Before, the best of the two was looked up first and, at the other intensity, the lower one searched again.
    assert.equal((await run({ mode: 'recorded' })).config.id, recorded.config.id);
    assert.equal((await run({ mode: 'closed', queueDepth: 4 })).config.id, closed.config.id);
    assert.equal(await svc.db.count('configs'), 2, 'nothing learned twice');
  } finally {
    await svc.close();
  }
  // The CLI says why a known workload was searched.
  const r = spawnSync(process.execPath, [CLI, 'tune', '--data-dir', path.join(dir, 'db'), '--space', 'host', '--budget', '2', '--replay', 'closed:8', trace], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /searched although \S+ is stored for this workload: it was graded by readahead-model \(revision \d+\), replay (recorded|closed QD 4)/);
});

test('a configuration graded by an earlier revision of its evaluator answers no tune: the workload is searched anew', async () => {
  const dir = tempDir('ssdtune-scope-');
  const trace = sequentialTrace(dir);
  const svc = await openService(loadSettings({ dataDir: path.join(dir, 'db') }), jobHandlers);
  try {
    const run = () => tune(svc, { tracePath: trace, spec: resolveTuneArgs({ space: 'host', budget: 2 }, svc.settings).spec });
    const first = await run();
    assert.equal(first.source, 'search');
    const revision = EVALUATORS['readahead-model'].revision;
    assert.deepEqual(first.config.evaluatorOptions, { revision }, 'stored with the revision that graded it');
    // As an earlier release stored it (revision 1: no revision kept), graded higher than anything now.
    const { evaluatorOptions: _, ...earlier } = await svc.db.require('configs', first.config.id);
    await svc.db.put('configs', { ...earlier, grade: 99 });
    const second = await run();
    assert.equal(second.source, 'search', "an earlier revision's grade is not this model's: not recommended");
    assert.deepEqual(second.notComparable, { id: first.config.id, evaluator: 'readahead-model', ...(earlier.replay ? { replay: earlier.replay } : {}) });
    assert.deepEqual(second.config.evaluatorOptions, { revision });
    const third = await run();
    assert.equal(third.source, 'confdb');
    assert.equal(third.config.id, second.config.id, "this revision's own result, however the earlier one was graded");
  } finally {
    await svc.close();
  }
});
