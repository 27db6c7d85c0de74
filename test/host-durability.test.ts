/**
 * The way back to a device's settings survives every failure (issue 15,
 * items 2 and 3): a rollback the kernel refuses part-way, and kill -9 at
 * every sysfs write of `apply` and of `tune --evaluator live` (its search and
 * its confirmation rounds). Failures are
 * injected into the real CLI by strace (-e inject) on the sysfs files of a
 * loop device this test creates; after each one, either the device holds its
 * original values or the ConfDB records them, and `revert` restores them.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canUseLoopDevices, type LoopDevice } from '../src/blockdev/loop.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { QUEUE_ATTRS, readSnapshot, type Snapshot } from '../src/blockdev/sysfs.js';
import { PROJECT_ROOT } from '../src/native.js';
import { ConfDB } from '../src/confdb/db.js';
import type { DeviceRecord } from '../src/confdb/records.js';
import { revertHostConfig } from '../src/host/applier.js';
import { ConfDbStateStore } from '../src/host/confdb-state.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { loopWithoutScheduler } from './helpers/loop.js';
import { readaheadOffWithSeed, writeSequentialReads } from './helpers/readahead-gain.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

function haveStrace(): string | undefined {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'strace is not installed (scripts/install-deps.sh installs it)';
  }
}
const skip = canUseLoopDevices() ?? haveStrace();

interface Ctx {
  loop: LoopDevice;
  dir: string;
  queue: string;
  before: Snapshot;
  /** The CLI; with `strace`, under strace with those arguments (its log in `log`). */
  run(args: string[], dataDir: string, strace?: string[], log?: string): SpawnSyncReturns<string>;
}

