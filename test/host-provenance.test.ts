/**
 * A device's recorded way back is this device's (docs/devices.md): on real
 * loop devices this test creates (root only), a record made on another host
 * is refused by apply, a live trial and revert, and by an import; a record
 * naming no host (an older ssdtune's) is trusted only while the device shows
 * its applied values, or attribute by attribute its applied or previous ones
 * or what a scheduler switch explains; `applied` stays truthful when a new
 * scheduler resets nr_requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyHostConfig, revertHostConfig, withTrialConfig } from '../src/host/applier.js';
import { ConfDbStateStore } from '../src/host/confdb-state.js';
import { hostIdentity } from '../src/util/host-identity.js';
import { ConfDB } from '../src/confdb/db.js';
import type { DeviceRecord } from '../src/confdb/records.js';
import { exportConfDB, importConfDB } from '../src/confdb/transfer.js';
import { resolveDevice, type BlockDevice } from '../src/blockdev/resolve.js';
import { parseScheduler, readSnapshot, writeAttr, type Snapshot } from '../src/blockdev/sysfs.js';
import { canUseLoopDevices, type LoopDevice } from '../src/blockdev/loop.js';
import { loopWithoutScheduler } from './helpers/loop.js';
import { isSsdtuneError, type SsdtuneError } from '../src/errors.js';
import { loadSettings } from '../src/config.js';
import { openService, type Service } from '../src/service/context.js';
import { verifyDevice } from '../src/service/devices.js';
import { tempDir } from '../src/util/temp-dir.js';

const skip = canUseLoopDevices();
const OTHER = { id: 'machine-id:0123456789abcdef0123456789abcdef', name: 'other-host' };

interface Ctx {
  loop: LoopDevice;
  dev: BlockDevice;
  dir: string;
  svc: Service;
  db: ConfDB;
  store: ConfDbStateStore;
  before: Snapshot;
  /** The device's values now. */
  now(): Snapshot;
}

