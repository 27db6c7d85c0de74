/**
 * The sysfs applier on real loop devices this test creates (root only):
 * apply/revert restores everything, a kernel-rejected third write rolls back,
 * bad requests are refused before anything is written.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyHostConfig, revertHostConfig, verifyRecord, withTrialConfig } from '../src/host/applier.js';
import { JsonFileStateStore, MemoryStateStore } from '../src/host/state.js';
import { LOCK_DIR, lockBlockDevice } from '../src/blockdev/device-lock.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { parseScheduler, readSnapshot } from '../src/blockdev/sysfs.js';
import { canUseLoopDevices, type LoopDevice } from '../src/blockdev/loop.js';
import { toTunedProfile, toUdevRule } from '../src/host/export.js';
import { buildHostSpace, hostConfigToApply } from '../src/host/host-space.js';
import { isFeasible } from '../src/space/constraints.js';
import { isSsdtuneError } from '../src/errors.js';
import { jiffiesRoundTrip, kernelHz, pageKb } from '../src/host/validate.js';
import { PROJECT_ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';
import { hostIdentity } from '../src/util/host-identity.js';
import { loopWithoutScheduler, maxSectorsCoupling, readaheadAfterMaxSectors } from './helpers/loop.js';
import { createLoop } from '../src/collector/testbed.js';

const skip = canUseLoopDevices();

type LoopTest = (loop: LoopDevice, store: JsonFileStateStore, dataDir: string, t: TestContext) => Promise<void>;

function withLoop(fn: LoopTest) {
  return async (t: TestContext) => {
    const dataDir = tempDir('ssdtune-state-');
    const loop = loopWithoutScheduler(32 << 20);
    try {
      await fn(loop, new JsonFileStateStore(dataDir), dataDir, t);
    } finally {
      loop.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
}

test('parseScheduler reads the active scheduler and the list', () => {
  assert.deepEqual(parseScheduler('[mq-deadline] kyber bfq none\n'), { active: 'mq-deadline', available: ['mq-deadline', 'kyber', 'bfq', 'none'] });
  assert.deepEqual(parseScheduler('none [bfq]'), { active: 'bfq', available: ['none', 'bfq'] });
  assert.deepEqual(parseScheduler('none'), { active: 'none', available: ['none'] });
});

test('tuned profile and udev rule carry the configuration in write order, read_ahead_kb held after max_sectors_kb', () => {
  const cfg = { nr_requests: '512', 'iosched.fifo_batch': '8', max_sectors_kb: '256', rq_affinity: '2', scheduler: 'mq-deadline' };
  const current = { scheduler: 'none', read_ahead_kb: '8', max_sectors_kb: '1280', nr_requests: '128', rq_affinity: '1' };
  const q = '/sys/block/nvme0n1/queue';
  // One [sysfs] section, whose lines tuned writes in the order they stand: the device's read_ahead_kb right after
  // max_sectors_kb, which would raise it.
  assert.match(
    toTunedProfile('nvme0n1', cfg, current),
    new RegExp(
      `\\n# read_ahead_kb=8: the device's value, kept: written after max_sectors_kb.*\\n\\[main\\]\\nsummary=.*\\n\\n\\[sysfs\\]\\n` +
        `${q}/scheduler=mq-deadline\\n${q}/max_sectors_kb=256\\n${q}/read_ahead_kb=8\\n${q}/rq_affinity=2\\n${q}/nr_requests=512\\n${q}/iosched/fifo_batch=8\\n$`,
    ),
  );
  assert.match(
    toUdevRule('nvme0n1', cfg, current),
    /# read_ahead_kb=8: the device's value, kept.*\nACTION=="add\|change", SUBSYSTEM=="block", KERNEL=="nvme0n1", ATTR\{queue\/scheduler\}="mq-deadline", ATTR\{queue\/max_sectors_kb\}="256", ATTR\{queue\/read_ahead_kb\}="8", ATTR\{queue\/rq_affinity\}="2", ATTR\{queue\/nr_requests\}="512", ATTR\{queue\/iosched\/fifo_batch\}="8"\n$/,
  );
  // A configuration that names read_ahead_kb writes its own, and one without max_sectors_kb holds nothing.
  for (const named of [{ ...cfg, read_ahead_kb: '4096' }, { read_ahead_kb: '4096' }]) {
    const udev = toUdevRule('nvme0n1', named, current);
    assert.doesNotMatch(udev, /# read_ahead_kb|read_ahead_kb}="8"/);
    assert.match(udev, /ATTR\{queue\/read_ahead_kb\}="4096"/);
  }
  assert.doesNotMatch(toTunedProfile('nvme0n1', { rq_affinity: '2' }, current), /read_ahead_kb/);
  // Under mq-deadline a write of nr_requests sets async_depth: one the configuration names is written after it, one it
  // leaves out is held there at the device's value, and none after a switch (the new scheduler's defaults).
  const deadline = { ...current, scheduler: 'mq-deadline', 'iosched.async_depth': '16' };
  assert.match(
    toTunedProfile('nvme0n1', { nr_requests: '64' }, deadline),
    new RegExp(
      `\\n# iosched\\.async_depth=16: the device's value, kept: written after nr_requests, .*\\n${q}/nr_requests=64\\n${q}/iosched/async_depth=16\\n$`,
      's',
    ),
  );
  const both = toUdevRule('nvme0n1', { 'iosched.async_depth': '8', nr_requests: '64' }, deadline);
  assert.match(both, /ATTR\{queue\/nr_requests\}="64", ATTR\{queue\/iosched\/async_depth\}="8"\n$/);
  assert.doesNotMatch(both, /# iosched/);
  assert.doesNotMatch(toUdevRule('nvme0n1', { scheduler: 'kyber', nr_requests: '64' }, deadline), /async_depth/);
});

test('missing device: clear error', () => {
  assert.throws(
    () => resolveDevice('/dev/ssdtune-no-such-device'),
    (e) => isSsdtuneError(e, 'SSDTUNE_DEVICE'),
  );
  assert.throws(
    () => resolveDevice('../../etc'),
    (e) => isSsdtuneError(e, 'SSDTUNE_DEVICE'),
  );
  assert.throws(
    () => resolveDevice('/etc/passwd'),
    (e) => isSsdtuneError(e, 'SSDTUNE_DEVICE'),
  );
});

test(
  'apply then revert restores every attribute exactly',
  { skip },
  withLoop(async (loop, store) => {
    const before = readSnapshot(resolveDevice(loop.path));
    const lim = Number(execFileSync('cat', [`/sys/block/${loop.name}/queue/max_hw_sectors_kb`], { encoding: 'utf8' }));
    const config = {
      scheduler: before.scheduler === 'mq-deadline' ? 'kyber' : 'mq-deadline',
      read_ahead_kb: Number(before.read_ahead_kb) === 1024 ? 2048 : 1024,
      max_sectors_kb: Math.min(lim, 64),
      wbt_lat_usec: 3456,
      rq_affinity: Number(before.rq_affinity) === 2 ? 1 : 2,
      nomerges: Number(before.nomerges) === 1 ? 0 : 1,
      nr_requests: 96,
    } as Record<string, number | string>;
    if (config.scheduler === 'mq-deadline') config['iosched.fifo_batch'] = 7;
    else config['queue/iosched/read_lat_nsec'] = 1234567;

    const dry = await applyHostConfig(loop.path, config, { store, dryRun: true });
    assert.ok(dry.changes.length >= 7);
    assert.equal(dry.changes[0]!.key, 'scheduler', 'scheduler is written first');
    assert.deepEqual(
      dry.changes.slice(-2).map((c) => c.key),
      ['nr_requests', 'iosched.fifo_batch'],
      "nr_requests after the scheduler, the scheduler's tunables after nr_requests (which changes async_depth)",
    );
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before, 'dry run writes nothing');
    assert.equal(await store.get(loop.name), undefined);

    const r = await applyHostConfig(loop.path, config, { store });
    const after = readSnapshot(resolveDevice(loop.path));
    for (const c of r.changes) assert.equal(after[c.key], c.to, `${c.key} applied`);
    const rec = await store.get(loop.name);
    assert.deepEqual(rec?.previous, before, 'previous values recorded');

    // A second apply keeps the original values for revert.
    await applyHostConfig(loop.name, { read_ahead_kb: 256 }, { store });
    assert.deepEqual((await store.get(loop.name))?.previous, before);

    await revertHostConfig(loop.name, { store });
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
    assert.equal(await store.get(loop.name), undefined);
    await assert.rejects(revertHostConfig(loop.name, { store }), (e) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE'));
  }),
);

test(
  'max_sectors_kb alone leaves read_ahead_kb as it was, held and named: apply, trial, rollback, revert and the CLI',
  { skip },
  withLoop(async (loop, store, dataDir, t) => {
    const dev = resolveDevice(loop.path);
    const queue = `/sys/block/${loop.name}/queue`;
    const hw = Number(readFileSync(`${queue}/max_hw_sectors_kb`, 'utf8'));
    const current = readFileSync(`${queue}/max_sectors_kb`, 'utf8').trim();
    const [a, b] = [64, 256].map((kb) => Math.min(hw, kb)).map((kb) => (String(kb) === current ? kb / 2 : kb));
    // The coupling is the kernel's (Linux 6.18 raises read_ahead_kb to a floor when max_sectors_kb is written): no
    // table tells ssdtune of it, and a kernel without it has nothing to hold.
    const raised = readaheadAfterMaxSectors(queue, a!);
    if (raised === undefined) {
      t.skip(`this kernel (${os.release()}) leaves read_ahead_kb alone when max_sectors_kb is written: no coupling to hold`);
      return;
    }
    // A read_ahead_kb under the kernel's floor.
    writeFileSync(`${queue}/read_ahead_kb`, '8');
    const before = readSnapshot(dev);
    assert.equal(before.read_ahead_kb, '8');

    const r = await applyHostConfig(loop.path, { max_sectors_kb: a }, { store });
    assert.deepEqual(
      r.changes.map((c) => c.key),
      ['max_sectors_kb'],
    );
    assert.deepEqual(r.held, [{ key: 'read_ahead_kb', from: '8', to: raised, by: `max_sectors_kb=${a}` }], 'the apply names what it held');
    assert.equal(readSnapshot(dev).max_sectors_kb, String(a));
    assert.equal(readSnapshot(dev).read_ahead_kb, '8', 'the apply changed only what it names');
    assert.deepEqual(verifyRecord(dev, (await store.get(loop.name))!), []);

    await withTrialConfig(loop.path, { max_sectors_kb: b }, store, async (trial) => {
      assert.equal(readSnapshot(dev).max_sectors_kb, String(b));
      assert.equal(readSnapshot(dev).read_ahead_kb, '8', 'the trial changed only what it names');
      assert.deepEqual(
        trial.held.map((h) => [h.key, h.from, h.by]),
        [['read_ahead_kb', '8', `max_sectors_kb=${b}`]],
        'the trial names what it held',
      );
    });
    assert.equal(readSnapshot(dev).read_ahead_kb, '8', 'the trial gave back read_ahead_kb');

    // Refused by the kernel after max_sectors_kb was written: the rollback holds read_ahead_kb too.
    await assert.rejects(applyHostConfig(loop.path, { max_sectors_kb: b, nr_requests: 2048 }, { store }), (e) => isSsdtuneError(e, 'SSDTUNE_HOST_APPLY'));
    assert.equal(readSnapshot(dev).read_ahead_kb, '8', 'the rollback gave back read_ahead_kb');

    await revertHostConfig(loop.path, { store });
    assert.deepEqual(readSnapshot(dev), before);

    // The CLI says what it held, after what it changed.
    const cfgFile = path.join(dataDir, 'msk.json');
    writeFileSync(cfgFile, JSON.stringify({ max_sectors_kb: a }));
    const cli = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--data-dir', path.join(dataDir, 'db')], { encoding: 'utf8' });
    const out = run('apply', '--device', loop.name, '--config', cfgFile);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`max_sectors_kb +${before.max_sectors_kb} -> ${a}\n`));
    assert.match(out.stdout, new RegExp(`\nheld read_ahead_kb at 8: writing max_sectors_kb=${a} made the kernel change it to ${raised}\n`));
    assert.equal(run('revert', '--device', loop.name).status, 0);
    assert.deepEqual(readSnapshot(dev), before);
  }),
);

/**
 * Writes an exported text's values to sysfs as its tool would: a tuned profile's sections in the order they stand,
 * each section's lines in order (the [disk] plugin's elevator and readahead, which older exports used, as the
 * attributes they write), a udev rule's ATTR{} assignments in the order they stand (export.ts cites both sources).
 */
