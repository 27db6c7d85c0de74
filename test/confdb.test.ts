import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfDB } from '../src/confdb/db.js';
import { newId } from '../src/confdb/ids.js';
import { exportConfDB, importConfDB } from '../src/confdb/transfer.js';
import { isSsdtuneError } from '../src/errors.js';
import type { WorkloadRecord } from '../src/confdb/records.js';
import { tempDir } from '../src/util/temp-dir.js';
import { at } from '../src/util/at.js';
import { hostIdentity } from '../src/util/host-identity.js';

const tmp = () => tempDir('ssdtune-db-');

function workload(name: string): WorkloadRecord {
  return {
    id: newId(),
    name,
    createdAt: new Date().toISOString(),
    source: { paths: ['x'], format: 'mqsim', requests: 10 },
    descriptorNames: ['a', 'b'],
    descriptors: [1, 2],
  };
}

test('ConfDB: records survive close and reopen; list is in id (time) order with pagination', async () => {
  const dir = tmp();
  let db = await ConfDB.open(dir);
  const ws = [workload('w1'), workload('w2'), workload('w3')];
  for (const w of ws) await db.put('workloads', w);
  await db.close();
  db = await ConfDB.open(dir);
  assert.equal(await db.schemaVersion(), 1);
  assert.deepEqual(
    (await db.list('workloads')).map((w) => w.name),
    ['w1', 'w2', 'w3'],
  );
  const page = await db.list('workloads', { limit: 2 });
  assert.equal(page.length, 2);
  assert.deepEqual(
    (await db.list('workloads', { after: at(page, 1).id })).map((w) => w.name),
    ['w3'],
  );
  await assert.rejects(db.require('workloads', 'nope'), (e) => isSsdtuneError(e, 'SSDTUNE_NOT_FOUND'));
  await db.close();
});

test('ConfDB: a second opener gets a coded LOCKED error that says what to do', async () => {
  const dir = tmp();
  const db = await ConfDB.open(dir);
  await assert.rejects(ConfDB.open(dir), (e) => {
    assert.ok(isSsdtuneError(e, 'SSDTUNE_CONFDB_LOCKED'));
    assert.match((e as Error).message, /--server/);
    return true;
  });
  await db.close();
});

test('ConfDB: a newer schema is refused, not silently read', async () => {
  const dir = tmp();
  const db = await ConfDB.open(dir);
  // Simulate a store written by a future version.
  const raw = (db as unknown as { meta: { put(k: string, v: unknown): Promise<void> } }).meta;
  await raw.put('schema', 99);
  await db.close();
  await assert.rejects(ConfDB.open(dir), (e) => isSsdtuneError(e, 'SSDTUNE_CONFDB_SCHEMA'));
});

test('ConfDB: a schema version ssdtune never writes (0, a string) is a coded corruption error, not a TypeError or a silent open', async () => {
  for (const bad of [0, 'x', 1.5]) {
    const dir = tmp();
    const db = await ConfDB.open(dir);
    const raw = (db as unknown as { meta: { put(k: string, v: unknown): Promise<void> } }).meta;
    await raw.put('schema', bad);
    await db.close();
    await assert.rejects(ConfDB.open(dir), (e) => isSsdtuneError(e, 'SSDTUNE_CONFDB_CORRUPT') && e.message.includes('schema version'), String(bad));
  }
});

