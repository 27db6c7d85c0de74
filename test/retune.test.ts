/**
 * Cron-driven retuning on a real loop device: fio generates the workload, the
 * collector captures it, the service identifies it and applies its host
 * configuration; a second run in a row changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { retune } from '../src/service/retune.js';
import { decisionLine } from '../src/service/retune-decision.js';
import { checkBackend } from '../src/collector/doctor.js';
import { createLoop, haveTool, runFioAsync } from '../src/collector/testbed.js';
import { isSsdtuneError } from '../src/errors.js';
import { KINDS } from '../src/confdb/db.js';
import { tempDir } from '../src/util/temp-dir.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (loop devices, tracing)'
    : !haveTool('fio')
      ? 'fio is not installed'
      : !checkBackend('tracefs').works && !checkBackend('ebpf').works
        ? 'no live capture backend works here'
        : false;

test("retune: captures fio's sequential reads, applies the learned configuration; a second run changes nothing", { skip }, async () => {
  const loop = createLoop(64);
  const svc = await openService(loadSettings({ dataDir: tempDir('ssdtune-retune-') }), jobHandlers);
  const name = path.basename(loop.path);
  const ra = () => readFileSync(`/sys/block/${name}/queue/read_ahead_kb`, 'utf8').trim();
  const original = ra();
  try {
    const run = async (device: string, dryRun = false) => {
      // fio keeps reading sequentially (O_DIRECT, so every request reaches the device) while retune captures.
      const fio = runFioAsync(loop.path, { rw: 'read', bs: 16384, ios: 0, runtimeSec: 4, extra: ['--direct=1', '--time_based'] });
      const d = await retune(svc, { device, windowMs: 2500, budget: 6, actor: 'test', dryRun });
      await fio;
      return d;
    };
    const counts = async () => Object.fromEntries(await Promise.all(KINDS.map(async (k) => [k, await svc.db.count(k)] as const)));
    // A dry run on a new workload learns a configuration and says what it would apply, but writes
    // nothing: no workload, configuration, evaluation or audit record, no sysfs write.
    const empty = await counts();
    const dry = await run(loop.path, true);
    assert.ok(['dry-run', 'unchanged'].includes(dry.action), `${dry.action}: ${dry.reason}`);
    assert.equal(dry.workload?.known, false);
    assert.deepEqual(await counts(), empty, 'retune --dry-run wrote to the ConfDB');
    assert.equal(ra(), original);

    const first = await run(loop.path);
    assert.ok(first.requests > 100, `captured ${first.requests} requests`);
    assert.ok(['applied', 'unchanged'].includes(first.action), `${first.action}: ${first.reason}`);
    const cfg = await svc.db.require('configs', first.configId!);
    assert.equal(ra(), String(cfg.values.read_ahead_kb), "the device has the workload's configuration");
    if (first.action === 'applied') assert.equal((await svc.db.require('devices', name)).appliedConfigId, first.configId);

    // By kernel name, as `apply --device loop0` takes it: the same device, the same record.
    const second = await run(name);
    assert.equal(second.action, 'unchanged', second.reason);
    assert.equal(second.changes.length, 0);
    assert.equal(ra(), String(cfg.values.read_ahead_kb));
    const audit = (await svc.db.list('audit')).filter((a) => a.action === 'retune');
    assert.equal(audit.length, 2, 'one audit record per decision');

    // Overlapping runs are refused by the lock.
    const a = retune(svc, { device: loop.path, windowMs: 1000, budget: 3, actor: 'test' });
    await assert.rejects(retune(svc, { device: loop.path, windowMs: 1000, budget: 3, actor: 'test' }), (e) => isSsdtuneError(e, 'SSDTUNE_CONFLICT'));
    await a;
  } finally {
    await svc.close();
    loop.destroy(); // gives the number its read_ahead_kb back, whatever happened
  }
});

test("a retune's log line names what the apply held, after what it changed", () => {
  const d = {
    device: '/dev/nvme0n1',
    at: '2026-12-07T14:00:00.000Z',
    action: 'applied' as const,
    reason: 'known workload, its stored configuration',
    requests: 1200,
    backend: 'tracefs',
    changes: [{ key: 'max_sectors_kb', from: '1280', to: '64' }],
  };
  assert.equal(
    decisionLine({ ...d, held: [{ key: 'read_ahead_kb', from: '8', to: '128', by: 'max_sectors_kb=64' }] }),
    '2026-12-07T14:00:00.000Z retune /dev/nvme0n1: 1200 requests via tracefs; applied (known workload, its stored configuration) ' +
      'max_sectors_kb 1280->64 [held: read_ahead_kb at 8 (writing max_sectors_kb=64 made it 128)]',
  );
  assert.doesNotMatch(decisionLine(d), /held/);
});