function writeAsTheToolWould(kind: 'tuned' | 'udev', text: string, device: string): void {
  const queue = `/sys/block/${device}`;
  if (kind === 'udev') {
    for (const m of text.matchAll(/ATTR\{([^}]+)\}="([^"]*)"/g)) writeFileSync(`${queue}/${m[1]}`, m[2]!);
    return;
  }
  let section = '';
  for (const line of text.split('\n')) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) section = head[1]!;
    const [key, value] = [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)];
    if (section === 'sysfs' && key.startsWith('/sys/')) writeFileSync(key, value);
    const disk: Record<string, string> = { elevator: 'scheduler', readahead: 'read_ahead_kb' };
    if (section === 'disk' && disk[key]) writeFileSync(`${queue}/queue/${disk[key]}`, value);
  }
}

/**
 * `ssdtune apply --export kind` of `config` for the test's loop device (which it leaves as it was), then its text
 * written as the tool would: what the device shows then, and the text.
 */
function exportedAndWritten(loop: LoopDevice, dataDir: string, kind: 'tuned' | 'udev', config: object): { now: Record<string, string>; text: string } {
  const dev = resolveDevice(loop.path);
  const before = readSnapshot(dev);
  const cfgFile = path.join(dataDir, 'cfg.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const cli = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
  const args = [cli, 'apply', '--device', loop.name, '--config', cfgFile, '--export', kind, '--data-dir', path.join(dataDir, 'db')];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readSnapshot(dev), before, 'an export writes nothing');
  writeAsTheToolWould(kind, r.stdout, loop.name);
  return { now: readSnapshot(dev), text: r.stdout };
}

