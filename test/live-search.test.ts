/**
 * A search on the live evaluator when its device, not a configuration, is the
 * problem: the search stops with the device's error instead of recording the
 * configuration as the worst and trying the next one on that device.
 */
import { test } from 'node:test';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { LiveEvaluator } from '../src/evaluators/live/live-evaluator.js';
import { patternWorkload } from '../src/evaluators/readahead/workloads.js';
import { MemoryStateStore } from '../src/host/state.js';
import { assertBusyDeviceStopsSearch } from './helpers/busy-device.js';
import { loopWithoutScheduler } from './helpers/loop.js';

const skip = canUseLoopDevices();

test('a live search stops when its device is busy with another change, and records nothing for it', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const loop = loopWithoutScheduler(32 << 20);
  try {
    const evaluator = new LiveEvaluator({ device: loop.path, store: new MemoryStateStore(), mode: 'closed', queueDepth: 1 });
    const workload = patternWorkload('seq', { pattern: 'sequential', count: 500, requestBytes: 4096, spanBytes: 16 << 20 });
    await assertBusyDeviceStopsSearch(loop.path, evaluator, workload);
  } finally {
    loop.destroy();
  }
});
