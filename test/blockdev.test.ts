/**
 * One block-device model for the collector, the applier and the live
 * evaluator: a device given by node, by kernel name or by its sysfs entry is
 * the same device, with the same disk (the owner of the request queue).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveDevice, requireCapturable } from '../src/blockdev/resolve.js';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { isSsdtuneError } from '../src/errors.js';

const noLoop = canUseLoopDevices();

test('resolveDevice: missing devices, files and path-like names are coded errors naming what was given', () => {
  for (const given of ['/dev/ssdtune-no-such-device', 'ssdtune-no-such-device', '../../etc', '/etc/passwd', '/dev/null', '']) {
    assert.throws(
      () => resolveDevice(given),
      (e) => isSsdtuneError(e, 'SSDTUNE_DEVICE') && e.message.startsWith(given || '(empty)'),
      given,
    );
  }
});

test('resolveDevice: a node, a kernel name and a /sys/class/block entry are the same device', { skip: noLoop }, () => {
  const loop = createLoopDevice({ sizeBytes: 8 << 20 });
  try {
    const byPath = resolveDevice(loop.path);
    const byName = resolveDevice(loop.name);
    const bySys = resolveDevice(`/sys/class/block/${loop.name}`);
    assert.equal(byPath.name, loop.name);
    assert.equal(byPath.disk.name, loop.name);
    assert.equal(byPath.partition, undefined);
    assert.equal(byName.path, loop.path, 'a name resolves to its node');
    assert.deepEqual({ ...byName, given: loop.path }, byPath);
    assert.deepEqual({ ...bySys, given: loop.path }, byPath);
    assert.match(byPath.disk.devNumber, /^\d+:\d+$/);
    assert.equal(`${byPath.disk.major}:${byPath.disk.minor}`, byPath.disk.devNumber);
    // What a capture needs (media, blk-mq) holds for a loop device, given either way.
    assert.equal(requireCapturable(byName), byName);
  } finally {
    loop.destroy();
  }
});