test(
  'an exported tuned profile or udev rule, written as tuned and udev write, leaves read_ahead_kb as the device had it',
  { skip },
  withLoop(async (loop, _store, dataDir, t) => {
    const dev = resolveDevice(loop.path);
    const queue = `/sys/block/${loop.name}/queue`;
    const { kb, raised } = maxSectorsCoupling(queue);
    if (raised === undefined) {
      t.skip(`this kernel (${os.release()}) leaves read_ahead_kb alone when max_sectors_kb is written: nothing to hold`);
      return;
    }
    writeFileSync(`${queue}/read_ahead_kb`, '8');
    const before = readSnapshot(dev);
    for (const kind of ['tuned', 'udev'] as const) {
      // Before, read_ahead_kb came out raised (128 from 8 on Linux 6.18): the export wrote what the configuration named.
      const { now, text } = exportedAndWritten(loop, dataDir, kind, { scheduler: 'mq-deadline', max_sectors_kb: kb, nr_requests: 64 });
      assert.deepEqual([now.scheduler, now.max_sectors_kb, now.nr_requests, now.read_ahead_kb], ['mq-deadline', String(kb), '64', '8'], `${kind}:\n${text}`);
      // Back to where the device was, for the next kind.
      for (const k of ['scheduler', 'max_sectors_kb', 'read_ahead_kb', 'nr_requests'] as const) writeFileSync(`${queue}/${k}`, before[k]!);
      assert.deepEqual(readSnapshot(dev), before);
    }
  }),
);