function withLoop(fn: (c: Ctx, t: TestContext) => Promise<void> | void, o: { fill?: boolean } = {}) {
  return async (t: TestContext) => {
    const dir = tempDir('ssdtune-durability-');
    const loop = loopWithoutScheduler(32 << 20, o);
    try {
      const dev = resolveDevice(loop.path);
      const queue = path.join(dev.disk.sysDir, 'queue');
      // The main thread only (no -f): the applier writes sysfs there, synchronously. Traced too, the replay's and the
      // ConfDB's threads stopped at each of their calls, which doubled a live tune's time and shrank the readahead
      // gain the confirmation needs (grade 2.9 untraced, 0.24 with -f, over 1000 pages).
      const run = (args: string[], dataDir: string, strace?: string[], log = '/dev/null') =>
        spawnSync(
          strace ? 'strace' : process.execPath,
          [...(strace ? ['-qq', '-o', log, ...strace, process.execPath] : []), CLI, ...args, '--data-dir', dataDir],
          { encoding: 'utf8', timeout: 120_000 },
        );
      await fn({ loop, dir, queue, before: readSnapshot(dev), run }, t);
    } finally {
      loop.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** strace arguments that trace only the device's queue attribute files. */
function onAttrs(queue: string, extra: string[] = []): string[] {
  return [...QUEUE_ATTRS, ...extra].flatMap((a) => ['-P', path.join(queue, a)]);
}

const killed = (r: SpawnSyncReturns<string>) => r.signal === 'SIGKILL' || r.status === 137;

/** The device record in the ConfDB (opened here: the CLI that held it has exited), or undefined. */
async function record(c: Ctx, dataDir: string): Promise<DeviceRecord | undefined> {
  const db = await ConfDB.open(dataDir);
  try {
    return await db.get('devices', c.loop.name);
  } finally {
    await db.close();
  }
}

/**
 * After any failure: the device holds its original values, or the ConfDB
 * records them; revert (the service call behind the CLI's) then restores them.
 */
async function assertWayBack(c: Ctx, dataDir: string, what: string): Promise<void> {
  const now = readSnapshot(resolveDevice(c.loop.path));
  const rec = await record(c, dataDir);
  if (!rec) {
    assert.deepEqual(now, c.before, `${what}: the device changed but nothing was recorded`);
    return;
  }
  assert.deepEqual(rec.previous, c.before, `${what}: the record holds the original values`);
  // A trial killed before its first write took effect left the device as it found it: the next change settles
  // its mark (the applier's settledRecord), and a trial of its own has nothing to revert.
  const settles = rec.pending?.op === 'trial' && isDeepStrictEqual(now, rec.pending.before) && Object.keys(rec.applied).length === 0;
  const db = await ConfDB.open(dataDir);
  try {
    const revert = revertHostConfig(c.loop.name, { store: new ConfDbStateStore(db, 'test') });
    if (settles) await assert.rejects(revert, (e: unknown) => isSsdtuneError(e, 'SSDTUNE_HOST_STATE') && /nothing to revert/.test(e.message));
    else await revert;
    assert.equal(await db.get('devices', c.loop.name), undefined, `${what}: the record is gone once the device is back`);
  } finally {
    await db.close();
  }
  assert.deepEqual(readSnapshot(resolveDevice(c.loop.path)), c.before, `${what}: revert restored the original values`);
}

test(
  'a rollback that fails part-way keeps the record, marked, and revert restores from it',
  { skip },
  withLoop(async (c) => {
    assert.equal(c.before.scheduler, 'none', 'withLoop starts without a scheduler');
    const cfg = path.join(c.dir, 'cfg.json');
    // Written in order max_sectors_kb, read_ahead_kb, nr_requests; without a scheduler the kernel
    // refuses nr_requests 2048 (above the tag depth), and the rollback's write of read_ahead_kb
    // (the second write to that file) gets EIO.
    writeFileSync(cfg, JSON.stringify({ nr_requests: 2048, read_ahead_kb: Number(c.before.read_ahead_kb) + 4, max_sectors_kb: 32 }));
    const data = path.join(c.dir, 'db');
    const r = c.run(['apply', '--device', c.loop.path, '--config', cfg], data, [
      '-P',
      path.join(c.queue, 'read_ahead_kb'),
      '-e',
      'trace=write',
      '-e',
      'inject=write:error=EIO:when=2',
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /nr_requests=2048 failed .*ROLLBACK INCOMPLETE: read_ahead_kb=\d+ \(EIO.*ssdtune revert --device .*SSDTUNE_HOST_APPLY/);
    assert.equal(readSnapshot(resolveDevice(c.loop.path)).read_ahead_kb, String(Number(c.before.read_ahead_kb) + 4), 'the device is still changed');
    const rec = await record(c, data);
    assert.ok(rec, 'the record survives the failed rollback');
    assert.deepEqual(rec.previous, c.before);
    assert.equal(rec.pending?.op, 'apply');
    assert.deepEqual(rec.pending?.failed?.left, ['read_ahead_kb']);
    // Nothing else may be applied over a device in an unknown state.
    const again = c.run(['apply', '--device', c.loop.path, '--config', cfg], data);
    assert.equal(again.status, 7, again.stderr);
    assert.match(again.stderr, /failed and could not roll back.*ssdtune revert.*SSDTUNE_HOST_STATE/);
    const rv = c.run(['revert', '--device', c.loop.name], data);
    assert.equal(rv.status, 0, rv.stderr);
    assert.match(rv.stdout, /could not roll back: read_ahead_kb.*restoring the original values/);
    assert.deepEqual(readSnapshot(resolveDevice(c.loop.path)), c.before);
    assert.equal(await record(c, data), undefined);
  }),
);

test(
  'a revert whose write fails keeps the record; the next revert completes',
  { skip },
  withLoop(async (c) => {
    const cfg = path.join(c.dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ read_ahead_kb: Number(c.before.read_ahead_kb) + 8, max_sectors_kb: 64 }));
    const data = path.join(c.dir, 'db');
    assert.equal(c.run(['apply', '--device', c.loop.path, '--config', cfg], data).status, 0);
    const r = c.run(['revert', '--device', c.loop.name], data, [
      '-P',
      path.join(c.queue, 'read_ahead_kb'),
      '-e',
      'trace=write',
      '-e',
      'inject=write:error=EIO:when=1',
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /restoring the recorded original values failed: read_ahead_kb=\d+ \(EIO.*SSDTUNE_HOST_RESTORE/);
    assert.equal((await record(c, data))?.pending?.op, 'revert');
    await assertWayBack(c, data, 'second revert');
  }),
);

test(
  'kill -9 at every sysfs write of apply: the original values are recorded or untouched',
  { skip, timeout: 120_000 },
  withLoop(async (c) => {
    const cfg = path.join(c.dir, 'cfg.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        scheduler: 'mq-deadline',
        'iosched.fifo_batch': 8,
        max_sectors_kb: 64,
        read_ahead_kb: Number(c.before.read_ahead_kb) + 12,
        nomerges: 1,
      }),
    );
    const trace = onAttrs(c.queue, ['iosched/fifo_batch']);
    let completed = false;
    for (let n = 1; n < 20 && !completed; n++) {
      const data = path.join(c.dir, `db-w${n}`);
      const r = c.run(['apply', '--device', c.loop.path, '--config', cfg], data, [...trace, '-e', 'trace=write', '-e', `inject=write:signal=KILL:when=${n}`]);
      completed = !killed(r);
      if (completed) assert.equal(r.status, 0, r.stderr);
      if (n === 2) {
        // An interrupted apply is not built upon.
        const again = c.run(['apply', '--device', c.loop.path, '--config', cfg], data);
        assert.equal(again.status, 7, again.stderr);
        assert.match(again.stderr, /an apply \(pid \d+.*\) was interrupted.*ssdtune revert/);
      }
      await assertWayBack(c, data, `killed at write ${n}`);
    }
    assert.ok(completed, 'the sweep reached an apply that completed');
    // After the last write (iosched.fifo_batch: the scheduler's tunables come last), before the record is marked
    // complete: kill at the reads of that file that follow its write (the read-back and the final snapshot), counted
    // on a clean run.
    const log = path.join(c.dir, 'reads.log');
    const clean = c.run(
      ['apply', '--device', c.loop.path, '--config', cfg],
      path.join(c.dir, 'db-clean'),
      ['-P', path.join(c.queue, 'iosched', 'fifo_batch'), '-e', 'trace=read,write'],
      log,
    );
    assert.equal(clean.status, 0, clean.stderr);
    await assertWayBack(c, path.join(c.dir, 'db-clean'), 'clean run');
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /^(read|write)\(/.test(l))
      .map((l) => (/^write\(/.test(l) ? 'w' : 'r'));
    const readsBeforeWrite = calls.slice(0, calls.indexOf('w')).length;
    const readsAfter = calls.length - readsBeforeWrite - 1;
    assert.ok(readsAfter >= 1, `fifo_batch is read back after its write (${calls.join('')})`);
    for (let n = readsBeforeWrite + 1; n <= readsBeforeWrite + readsAfter; n++) {
      const data = path.join(c.dir, `db-r${n}`);
      const r = c.run(['apply', '--device', c.loop.path, '--config', cfg], data, [
        '-P',
        path.join(c.queue, 'iosched', 'fifo_batch'),
        '-e',
        'trace=read',
        '-e',
        `inject=read:signal=KILL:when=${n}`,
      ]);
      assert.ok(killed(r), `killed at read ${n}`);
      assert.equal(readSnapshot(resolveDevice(c.loop.path))['iosched.fifo_batch'], '8', 'the last write had happened');
      await assertWayBack(c, data, `killed at read ${n} of fifo_batch, after its write`);
    }
  }),
);

test(
  'kill -9 at every sysfs write of `tune --evaluator live`, its confirmation rounds included: revert restores the device',
  { skip, timeout: 240_000 },
  withLoop(
    async (c0) => {
      // A search whose best beats the baseline (helpers/readahead-gain.ts), so that the confirmation runs: the
      // candidate and the baseline measured again, two rounds, alternating, each measurement through its own trial.
      const seed = readaheadOffWithSeed(c0.loop.path);
      const c: Ctx = { ...c0, before: readSnapshot(resolveDevice(c0.loop.path)) };
      const trace = path.join(c.dir, 'seq.trace');
      writeSequentialReads(trace, 1000);
      const args = ['tune', '--space', 'host', '--evaluator', 'live', '--device', c.loop.path, '--budget', '2', '--seed', String(seed)];
      args.push('--replay', 'closed:1', '--confirm-rounds', '2', '--progress', 'log', trace);
      const kills = { search: 0, confirmation: 0 };
      const checked = { refused: false, settled: false };
      let completed = false;
      for (let n = 1; n < 40 && !completed; n++) {
        const data = path.join(c.dir, `db-t${n}`);
        const r = c.run(args, data, [...onAttrs(c.queue, ['iosched/fifo_batch']), '-e', 'trace=write', '-e', `inject=write:signal=KILL:when=${n}`]);
        completed = !killed(r);
        if (completed) {
          assert.equal(r.status, 0, r.stderr);
          assert.match(r.stderr, /confirming the best against the baseline 4\/4/);
        } else if (/confirming the best against the baseline 0\/4/.test(r.stderr)) {
          kills.confirmation++;
          const left = !isDeepStrictEqual(readSnapshot(resolveDevice(c.loop.path)), c.before);
          if (left && !checked.refused) {
            checked.refused = true;
            // Nothing starts from what a killed trial left: the next tune is refused until the device is reverted.
            const again = c.run(args, data);
            assert.equal(again.status, 7, again.stderr);
            assert.match(again.stderr, /a live evaluation \(pid \d+.*\) was interrupted.*ssdtune revert/);
          } else if (!left && !checked.settled) {
            checked.settled = true;
            // Killed before its first write took effect: the device is as it was, and the next tune settles the mark.
            const again = c.run(args, data);
            assert.equal(again.status, 0, again.stderr);
          }
        } else kills.search++;
        await assertWayBack(c, data, `tune killed at write ${n}`);
      }
      assert.ok(completed, 'the sweep reached a tune that completed');
      assert.deepEqual(checked, { refused: true, settled: true }, 'kills in the confirmation left the device changed, and unchanged');
      // The search's one candidate trial writes its attributes and restores them; the confirmation has two such trials
      // (a trial of the baseline writes nothing: it is what the device has).
      assert.ok(kills.search >= 2, `the candidate writes at least one attribute and restores it (${kills.search} kill points)`);
      assert.equal(kills.confirmation, 2 * kills.search, 'every write of the confirmation was a kill point');
    },
    { fill: true },
  ),
);