function withLoop(fn: (c: Ctx) => Promise<void>) {
  return async () => {
    const dir = tempDir('ssdtune-provenance-');
    const loop = loopWithoutScheduler(32 << 20);
    const svc = await openService(loadSettings({ dataDir: path.join(dir, 'data'), port: 0 }));
    const db = svc.db;
    const dev = resolveDevice(loop.path);
    const before = readSnapshot(dev);
    try {
      await fn({ loop, dev, dir, svc, db, store: new ConfDbStateStore(db, 'test'), before, now: () => readSnapshot(dev) });
    } finally {
      await svc.close();
      loop.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The record as an older ssdtune wrote it: no recordedOn (and, given, the `applied` it kept). */
async function makeLegacy(c: Ctx, applied?: Record<string, string>): Promise<DeviceRecord> {
  const { recordedOn: _, ...rec } = (await c.db.get('devices', c.loop.name))!;
  const legacy = applied ? { ...rec, applied } : rec;
  await c.db.put('devices', legacy);
  return legacy;
}

/** Apply `config` over a record naming no host: the record becomes this host's and keeps its first way back. */
async function applyAdopting(c: Ctx, config: Record<string, unknown>): Promise<DeviceRecord> {
  await applyHostConfig(c.loop.path, config, { store: c.store });
  const adopted = (await c.db.get('devices', c.loop.name))!;
  assert.deepEqual(adopted.recordedOn, hostIdentity(), "adopted as this host's");
  assert.deepEqual(adopted.previous, c.before, 'the first way back is kept');
  return adopted;
}

/** mq-deadline and a third scheduler the device offers (neither none nor the one it started with). */
function mqDeadlineAndAnother(c: Ctx): [string, string] {
  const offered = parseScheduler(readFileSync(`/sys/block/${c.loop.name}/queue/scheduler`, 'utf8')).available;
  const other = offered.find((x) => !['mq-deadline', 'none', c.before.scheduler].includes(x));
  assert.ok(offered.includes('mq-deadline') && other, `mq-deadline and a third scheduler are offered (${offered.join(' ')})`);
  return ['mq-deadline', other];
}

const refused = (re: RegExp) => (e: unknown) => {
  assert.ok(isSsdtuneError(e, 'SSDTUNE_HOST_STATE'), String(e));
  assert.match((e as Error).message, re);
  return true;
};

/** The audit's revert actions, oldest first. */
async function revertActions(db: ConfDB): Promise<string[]> {
  return (await db.list('audit')).map((a) => a.action).filter((x) => x.startsWith('host.revert'));
}

/** A revert of a record the check trusts: the device is back as it was, audited as an ordinary revert (`--anyway` overrides nothing then). */
async function trustedRevertRestores(c: Ctx, o: { anyway?: boolean } = {}): Promise<void> {
  await revertHostConfig(c.loop.path, { store: c.store, ...o });
  assert.deepEqual(c.now(), c.before);
  assert.deepEqual(await revertActions(c.db), ['host.revert']);
}

/** `revert --anyway` of a refused record: the device holds `expected` (the recorded previous values), the record is gone, and the audit says the check was overridden. */
async function revertAnywayRestores(c: Ctx, expected: Snapshot): Promise<void> {
  await revertHostConfig(c.loop.path, { store: c.store, anyway: true });
  assert.deepEqual(c.now(), expected);
  assert.equal(await c.db.get('devices', c.loop.name), undefined);
  assert.deepEqual(await revertActions(c.db), ['host.revert-anyway'], 'the audit says the check was overridden');
}

test('hostIdentity: the machine id when there is one, the host name otherwise', () => {
  const dir = tempDir('ssdtune-identity-');
  try {
    const f = path.join(dir, 'machine-id');
    writeFileSync(f, '0123456789ABCDEF0123456789abcdef\n');
    const h = hostIdentity(f);
    assert.equal(h.id, 'machine-id:0123456789abcdef0123456789abcdef');
    assert.equal(hostIdentity(path.join(dir, 'none')).id, `hostname:${h.name}`);
    writeFileSync(f, 'uninitialized\n');
    assert.equal(hostIdentity(f).id, `hostname:${h.name}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "another host's record is refused by apply, a live trial and revert, and nothing is written; revert --anyway restores it",
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    // Another host's nvme0n1, brought in by a shared ConfDB: same name, same number, that host's values.
    await c.db.put('devices', {
      device: c.loop.name,
      devNumber: c.dev.disk.devNumber,
      recordedOn: OTHER,
      applied: { read_ahead_kb: String(ra + 8) },
      previous: { ...c.before, read_ahead_kb: String(ra + 4) },
      appliedAt: new Date().toISOString(),
      by: 'someone',
    });
    const foreign = new RegExp(`${c.loop.name}.* made on another host, other-host, not on this one.*ssdtune db delete devices ${c.loop.name}`);
    await assert.rejects(applyHostConfig(c.loop.path, { read_ahead_kb: ra + 12 }, { store: c.store }), refused(foreign));
    assert.deepEqual(c.now(), c.before, 'apply wrote nothing');
    let measured = false;
    await assert.rejects(
      withTrialConfig(c.loop.path, { read_ahead_kb: ra + 12 }, c.store, async () => {
        measured = true;
      }),
      refused(foreign),
    );
    assert.ok(!measured, 'the trial did not run');
    await assert.rejects(revertHostConfig(c.loop.path, { store: c.store }), refused(/--anyway/));
    await assert.rejects(revertHostConfig(c.loop.path, { store: c.store, dryRun: true }), refused(foreign));
    assert.deepEqual(c.now(), c.before, 'revert wrote nothing');
    assert.deepEqual((await c.db.get('devices', c.loop.name))?.recordedOn, OTHER, 'the record stays');
    // The user says it is this device's after all (this host's machine id changed): revert restores it.
    await revertAnywayRestores(c, { ...c.before, read_ahead_kb: String(ra + 4) });
  }),
);

test(
  "an import of another host's device record is refused before anything is written; this host's own imports and reverts",
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 16 }, { store: c.store });
    const rec = (await c.db.get('devices', c.loop.name))!;
    assert.deepEqual(rec.recordedOn, hostIdentity(), 'the record names this host');
    const own = path.join(c.dir, 'own.jsonl');
    await exportConfDB(c.db, own);
    const lines = readFileSync(own, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"devices"'));
    const foreign = path.join(c.dir, 'foreign.jsonl');
    writeFileSync(foreign, lines.map((l, i) => (i === at ? JSON.stringify({ kind: 'devices', value: { ...rec, recordedOn: OTHER } }) : l)).join('\n'));
    const fresh = await ConfDB.open(path.join(c.dir, 'fresh'));
    try {
      await assert.rejects(importConfDB(fresh, foreign, 'test'), (e) => {
        assert.ok(isSsdtuneError(e, 'SSDTUNE_CONFDB_IMPORT'), String(e));
        assert.match((e as Error).message, new RegExp(`line ${at + 1}: device ${c.loop.name}'s record was made on another host, other-host`));
        return true;
      });
      assert.equal(await fresh.count('devices'), 0);
      assert.equal(await fresh.count('audit'), 0, 'nothing written');
      // The README's move (LevelDB export, import on the same host): accepted, and its way back works.
      await importConfDB(fresh, own, 'test');
      assert.deepEqual(await fresh.get('devices', c.loop.name), rec);
      await revertHostConfig(c.loop.path, { store: new ConfDbStateStore(fresh, 'test') });
      assert.deepEqual(c.now(), c.before);
    } finally {
      await fresh.close();
    }
  }),
);

test(
  "a record naming no host is trusted while the device shows its applied values, or its previous ones (a reboot), and becomes this host's",
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    const rq = c.before.rq_affinity === '2' ? 1 : 2;
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 20, rq_affinity: rq }, { store: c.store });
    await makeLegacy(c);
    // The device shows the applied values: the normal case.
    await applyAdopting(c, { read_ahead_kb: ra + 24 });
    assert.equal(c.now().read_ahead_kb, String(ra + 24));
    // After a reboot the device shows its previous values again.
    await makeLegacy(c);
    for (const k of ['read_ahead_kb', 'rq_affinity']) writeAttr(c.dev, k, c.before[k]!);
    await applyAdopting(c, { read_ahead_kb: ra + 28, rq_affinity: rq });
    await makeLegacy(c);
    await trustedRevertRestores(c, { anyway: true });
  }),
);