test(
  'an exported tuned profile or udev rule, written as tuned and udev write under mq-deadline, ends at the asked async_depth, or holds the one it leaves out',
  { skip },
  withLoop(async (loop, _store, dataDir, t) => {
    const dev = resolveDevice(loop.path);
    const queue = `/sys/block/${loop.name}/queue`;
    if (!parseScheduler(readFileSync(`${queue}/scheduler`, 'utf8')).available.includes('mq-deadline')) {
      t.skip('this kernel offers no mq-deadline');
      return;
    }
    // Through sysfs: mq-deadline at depth 64 with an async_depth of 16, then does a write of nr_requests change it?
    const start = () => {
      writeFileSync(`${queue}/scheduler`, 'mq-deadline');
      writeFileSync(`${queue}/nr_requests`, '64');
      writeFileSync(`${queue}/iosched/async_depth`, '16');
    };
    start();
    writeFileSync(`${queue}/nr_requests`, '32');
    const follows = readFileSync(`${queue}/iosched/async_depth`, 'utf8').trim();
    start();
    if (follows === '16') {
      t.skip(`this kernel (${os.release()}) leaves mq-deadline's async_depth alone when nr_requests is written: no coupling to export`);
      return;
    }
    const before = readSnapshot(dev);
    // Named: written after nr_requests. Left out: the device's 16, written after nr_requests. Before, tuned and udev
    // ended both at async_depth 32 (the export wrote it before nr_requests, or not at all).
    for (const [config, asked] of [
      [{ nr_requests: 32, 'iosched.async_depth': 8 }, '8'],
      [{ nr_requests: 32 }, '16'],
    ] as const) {
      for (const kind of ['tuned', 'udev'] as const) {
        const { now, text } = exportedAndWritten(loop, dataDir, kind, config);
        assert.deepEqual([now.scheduler, now.nr_requests, now['iosched.async_depth']], ['mq-deadline', '32', asked], `${kind}:\n${text}`);
        start();
        assert.deepEqual(readSnapshot(dev), before);
      }
    }
  }),
);

test(
  "under mq-deadline, a write of nr_requests holds async_depth; a scheduler switch's resets are not held",
  { skip },
  withLoop(async (loop, store, _dataDir, t) => {
    const dev = resolveDevice(loop.path);
    const queue = `/sys/block/${loop.name}/queue`;
    const offered = parseScheduler(readFileSync(`${queue}/scheduler`, 'utf8')).available;
    if (!offered.includes('mq-deadline') || !offered.includes('kyber')) {
      t.skip(`this kernel offers ${offered.join(' ')}: the test needs mq-deadline and kyber`);
      return;
    }
    const before = readSnapshot(dev);
    // Probed through sysfs: does this kernel's mq-deadline set async_depth when nr_requests is written (6.18: to it)?
    writeFileSync(`${queue}/scheduler`, 'mq-deadline');
    writeFileSync(`${queue}/iosched/async_depth`, '16');
    writeFileSync(`${queue}/nr_requests`, '64');
    const follows = readFileSync(`${queue}/iosched/async_depth`, 'utf8').trim();
    writeFileSync(`${queue}/scheduler`, before.scheduler!);
    writeFileSync(`${queue}/nr_requests`, before.nr_requests!);
    assert.deepEqual(readSnapshot(dev), before);
    if (follows === '16') {
      t.skip(`this kernel (${os.release()}) leaves mq-deadline's async_depth alone when nr_requests is written`);
      return;
    }

    // The target's own async_depth is written after nr_requests (ORDER), which would change it: the device shows the
    // configuration with nothing held, and verify finds nothing. (Written before it, it was changed to 64 and held.)
    const r1 = await applyHostConfig(loop.path, { scheduler: 'mq-deadline', 'iosched.async_depth': 16, nr_requests: 64 }, { store });
    assert.equal(readSnapshot(dev)['iosched.async_depth'], '16');
    assert.deepEqual(r1.held, []);
    assert.deepEqual(verifyRecord(dev, (await store.get(loop.name))!), []);
    // nr_requests alone: async_depth, which it leaves out, is held.
    const r2 = await applyHostConfig(loop.path, { nr_requests: 128 }, { store });
    assert.deepEqual(
      r2.held.map((h) => [h.key, h.from, h.by]),
      [['iosched.async_depth', '16', 'nr_requests=128']],
    );
    assert.equal(readSnapshot(dev)['iosched.async_depth'], '16');
    assert.deepEqual(verifyRecord(dev, (await store.get(loop.name))!), []);
    // A switch resets nr_requests and the tunables: the new scheduler's defaults, reported as side effects, not held.
    const r3 = await applyHostConfig(loop.path, { scheduler: 'kyber' }, { store });
    assert.ok(r3.sideEffects.includes('nr_requests'), r3.sideEffects.join(', '));
    assert.deepEqual(r3.held, []);
    assert.notEqual(readSnapshot(dev).nr_requests, '128', 'the kernel reset nr_requests');
    // Switched back with a depth: the new scheduler's async_depth, left out, is its default, which follows nr_requests.
    const r4 = await applyHostConfig(loop.path, { scheduler: 'mq-deadline', nr_requests: 32 }, { store });
    assert.deepEqual(r4.held, []);
    assert.equal(readSnapshot(dev).nr_requests, '32');
    await revertHostConfig(loop.path, { store });
    assert.deepEqual(readSnapshot(dev), before);
  }),
);

test(
  'a kernel-rejected third write rolls back the first two',
  { skip },
  withLoop(async (loop, store) => {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    assert.equal(before.scheduler, 'none', 'withLoop starts without a scheduler');
    // Order: max_sectors_kb, read_ahead_kb, nr_requests. Without a scheduler nr_requests
    // cannot exceed the tag depth, so the kernel refuses 2048 (within the validated range).
    const config = { nr_requests: 2048, read_ahead_kb: Number(before.read_ahead_kb) + 4, max_sectors_kb: 32 };
    await assert.rejects(applyHostConfig(loop.path, config, { store }), (e) => {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_HOST_APPLY'), String(e));
      assert.match((e as Error).message, /nr_requests=2048 failed .*rolled back/);
      return true;
    });
    assert.deepEqual(readSnapshot(dev), before);
    assert.equal(await store.get(loop.name), undefined, 'no state left behind');
  }),
);

