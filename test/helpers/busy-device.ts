/**
 * A live search whose device becomes busy after the baseline (another change holds the device's queue lock,
 * as an `ssdtune apply` elsewhere would): it must stop with the device's error, having recorded only the
 * baseline and left the device as it found it. Shared by the in-process and the fleet (queued) searches.
 */
import assert from 'node:assert/strict';
import { lockBlockDevice, type DeviceLock } from '../../src/blockdev/device-lock.js';
import { resolveDevice } from '../../src/blockdev/resolve.js';
import { readSnapshot } from '../../src/blockdev/sysfs.js';
import { isSsdtuneError } from '../../src/errors.js';
import type { Evaluator, WorkloadRef } from '../../src/evaluators/types.js';
import { buildHostSpace } from '../../src/host/host-space.js';
import { makeSearcher, runSearch } from '../../src/search/search.js';

export async function assertBusyDeviceStopsSearch(device: string, evaluator: Evaluator, workload: WorkloadRef): Promise<void> {
  const dev = resolveDevice(device);
  const before = readSnapshot(dev);
  const recorded: string[] = [];
  let lock: DeviceLock | undefined;
  try {
    const search = runSearch(makeSearcher('adaptive'), {
      space: buildHostSpace(device),
      evaluator,
      workload,
      budget: { evaluations: 4 },
      seed: 1,
      onEvent: (e) => {
        if (e.type !== 'evaluation') return;
        recorded.push(e.evaluation.status);
        lock ??= lockBlockDevice('queue', dev.disk, () => new Error('the test could not take the lock'));
      },
    });
    await assert.rejects(
      search,
      (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /busy: this process is changing its queue attributes/.test(e.message),
    );
  } finally {
    lock?.release();
  }
  assert.deepEqual(recorded, ['ok'], 'only the baseline was recorded: no configuration was marked failed for the device being busy');
  assert.deepEqual(readSnapshot(dev), before);
}