test(
  'a record naming no host whose values the device shows neither of is refused, naming the attributes; revert --anyway restores it',
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 32 }, { store: c.store });
    await makeLegacy(c);
    writeAttr(c.dev, 'read_ahead_kb', String(ra + 36)); // neither applied nor previous
    const changed = c.now();
    const re = new RegExp(
      `names no host.*neither the applied nor the previous value of read_ahead_kb=${ra + 36} \\(applied ${ra + 32}, previous ${ra}\\): .*--anyway`,
    );
    await assert.rejects(applyHostConfig(c.loop.path, { read_ahead_kb: ra + 40 }, { store: c.store }), refused(re));
    let measured = false;
    await assert.rejects(
      withTrialConfig(c.loop.path, { read_ahead_kb: ra + 40 }, c.store, async () => {
        measured = true;
      }),
      refused(re),
    );
    assert.ok(!measured);
    await assert.rejects(revertHostConfig(c.loop.path, { store: c.store }), refused(re));
    assert.deepEqual(c.now(), changed, 'nothing written');
    await revertAnywayRestores(c, c.before);
  }),
);

test(
  'a scheduler applied after nr_requests resets it: applied no longer claims it, and the record naming no host is trusted',
  { skip },
  withLoop(async (c) => {
    const offered = parseScheduler(readFileSync(`/sys/block/${c.loop.name}/queue/scheduler`, 'utf8')).available;
    const other = offered.find((x) => x !== c.before.scheduler)!;
    assert.ok(other, `a second scheduler is offered (${offered.join(' ')})`);
    // Below the tag depth (the limit without a scheduler) and below every scheduler's default.
    const nr = 32;
    await applyHostConfig(c.loop.path, { nr_requests: nr }, { store: c.store });
    const r = await applyHostConfig(c.loop.path, { scheduler: other }, { store: c.store });
    assert.ok(r.sideEffects.includes('nr_requests'));
    assert.deepEqual(r.held, [], "a switch's resets are the new scheduler's defaults, not held");
    assert.notEqual(c.now().nr_requests, String(nr), 'the kernel reset nr_requests');
    const rec = await makeLegacy(c);
    assert.deepEqual(rec.applied, { scheduler: other }, 'applied holds what the device has');
    await applyHostConfig(c.loop.path, { read_ahead_kb: Number(c.before.read_ahead_kb) + 44 }, { store: c.store });
    await makeLegacy(c);
    await revertHostConfig(c.loop.path, { store: c.store });
    assert.deepEqual(c.now(), c.before);
  }),
);