test(
  'unknown scheduler, out-of-range values and unlisted attributes write nothing',
  { skip },
  withLoop(async (loop, store) => {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    const hw = Number(execFileSync('cat', [`/sys/block/${loop.name}/queue/max_hw_sectors_kb`], { encoding: 'utf8' }));
    const bad: [Record<string, unknown>, string, RegExp][] = [
      [{ read_ahead_kb: 64, scheduler: 'cfq-from-2015' }, 'SSDTUNE_HOST_VALUE', /scheduler=cfq-from-2015 .*offers/],
      [{ read_ahead_kb: 64, max_sectors_kb: hw * 2 }, 'SSDTUNE_HOST_VALUE', /max_sectors_kb=\d+ .*max_hw_sectors_kb/],
      [{ read_ahead_kb: -5 }, 'SSDTUNE_HOST_VALUE', /read_ahead_kb=-5/],
      [{ rq_affinity: 3 }, 'SSDTUNE_HOST_VALUE', /expected 0..2/],
      [{ nr_requests: 'many' }, 'SSDTUNE_HOST_VALUE', /expected an integer/],
      // a value that is not finite (a JSON body's 1e400) is named so, not as JSON.stringify's "null"
      [{ read_ahead_kb: Infinity }, 'SSDTUNE_HOST_VALUE', /read_ahead_kb=Infinity \(not finite: .*\) is not valid: expected an integer KiB/],
      [{ scheduler: 'none', nr_requests: -Infinity }, 'SSDTUNE_HOST_VALUE', /nr_requests=-Infinity \(not finite/],
      [{ read_ahead_kb: 64, rotational: 1 }, 'SSDTUNE_HOST_ATTRIBUTE', /rotational is not a tunable/],
      [{ 'iosched.fifo_batch': 4 }, 'SSDTUNE_HOST_ATTRIBUTE', /scheduler none has no tunables/],
      [{ scheduler: 'kyber', 'iosched.fifo_batch': 4 }, 'SSDTUNE_HOST_ATTRIBUTE', /kyber tunables are/],
    ];
    for (const [cfg, code, re] of bad) {
      await assert.rejects(applyHostConfig(loop.path, cfg, { store }), (e) => {
        assert.ok(isSsdtuneError(e, code), `${JSON.stringify(cfg)}: ${String(e)}`);
        assert.match((e as Error).message, re);
        return true;
      });
    }
    assert.deepEqual(readSnapshot(dev), before);
    assert.equal(await store.get(loop.name), undefined);
  }),
);

test(
  'apply --dry-run of a file holding 1e400 names the file, the key and the number as written',
  { skip },
  withLoop(async (loop, _store, dataDir) => {
    const cli = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
    const cases: [string, RegExp][] = [
      ['{"read_ahead_kb": 1e400}', /key "read_ahead_kb": expected a finite number, got 1e400 \(not finite: beyond ±1\.8e308\) \[SSDTUNE_HOST_CONFIG\]/],
      ['{"config": {"nr_requests": -2.5E+999}}', /key "nr_requests": expected a finite number, got -2\.5E\+999 \(not finite/],
    ];
    for (const [text, re] of cases) {
      const cfgFile = path.join(dataDir, 'inf.json');
      writeFileSync(cfgFile, text);
      const r = spawnSync(process.execPath, [cli, 'apply', '--device', loop.path, '--config', cfgFile, '--dry-run', '--data-dir', dataDir], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 3, r.stderr);
      assert.ok(r.stderr.includes(cfgFile), r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /null/);
    }
  }),
);

test(
  'not root: the CLI refuses with exit 5 and writes nothing',
  { skip },
  withLoop(async (loop, _store, dataDir) => {
    const before = readSnapshot(resolveDevice(loop.path));
    chmodSync(dataDir, 0o755); // nobody must be able to read the config file
    const cfgFile = path.join(dataDir, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify({ read_ahead_kb: Number(before.read_ahead_kb) + 8 }));
    const cli = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        cli,
        'apply',
        '--device',
        loop.path,
        '--config',
        cfgFile,
        '--data-dir',
        path.join(dataDir, 'nobody'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stderr, /needs root.*SSDTUNE_HOST_ROOT/);
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
    assert.ok(!existsSync(path.join(dataDir, 'nobody', 'host-state.json')));
  }),
);

test(
  'CLI apply and revert record the previous values in the ConfDB',
  { skip },
  withLoop(async (loop, _store, dataDir) => {
    const before = readSnapshot(resolveDevice(loop.path));
    const cfgFile = path.join(dataDir, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify({ config: { 'queue/read_ahead_kb': Number(before.read_ahead_kb) + 12, scheduler: 'mq-deadline' } }));
    const cli = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
    const db = path.join(dataDir, 'db');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--data-dir', db], { encoding: 'utf8' });
    const tuned = run('apply', '--device', loop.name, '--config', cfgFile, '--export', 'tuned');
    assert.equal(tuned.status, 0, tuned.stderr);
    const q = `/sys/block/${loop.name}/queue`;
    assert.match(tuned.stdout, new RegExp(`\\[sysfs\\]\n${q}/scheduler=mq-deadline\n${q}/read_ahead_kb=${Number(before.read_ahead_kb) + 12}\n$`));
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before, 'export writes nothing');
    const a = run('apply', '--device', loop.path, '--config', cfgFile, '--json');
    assert.equal(a.status, 0, a.stderr);
    assert.deepEqual(
      JSON.parse(a.stdout).changes.map((c: { key: string }) => c.key),
      ['scheduler', 'read_ahead_kb'],
    );
    const rec = JSON.parse(run('db', 'show', 'devices', loop.name).stdout);
    assert.deepEqual(rec.previous, before);
    const r = run('revert', '--device', loop.name);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
    assert.equal(run('db', 'show', 'devices', loop.name).status, 4, 'record removed');
    const audit = JSON.parse(run('db', 'list', 'audit', '--json').stdout) as { action: string }[];
    assert.deepEqual(audit.map((x) => x.action).sort(), ['host.apply', 'host.revert']);
  }),
);

test(
  'the host space is built from the device and its configurations apply',
  { skip },
  withLoop(async (loop, store) => {
    const before = readSnapshot(resolveDevice(loop.path));
    const space = buildHostSpace(loop.path);
    const byName = Object.fromEntries(space.params.map((p) => [p.name, p]));
    assert.equal(space.name, 'host');
    assert.deepEqual(space.baseline.read_ahead_kb, Number(before.read_ahead_kb));
    // The choices are exactly what this device's kernel offers (read from its own list, not assumed).
    const offered = parseScheduler(readFileSync(`/sys/block/${loop.name}/queue/scheduler`, 'utf8')).available.sort();
    assert.deepEqual(byName.scheduler!.kind === 'categorical' && [...byName.scheduler!.values].sort(), offered);
    const hw = Number(execFileSync('cat', [`/sys/block/${loop.name}/queue/max_hw_sectors_kb`], { encoding: 'utf8' }));
    assert.ok(byName.max_sectors_kb!.kind === 'ordinal' && Math.max(...byName.max_sectors_kb!.values) === hw, 'max_sectors_kb bounded by max_hw_sectors_kb');
    assert.ok(!isFeasible(space, { ...space.baseline, scheduler: 'none', nr_requests: 2048 }), 'tag depth bounds nr_requests without a scheduler');
    assert.ok(isFeasible(space, { ...space.baseline, scheduler: 'mq-deadline', nr_requests: 2048 }));
    const cfg = hostConfigToApply(space, { ...space.baseline, read_ahead_kb: 4096, scheduler: 'mq-deadline', nr_requests: 512 });
    await applyHostConfig(loop.path, cfg, { store });
    assert.equal(readSnapshot(resolveDevice(loop.path)).nr_requests, '512');
    await revertHostConfig(loop.path, { store });
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), before);
  }),
);

