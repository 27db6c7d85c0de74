/**
 * A bio-based device (zram, brd) has no queue/scheduler, nr_requests or wbt: it queues no requests. The applier
 * and the host space work with the attributes it has, and refuse the others coded (root, zram disks this test
 * creates).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { applyHostConfig, revertHostConfig, verifyRecord } from '../src/host/applier.js';
import { JsonFileStateStore } from '../src/host/state.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { readSnapshot } from '../src/blockdev/sysfs.js';
import { buildHostSpace } from '../src/host/host-space.js';
import { isSsdtuneError } from '../src/errors.js';
import { createZram } from '../src/collector/testbed.js';
import { tempDir } from '../src/util/temp-dir.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (creates a zram disk)'
    : !existsSync('/sys/class/zram-control/hot_add')
      ? 'zram is not available (modprobe zram)'
      : undefined;

test('a device without a scheduler: apply, verify and revert what it has; a scheduler or its tunables are refused', { skip }, async () => {
  const z = createZram(16);
  const dataDir = tempDir('ssdtune-state-');
  const store = new JsonFileStateStore(dataDir);
  const queue = (k: string) => readFileSync(`/sys/block/${z.name}/queue/${k}`, 'utf8').trim();
  try {
    const dev = resolveDevice(z.name);
    const before = readSnapshot(dev);
    assert.equal(before.scheduler, undefined, `${z.name} shows no scheduler`);
    const space = buildHostSpace(dev);
    assert.ok(!space.params.some((p) => p.name === 'scheduler'), 'no scheduler to search');
    assert.ok(space.params.some((p) => p.name === 'read_ahead_kb'));

    for (const config of [{ scheduler: 'none' }, { 'iosched.fifo_batch': 8 }, { nr_requests: 64 }])
      await assert.rejects(
        applyHostConfig(z.name, config, { store, dryRun: true }),
        (e) => isSsdtuneError(e, 'SSDTUNE_HOST_ATTRIBUTE'),
        JSON.stringify(config),
      );

    const ra = String(Number(before.read_ahead_kb) * 2);
    const r = await applyHostConfig(z.name, { read_ahead_kb: ra, nomerges: 1 }, { store });
    assert.deepEqual(
      r.changes.map((c) => c.key),
      ['read_ahead_kb', 'nomerges'],
    );
    assert.equal(queue('read_ahead_kb'), ra);
    assert.deepEqual(verifyRecord(dev, (await store.get(z.name))!), []);
    await revertHostConfig(z.name, { store });
    assert.deepEqual(readSnapshot(dev), before);
  } finally {
    z.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