test(
  "a record naming no host that an older ssdtune left claiming nr_requests and the old scheduler's tunables after a new scheduler reset them is trusted, while the device shows that scheduler",
  { skip },
  withLoop(async (c) => {
    const [first, then] = mqDeadlineAndAnother(c);
    await applyHostConfig(c.loop.path, { scheduler: first, 'iosched.fifo_batch': 8, nr_requests: 32 }, { store: c.store });
    await applyHostConfig(c.loop.path, { scheduler: then }, { store: c.store });
    assert.notEqual(c.now().nr_requests, '32', 'the kernel reset nr_requests');
    assert.equal(c.now()['iosched.fifo_batch'], undefined, "mq-deadline's tunables went with it");
    // The older ssdtune kept every value it had written in `applied`.
    const stale = { scheduler: then, 'iosched.fifo_batch': '8', nr_requests: '32' };
    await makeLegacy(c, stale);
    // Another scheduler shown (by hand, or another host's disk): the stale values are no longer the kernel's doing.
    writeAttr(c.dev, 'scheduler', first);
    await assert.rejects(
      applyHostConfig(c.loop.path, { read_ahead_kb: Number(c.before.read_ahead_kb) + 56 }, { store: c.store }),
      refused(new RegExp(`names no host.*scheduler=${first} `)),
    );
    writeAttr(c.dev, 'scheduler', then);
    const adopted = await applyAdopting(c, { read_ahead_kb: Number(c.before.read_ahead_kb) + 56 });
    assert.deepEqual(adopted.applied, { scheduler: then, read_ahead_kb: String(Number(c.before.read_ahead_kb) + 56) }, 'applied holds what the device has');
    await makeLegacy(c, { ...stale, read_ahead_kb: adopted.applied.read_ahead_kb! });
    await trustedRevertRestores(c);
  }),
);

test(
  "a record naming no host after a switch away from a scheduler and back is trusted while its tunables show the kernel's values for a new scheduler, and refused when one shows another",
  { skip },
  withLoop(async (c) => {
    const [a, b] = mqDeadlineAndAnother(c);
    // A→B→A: the switch back made mq-deadline's tunables afresh (fifo_batch 16).
    await applyHostConfig(c.loop.path, { scheduler: a, 'iosched.fifo_batch': 8 }, { store: c.store });
    await applyHostConfig(c.loop.path, { scheduler: b }, { store: c.store });
    await applyHostConfig(c.loop.path, { scheduler: a }, { store: c.store });
    assert.equal(c.now()['iosched.fifo_batch'], '16', "the switch back gave fifo_batch the kernel's value");
    // The older ssdtune kept every value it had written in `applied`, fifo_batch 8 with it.
    const stale = { scheduler: a, 'iosched.fifo_batch': '8' };
    // Another value than the kernel's (by hand, or another host's disk): not the switch's doing.
    writeAttr(c.dev, 'iosched.fifo_batch', '12');
    await makeLegacy(c, stale);
    await assert.rejects(
      applyHostConfig(c.loop.path, { read_ahead_kb: Number(c.before.read_ahead_kb) + 80 }, { store: c.store }),
      refused(/names no host.*iosched\.fifo_batch=12 \(applied 8, previous \(none\)\)/),
    );
    writeAttr(c.dev, 'iosched.fifo_batch', '16');
    const adopted = await applyAdopting(c, { read_ahead_kb: Number(c.before.read_ahead_kb) + 80 });
    assert.deepEqual(adopted.applied, { scheduler: a, read_ahead_kb: String(Number(c.before.read_ahead_kb) + 80) }, 'applied holds what the device has');
    await makeLegacy(c, { ...stale, read_ahead_kb: adopted.applied.read_ahead_kb! });
    await trustedRevertRestores(c);
  }),
);