test('a partition resolves to its disk', { skip }, () => {
  // The partition table goes into the backing file before the device is attached (the collector's testbed):
  // written after, through the file, the kernel's rescan would read the device's cached, empty first sector,
  // and the test only ever skipped.
  const disk = createLoop(32, { partition: { start: 2048, sectors: 8192 } });
  try {
    const part = disk.partitions![0]!;
    const dev = resolveDevice(part);
    assert.equal(dev.disk.name, disk.name);
    assert.equal(dev.name, `${disk.name}p1`);
    assert.deepEqual(dev.partition, { start: 2048, sectors: 8192 });
    // By name or by node: one set of rules, the same device.
    assert.deepEqual({ ...resolveDevice(`${disk.name}p1`), given: part }, dev);
  } finally {
    disk.destroy();
  }
});

test(
  'values the kernel would round or overflow, and one attribute spelled twice, are refused before any write',
  { skip },
  withLoop(async (loop, store) => {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    const offered = parseScheduler(readFileSync(`/sys/block/${loop.name}/queue/scheduler`, 'utf8')).available;
    const page = pageKb();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ read_ahead_kb: 128, 'queue/read_ahead_kb': 256 }, /read_ahead_kb=256 is not valid: given twice, as "read_ahead_kb" and "queue\/read_ahead_kb"/],
      [{ 'iosched.fifo_batch': 8, 'queue/iosched/fifo_batch': 8, scheduler: 'mq-deadline' }, /given twice/],
      [{ read_ahead_kb: page * 32 + 1 }, new RegExp(`whole ${page} KiB pages and would read back ${page * 32}`)],
    ];
    const hz = kernelHz();
    if (hz !== null && offered.includes('mq-deadline')) {
      // The model of msecs_to_jiffies/jiffies_to_msecs checked against this kernel on our own device first.
      const probe = await import('../src/blockdev/sysfs.js');
      await applyHostConfig(loop.path, { scheduler: 'mq-deadline' }, { store });
      try {
        for (const ms of [1, 5, 7, 2147483647]) {
          probe.writeAttr(dev, 'iosched.read_expire', String(ms));
          assert.equal(Number(probe.readAttr(dev, 'iosched.read_expire')), jiffiesRoundTrip(ms, hz), `read_expire=${ms} at HZ=${hz}`);
        }
      } finally {
        await revertHostConfig(loop.path, { store });
      }
      assert.deepEqual(readSnapshot(dev), before);
      if (jiffiesRoundTrip(1, hz) !== 1)
        bad.push([
          { scheduler: 'mq-deadline', 'iosched.read_expire': 1 },
          new RegExp(`read_expire=1 is not valid: the kernel keeps it in jiffies of .* \\(HZ=${hz}\\) and would read back ${jiffiesRoundTrip(1, hz)}`),
        ]);
      if (jiffiesRoundTrip(2147483647, hz) !== 2147483647)
        bad.push([
          { scheduler: 'mq-deadline', 'iosched.write_expire': 2147483647 },
          /write_expire=2147483647 is not valid: the kernel would overflow it and read back -\d+/,
        ]);
      bad.push([{ scheduler: 'mq-deadline', 'iosched.async_depth': 0 }, /async_depth=0 is not valid: expected 1\.\./]);
    }
    for (const [cfg, re] of bad) {
      await assert.rejects(applyHostConfig(loop.path, cfg, { store }), (e) => {
        assert.ok(isSsdtuneError(e, 'SSDTUNE_HOST_VALUE'), `${JSON.stringify(cfg)}: ${String(e)}`);
        assert.match((e as Error).message, re);
        return true;
      });
    }
    assert.deepEqual(readSnapshot(dev), before);
    assert.equal(await store.get(loop.name), undefined);
  }),
);

