/**
 * A search on the live evaluator when its device, not a configuration, is the
 * problem: the search stops with the device's error instead of recording the
 * configuration as the worst and trying the next one on that device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { lockBlockDevice, type DeviceLock } from '../src/blockdev/device-lock.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readSnapshot } from '../src/blockdev/sysfs.js';
import { isSsdtuneError } from '../src/errors.js';
import { LiveEvaluator } from '../src/evaluators/live/live-evaluator.js';
import { patternWorkload } from '../src/evaluators/readahead/workloads.js';
import { buildHostSpace } from '../src/host/host-space.js';
import { MemoryStateStore } from '../src/host/state.js';
import { makeSearcher, runSearch } from '../src/search/search.js';
import { loopWithoutScheduler } from './helpers/loop.js';

const skip = canUseLoopDevices();

test('a live search stops when its device is busy with another change, and records nothing for it', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const loop = loopWithoutScheduler(32 << 20);
  let lock: DeviceLock | undefined;
  try {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    const evaluator = new LiveEvaluator({ device: loop.path, store: new MemoryStateStore(), mode: 'closed', queueDepth: 1 });
    const workload = patternWorkload('seq', { pattern: 'sequential', count: 500, requestBytes: 4096, spanBytes: 16 << 20 });
    const recorded: string[] = [];
    const search = runSearch(makeSearcher('adaptive'), {
      space: buildHostSpace(loop.path),
      evaluator,
      workload,
      budget: { evaluations: 4 },
      seed: 1,
      onEvent: (e) => {
        if (e.type !== 'evaluation') return;
        recorded.push(e.evaluation.status);
        // Another change of the device starts after the baseline (an `ssdtune apply` elsewhere holds its lock).
        lock ??= lockBlockDevice('queue', dev.disk, () => new Error('the test could not take the lock'));
      },
    });
    await assert.rejects(
      search,
      (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /busy: this process is changing its queue attributes/.test(e.message),
    );
    assert.deepEqual(recorded, ['ok'], 'only the baseline was recorded: no configuration was marked failed for the device being busy');
    assert.deepEqual(readSnapshot(dev), before);
  } finally {
    lock?.release();
    loop.destroy();
  }
});
