/**
 * One block-device model for the collector, the applier and the live
 * evaluator: a device given by node, by kernel name or by its sysfs entry is
 * the same device, with the same disk (the owner of the request queue).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
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

test('resolveDevice: a descriptor of a pipe or socket (/dev/stdout in a pipeline) is not a block device, not an uncoded ENOENT', async () => {
  // Its real path is the magic link's text, "/proc/PID/fd/pipe:[N]" (or socket:[N]), which does not exist.
  const child = spawn('sleep', ['30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const given = `/proc/${child.pid}/fd/1`;
    assert.match(readlinkSync(given), /^(pipe|socket):\[\d+\]$/); // node makes its stdio pipes of socket pairs
    assert.throws(
      () => resolveDevice(given),
      (e) => isSsdtuneError(e, 'SSDTUNE_DEVICE') && e.message.startsWith(`${given}: not a block device`),
    );
  } finally {
    child.kill();
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