/**
 * Another ssdtune process mid-measurement: a live evaluation's trial of read_ahead_kb 256 on `loop`, recorded in the
 * state store at `storeDir`, held `holdMs`, with `env` added to its environment. Resolves once the trial is on the device.
 */
async function trialInAnotherProcess(
  loop: LoopDevice,
  storeDir: string,
  holdMs: number,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const script = `${storeDir}.mjs`;
  writeFileSync(
    script,
    `import { withTrialConfig } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/host/applier.js'))};
     import { JsonFileStateStore } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/host/state.js'))};
     await withTrialConfig(${JSON.stringify(loop.path)}, { read_ahead_kb: 256 }, new JsonFileStateStore(${JSON.stringify(storeDir)}), async () => {
       console.log('trying');
       await new Promise((r) => setTimeout(r, ${holdMs}));
     });`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('trying') && resolve());
    child.on('exit', () => reject(new Error('the trial process ended before trying')));
  });
  return { child, exited };
}

test(
  'a change by another process is refused while a trial holds the device, whatever ConfDB or run directory each uses',
  { skip, timeout: 60_000 },
  withLoop(async (loop, store, dataDir) => {
    const dev = resolveDevice(loop.path);
    const original = readSnapshot(dev).read_ahead_kb;
    // Another ssdtune process, with its own state store, trying read_ahead_kb 256 for 2 s. Its SSDTUNE_RUN_DIR
    // differs from this one's: an older ssdtune kept the queue lock there, so each process held a lock of its own.
    const { exited } = await trialInAnotherProcess(loop, path.join(dataDir, 'other'), 2000, { SSDTUNE_RUN_DIR: path.join(dataDir, 'run') });
    assert.equal(readSnapshot(dev).read_ahead_kb, '256');
    // Before the lock, this apply recorded the other's trial value (256) as the device's way back, and the trial's
    // restore then undid the apply behind its record.
    await assert.rejects(
      applyHostConfig(loop.path, { read_ahead_kb: 512 }, { store }),
      (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /busy: pid \d+ is changing its queue attributes/.test(e.message),
    );
    await assert.rejects(revertHostConfig(loop.path, { store }), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /busy/.test(e.message));
    assert.equal(await store.get(dev.disk.name), undefined, 'nothing was recorded');
    assert.equal((await exited).code, 0);
    assert.equal(readSnapshot(dev).read_ahead_kb, original, 'the trial restored the device');
    // Once the trial is over, the change goes through, with the true way back.
    await applyHostConfig(loop.path, { read_ahead_kb: 512 }, { store });
    assert.equal((await store.get(dev.disk.name))!.previous.read_ahead_kb, original);
    await revertHostConfig(loop.path, { store });
    assert.equal(readSnapshot(dev).read_ahead_kb, original);
  }),
);

test(
  'a queue lock file left naming a live process that does not hold it (a kill -9, then its pid reused) does not make the device busy',
  { skip },
  withLoop(async (loop, store) => {
    const dev = resolveDevice(loop.path);
    const original = readSnapshot(dev).read_ahead_kb;
    const file = `${LOCK_DIR}/queue-${dev.disk.major}_${dev.disk.minor}.lock`;
    // The process the killed holder's pid now belongs to: alive, and no ssdtune.
    const reused = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(file, `${reused.pid}\n`);
      // Before, the apply was refused as busy (pid <sleep's> is changing its queue attributes) until that pid ended.
      await applyHostConfig(loop.path, { read_ahead_kb: 2 * Number(original) + 4 }, { store });
      assert.equal(existsSync(file), false, 'taken, then released');
      await revertHostConfig(loop.path, { store });
      assert.equal(readSnapshot(dev).read_ahead_kb, original);
    } finally {
      reused.kill('SIGKILL');
      rmSync(file, { force: true });
    }
  }),
);

test(
  "a change's mark naming a pid that a process started since has taken (the marking process killed) is an interrupted change, not one in progress",
  { skip },
  withLoop(async (loop, store) => {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    const raised = String(2 * Number(before.read_ahead_kb) + 4);
    // The process the marking process's pid now belongs to: alive, and no ssdtune.
    const reused = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((resolve) => reused.once('spawn', resolve));
    /** A trial's mark, made at `at` by the pid `reused` now has, killed before its first write (the device shows `before`). */
    const markedAt = (at: number) =>
      store.put({
        device: dev.disk.name,
        devNumber: dev.disk.devNumber,
        recordedOn: hostIdentity(),
        savedAt: new Date(at).toISOString(),
        previous: before,
        applied: {},
        pending: { op: 'trial', pid: reused.pid!, startedAt: new Date(at).toISOString(), before },
      });
    try {
      // Marked a minute before that process started: not its mark. Before, the apply was refused while `sleep` ran
      // ("busy: a live evaluation (pid <sleep's>) is in progress").
      await markedAt(Date.now() - 60_000);
      await applyHostConfig(loop.path, { read_ahead_kb: raised }, { store });
      assert.equal((await store.get(dev.disk.name))?.pending, undefined, 'the mark was settled');
      await revertHostConfig(loop.path, { store });
      assert.deepEqual(readSnapshot(dev), before);
      // Marked after that process started: it may be its own, still at it.
      await markedAt(Date.now());
      await assert.rejects(
        applyHostConfig(loop.path, { read_ahead_kb: raised }, { store }),
        (e: unknown) =>
          isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && new RegExp(`busy: a live evaluation \\(pid ${reused.pid}, .*\\) is in progress`).test(e.message),
      );
      assert.deepEqual(readSnapshot(dev), before);
    } finally {
      reused.kill('SIGKILL');
    }
  }),
);