test(
  'a record naming no host whose configuration was only partly applied again after a reboot is trusted, attribute by attribute',
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    const rq = c.before.rq_affinity === '2' ? 1 : 2;
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 60, rq_affinity: rq }, { store: c.store });
    await makeLegacy(c);
    // The reboot brought back the previous values; only rq_affinity was applied again.
    writeAttr(c.dev, 'read_ahead_kb', c.before.read_ahead_kb!);
    assert.equal(c.now().rq_affinity, String(rq));
    const adopted = await applyAdopting(c, { read_ahead_kb: ra + 64 });
    assert.deepEqual(adopted.applied, { rq_affinity: String(rq), read_ahead_kb: String(ra + 64) });
    await makeLegacy(c);
    await trustedRevertRestores(c);
  }),
);

test(
  "verify refuses another host's record (SSDTUNE_HOST_STATE, exit 7) instead of listing drift against that host's values; this host's record and one naming no host are verified",
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 68 }, { store: c.store });
    assert.deepEqual((await verifyDevice(c.svc, c.loop.path)).drift, []);
    const rec = (await c.db.get('devices', c.loop.name))!;
    // Another host's disk of the same name: its applied values are not this device's to drift from.
    await c.db.put('devices', { ...rec, recordedOn: OTHER, applied: { read_ahead_kb: String(ra + 72) } });
    await assert.rejects(verifyDevice(c.svc, c.loop.path), (e) => {
      refused(new RegExp(`${c.loop.name}.* made on another host, other-host, not on this one.*so verify compared nothing`))(e);
      assert.equal((e as SsdtuneError).exitCode, 7);
      return true;
    });
    // The name now another device's: refused as revert refuses it.
    await c.db.put('devices', { ...rec, devNumber: '7:9999' });
    await assert.rejects(verifyDevice(c.svc, c.loop.path), refused(/recorded for device 7:9999 .* the record is another device's, so verify compared nothing/));
    // A record naming no host is compared: verify writes nothing, and its drift names what differs.
    await c.db.put('devices', rec);
    await makeLegacy(c);
    writeAttr(c.dev, 'read_ahead_kb', String(ra + 76));
    assert.deepEqual((await verifyDevice(c.svc, c.loop.path)).drift, [{ key: 'read_ahead_kb', applied: String(ra + 68), now: String(ra + 76) }]);
    await revertAnywayRestores(c, c.before);
  }),
);

test(
  'a record of another medium under the same name and number (a loop device attached to another file) is refused by apply, verify and revert; revert --anyway restores it',
  { skip },
  withLoop(async (c) => {
    const ra = Number(c.before.read_ahead_kb);
    await applyHostConfig(c.loop.path, { read_ahead_kb: ra + 80 }, { store: c.store });
    assert.equal((await c.db.get('devices', c.loop.name))!.medium, `loop:${c.loop.backingFile}`);
    // The same loop device over another file: the name and the number are the same, the disk is not. The device's
    // destroy() leaves a number attached to another file alone, so it is detached here.
    const other = path.join(c.dir, 'other.img');
    writeFileSync(other, '');
    truncateSync(other, 32 << 20);
    execFileSync('losetup', ['-d', c.loop.path]);
    execFileSync('losetup', [c.loop.path, other]);
    try {
      const because = (what: string) =>
        refused(
          new RegExp(
            `state recorded for medium loop:${c.loop.backingFile} but ${c.loop.name} is now loop:${other}: the record is another disk's .*so ${what}; .*db delete devices ${c.loop.name}.*--anyway`,
          ),
        );
      await assert.rejects(verifyDevice(c.svc, c.loop.path), because('verify compared nothing'));
      await assert.rejects(applyHostConfig(c.loop.path, { read_ahead_kb: ra + 84 }, { store: c.store }), because('.*'));
      await assert.rejects(revertHostConfig(c.loop.path, { store: c.store }), because('.*'));
      assert.ok((await c.db.get('devices', c.loop.name))!.previous, 'the way back is kept');
      await revertAnywayRestores(c, c.before);
    } finally {
      spawnSync('losetup', ['-d', c.loop.path]);
    }
  }),
);