test('ConfDB: export then import into a fresh store gives the same records; a bad file writes nothing', async () => {
  const a = await ConfDB.open(tmp());
  await a.batch([
    { kind: 'workloads', type: 'put', value: workload('w') },
    { kind: 'configs', type: 'put', value: { id: newId(), space: 'ssd', values: { channels: 8 }, createdAt: 'now' } },
    ConfDB.audit('test', 'seed', {}),
  ]);
  const file = path.join(tmp(), 'export.jsonl');
  const counts = await exportConfDB(a, file);
  assert.equal(counts.workloads, 1);
  const b = await ConfDB.open(tmp());
  await importConfDB(b, file, 'test');
  assert.deepEqual(await b.list('workloads'), await a.list('workloads'));
  assert.deepEqual(await b.list('configs'), await a.list('configs'));

  const bad = path.join(tmp(), 'bad.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.splice(2, 0, '{"kind":"configs","value":{"id":"x"}}');
  writeFileSync(bad, lines.join('\n'));
  const c = await ConfDB.open(tmp());
  await assert.rejects(importConfDB(c, bad), /line 3: a configs record needs field "space"/);
  assert.equal(await c.count('workloads'), 0);
  assert.equal(await c.count('configs'), 0);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('ConfDB import: every field present has its type; a record of another shape is refused, naming the field, and nothing is stored', async () => {
  const a = await ConfDB.open(tmp());
  const metrics = { iops: 100, throughputBps: 4e5, latencyMeanUs: 80, extra: { hitRatio: 0.5 } };
  const config = { id: 'c1', space: 'host', values: { read_ahead_kb: 256, scheduler: 'none' }, createdAt: 'now', grade: 0.2, metrics };
  const evaluation = { id: 'e1', workloadId: 'w1', evaluator: 'readahead-model', status: 'ok', values: config.values, metrics, at: 'now', durationMs: 3 };
  await a.batch([
    { kind: 'configs', type: 'put', value: config as never },
    { kind: 'evaluations', type: 'put', value: evaluation as never },
  ]);
  const file = path.join(tmp(), 'export.jsonl');
  await exportConfDB(a, file);
  await a.close();
  const text = readFileSync(file, 'utf8');
  // Each was stored as it came, and failed later: the tune printing a stored grade crashed ("toFixed is not a function").
  for (const [from, to, why] of [
    ['"grade":0.2', '"grade":"high"', /line 2: the configs record's grade must be number/],
    [
      '"read_ahead_kb":256,"scheduler":"none"},"createdAt"',
      '"read_ahead_kb":{"kb":256}},"createdAt"',
      /line 2: the configs record's values\.read_ahead_kb must be string,number,boolean/,
    ],
    ['"latencyMeanUs":80', '"latencyMeanUs":-80', /line 2: the configs record's metrics\.latencyMeanUs must be >= 0/],
    ['"status":"ok"', '"status":"maybe"', /line 3: the evaluations record's status must be equal to one of the allowed values: ok, failed/],
    ['"id":"c1"', '"id":""', /line 2: the configs record's id must NOT have fewer than 1 characters/],
    ['"durationMs":3', '"durationMs":"3 ms"', /line 3: the evaluations record's durationMs must be number/],
  ] as const) {
    assert.ok(text.includes(from), from);
    const bad = path.join(tmp(), 'bad.jsonl');
    writeFileSync(bad, text.replace(from, to));
    const b = await ConfDB.open(tmp());
    await assert.rejects(importConfDB(b, bad), (e) => isSsdtuneError(e, 'SSDTUNE_CONFDB_IMPORT') && why.test(String(e)), to);
    assert.equal((await b.count('configs')) + (await b.count('evaluations')), 0);
    await b.close();
  }
  // An evaluator figure it could not compute was stored as null (JSON's NaN): that export imports as it did.
  const nulls = path.join(tmp(), 'nulls.jsonl');
  writeFileSync(nulls, text.replaceAll('"hitRatio":0.5', '"hitRatio":null'));
  const n = await ConfDB.open(tmp());
  await importConfDB(n, nulls);
  assert.equal((await n.get('configs', 'c1'))?.metrics?.extra?.hitRatio, null);
  await n.close();
  // The export as written imports whole, and a field this version does not know passes through.
  const c = await ConfDB.open(tmp());
  const extra = path.join(tmp(), 'extra.jsonl');
  writeFileSync(extra, text.replace('"grade":0.2', '"grade":0.2,"note":"from a later version"'));
  await importConfDB(c, extra);
  assert.equal(((await c.get('configs', 'c1')) as unknown as { note: string }).note, 'from a later version');
  assert.deepEqual((await c.get('evaluations', 'e1'))?.metrics, metrics);
  await c.close();
});

test("ConfDB import: a device's recorded way back is not replaced by the file's record; the same record again is fine", async () => {
  const rec = (previous: string) => ({
    device: 'nvme0n1',
    devNumber: '259:0',
    applied: { read_ahead_kb: '512' },
    previous: { read_ahead_kb: previous },
    appliedAt: 'now',
    by: 'cli',
  });
  const a = await ConfDB.open(tmp());
  await a.put('devices', rec('128'));
  const file = path.join(tmp(), 'export.jsonl');
  await exportConfDB(a, file);
  // This host's record of its own nvme0n1: what it had before ssdtune, 4096.
  const b = await ConfDB.open(tmp());
  await b.put('devices', rec('4096'));
  await assert.rejects(importConfDB(b, file, 'test'), /line 2: device nvme0n1 has a recorded way back in this ConfDB/);
  assert.deepEqual((await b.get('devices', 'nvme0n1'))?.previous, { read_ahead_kb: '4096' }, 'the way back stays');
  await importConfDB(a, file, 'test');
  assert.deepEqual(await a.get('devices', 'nvme0n1'), rec('128'));
  const c = await ConfDB.open(tmp());
  await importConfDB(c, file, 'test');
  assert.deepEqual(await c.get('devices', 'nvme0n1'), rec('128'), 'a store without a record of it takes it');
  // The host a record names must be one: an id and a name.
  const odd = path.join(tmp(), 'odd.jsonl');
  writeFileSync(odd, readFileSync(file, 'utf8').replace('"by":"cli"', '"by":"cli","recordedOn":"vm"'));
  const d = await ConfDB.open(tmp());
  await assert.rejects(
    importConfDB(d, odd, 'test'),
    (e) => isSsdtuneError(e, 'SSDTUNE_CONFDB_IMPORT') && /line 2: the devices record's recordedOn must be object/.test(String(e)),
  );
  assert.equal(await d.count('devices'), 0);
  await d.close();
  for (const db of [a, b, c]) await db.close();
});

test("a device record naming no host imports only from an export this host made: another machine's way back never lands here", async () => {
  // As an older ssdtune wrote it: no recordedOn. Its previous values are whichever machine's disk it was.
  const legacy = { device: 'sdb', devNumber: '8:16', applied: { read_ahead_kb: '4096' }, previous: { read_ahead_kb: '64' }, appliedAt: 'then', by: 'cli' };
  const a = await ConfDB.open(tmp());
  await a.put('devices', legacy);
  const own = path.join(tmp(), 'own.jsonl');
  await exportConfDB(a, own);
  const lines = readFileSync(own, 'utf8').split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(header.exportedOn, hostIdentity(), 'the export names the host it was made on');
  const at = lines.findIndex((l) => l.includes('"kind":"devices"')) + 1;
  const variant = (name: string, h: Record<string, unknown>) => {
    const f = path.join(tmp(), name);
    writeFileSync(f, [JSON.stringify(h), ...lines.slice(1)].join('\n'));
    return f;
  };
  const { exportedOn: _, ...older } = header;
  const refusals: [string, RegExp][] = [
    [variant('older.jsonl', older), /the export does not say which host made it/],
    [
      variant('other.jsonl', { ...header, exportedOn: { id: 'machine-id:0123456789abcdef0123456789abcdef', name: 'other-host' } }),
      /the export was made on another host, other-host/,
    ],
  ];
  for (const [file, why] of refusals) {
    const fresh = await ConfDB.open(tmp());
    try {
      await assert.rejects(importConfDB(fresh, file, 'test'), (e) => {
        assert.ok(isSsdtuneError(e, 'SSDTUNE_CONFDB_IMPORT'), String(e));
        assert.match((e as Error).message, new RegExp(`line ${at}: device sdb's record names no host`));
        assert.match((e as Error).message, why);
        assert.match((e as Error).message, /leave its record out of the file/);
        return true;
      });
      assert.equal(await fresh.count('devices'), 0, 'nothing imported');
      assert.equal(await fresh.count('audit'), 0, 'nothing written');
    } finally {
      await fresh.close();
    }
  }
  // This host's own export (a move between engines on one host): the record imports as it was.
  const b = await ConfDB.open(tmp());
  await importConfDB(b, own, 'test');
  assert.deepEqual(await b.get('devices', 'sdb'), legacy);
  // A header's exportedOn must be a host.
  const bad = variant('bad.jsonl', { ...header, exportedOn: 'me' });
  await assert.rejects(importConfDB(b, bad, 'test'), (e) => isSsdtuneError(e, 'SSDTUNE_CONFDB_IMPORT') && /line 1: expected "exportedOn"/.test(String(e)));
  for (const db of [a, b]) await db.close();
});