test(
  'a trial ended by SIGTERM or SIGINT gives the device its values back at once, and the next change settles its record',
  { skip, timeout: 60_000 },
  withLoop(async (loop, _store, dataDir) => {
    const dev = resolveDevice(loop.path);
    const original = readSnapshot(dev).read_ahead_kb;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // An ssdtune process mid-measurement told to stop.
      const other = path.join(dataDir, `other-${signal}`);
      const { child, exited } = await trialInAnotherProcess(loop, other, 30_000);
      assert.equal(readSnapshot(dev).read_ahead_kb, '256');
      child.kill(signal);
      assert.equal((await exited).signal, signal, 'the process ends by the signal');
      // Before, the device kept the trial's value until someone ran revert.
      assert.equal(readSnapshot(dev).read_ahead_kb, original, `${signal}: the device has its value back`);
      const store = new JsonFileStateStore(other);
      const rec = await store.get(dev.disk.name);
      assert.equal(rec?.pending?.op, 'trial', 'the record says a trial was interrupted');
      assert.equal(rec?.previous.read_ahead_kb, original);
      // The device shows what it had before the trial: the next change settles the mark instead of refusing
      // until a revert (which would also undo an earlier apply), and records the true way back.
      await applyHostConfig(loop.path, { read_ahead_kb: 512 }, { store });
      const after = await store.get(dev.disk.name);
      assert.equal(after?.pending, undefined);
      assert.equal(after?.previous.read_ahead_kb, original);
      await revertHostConfig(loop.path, { store });
      assert.equal(await store.get(dev.disk.name), undefined);
      assert.equal(readSnapshot(dev).read_ahead_kb, original);
    }
    // A trial after an apply, ended by SIGTERM: the apply's record comes back as it was, applied values and all.
    const store = new JsonFileStateStore(path.join(dataDir, 'applied'));
    // A value the device does not have (a loop device's default differs between kernels and sizes).
    const raised = String(2 * Number(original) + 4);
    await applyHostConfig(loop.path, { read_ahead_kb: raised }, { store });
    const applied = await store.get(dev.disk.name);
    const { child, exited } = await trialInAnotherProcess(loop, path.join(dataDir, 'applied'), 30_000);
    child.kill('SIGTERM');
    await exited;
    assert.equal(readSnapshot(dev).read_ahead_kb, raised);
    assert.ok((await store.get(dev.disk.name))?.pending);
    await applyHostConfig(loop.path, { nomerges: 1 }, { store });
    const rec = await store.get(dev.disk.name);
    assert.deepEqual(rec?.previous, applied?.previous, "the way back is the first apply's");
    assert.deepEqual(rec?.applied, { ...applied?.applied, nomerges: '1' });
    await revertHostConfig(loop.path, { store });
    assert.equal(readSnapshot(dev).read_ahead_kb, original);
  }),
);

test(
  "a trial names a bad configuration before a missing root, and root before the device's record; as root, a busy device before a bad configuration",
  { skip, timeout: 60_000 },
  withLoop(async (loop, _store, dataDir) => {
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    const bad = { read_ahead_kb: 'lots' };
    const raise = { read_ahead_kb: Number(before.read_ahead_kb) + 8 };
    // Not root: each trial's first error (or that it measured), against a record of another host's, which a trial
    // refuses whatever it changes. No lock without root: the configuration is validated first, as always.
    chmodSync(dataDir, 0o755);
    const child = path.join(dataDir, 'trials.mjs');
    writeFileSync(
      child,
      `import { withTrialConfig } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/host/applier.js'))};
       import { MemoryStateStore } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/host/state.js'))};
       const store = new MemoryStateStore();
       await store.put(${JSON.stringify({
         device: dev.disk.name,
         devNumber: dev.disk.devNumber,
         recordedOn: { id: 'machine-id:0123456789abcdef0123456789abcdef', name: 'other-host' },
         savedAt: new Date().toISOString(),
         previous: before,
         applied: {},
       })});
       const seen = [];
       for (const cfg of ${JSON.stringify([bad, raise, { read_ahead_kb: Number(before.read_ahead_kb) }])}) {
         try {
           await withTrialConfig(${JSON.stringify(loop.path)}, cfg, store, async () => seen.push('measured'));
         } catch (e) {
           seen.push(e.code);
         }
       }
       console.log(JSON.stringify(seen));`,
    );
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, child], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['SSDTUNE_HOST_VALUE', 'SSDTUNE_HOST_ROOT', 'SSDTUNE_HOST_STATE']);
    // Root, while another change holds the device: busy first (the configuration is validated under the lock, against
    // the values the trial would start from).
    const store = new MemoryStateStore();
    const lock = lockBlockDevice('queue', dev.disk, () => new Error('the test could not take the lock'));
    try {
      await assert.rejects(
        withTrialConfig(loop.path, bad, store, async () => assert.fail('measured on a busy device')),
        (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /busy: this process is changing its queue attributes/.test(e.message),
      );
    } finally {
      lock.release();
    }
    await assert.rejects(
      withTrialConfig(loop.path, bad, store, async () => assert.fail('measured a bad configuration')),
      (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_VALUE') && /read_ahead_kb="lots" is not valid/.test(e.message),
    );
    assert.deepEqual(readSnapshot(dev), before);
    assert.equal(await store.get(dev.disk.name), undefined);
  }),
);
