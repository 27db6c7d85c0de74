/**
 * How many statements one fleet report sends to PostgreSQL, counted on the
 * wire: every query any pg client of this process sends (the pool's, the
 * lock pool's) goes through pg.Client.prototype.query, wrapped here to
 * count them. A known workload whose agent reported the same before costs
 * three: the workloads' generation (the known workloads' cache is current),
 * what may be recommended (the pin, its configuration and the best learned,
 * one statement) and the agent's last status (read alongside it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import pg from 'pg';
import { loadSettings } from '../src/config.js';
import { pinKey } from '../src/confdb/db.js';
import { newId } from '../src/confdb/ids.js';
import { describeTrace } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { openService } from '../src/service/context.js';
import { FLEET_SPACE, report, type AgentReport } from '../src/service/fleet.js';
import { deviceClassKey } from '../src/blockdev/device-class.js';
import { jobHandlers } from '../src/service/handlers.js';
import { similarityInfo } from '../src/service/identify.js';
import { EVALUATORS } from '../src/service/catalog.js';
import { tempDir } from '../src/util/temp-dir.js';
import { PostgresServer, postgresMissing } from './helpers/servers.js';

const TRACE = path.resolve('traces/msr_hm_0_sample1000.csv');
const CLASS = { model: 'Samsung SSD 980', capacityBytes: 1e12, rotational: false, queues: 8, kernel: '6.1.0-18-amd64' };

let pgs: PostgresServer | undefined;
before(async () => {
  if (!postgresMissing()) pgs = await PostgresServer.start();
});
after(async () => {
  await pgs?.stop();
});

/** The statements sent while `fn` runs. */
async function counted<T>(fn: () => Promise<T>): Promise<{ out: T; sql: string[] }> {
  const sql: string[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0];
    sql.push(typeof q === 'string' ? q : String((q as { text?: string })?.text));
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    return { out: await fn(), sql };
  } finally {
    pg.Client.prototype.query = query;
  }
}

test('a fleet report of a known workload costs 3 PostgreSQL statements, learned or pinned', { skip: postgresMissing() ?? false }, async (t) => {
  const dataDir = tempDir('ssdtune-fleet-queries-');
  const svc = await openService(loadSettings({ dataDir, store: await pgs!.newDatabase() }), jobHandlers);
  try {
    const windowSize = similarityInfo(svc.settings.modelDir).meta.windowSize;
    const d = await describeTrace(await openTrace(TRACE), { size: windowSize, source: TRACE });
    const r: AgentReport = {
      host: 'h1',
      device: 'nvme0n1',
      deviceClass: CLASS,
      windowSize,
      descriptors: d.windows.slice(0, 8).map((w) => Array.from(w.vector)),
      applied: { read_ahead_kb: '128' },
    };
    const first = await report(svc, r);
    assert.ok(first.workload.created, 'the control: the first report registers the workload');
    const wid = first.workload.id;
    const cls = deviceClassKey(CLASS);

    // Nothing learned yet: the search's job is looked up too.
    await report(svc, r);
    const none = await counted(() => report(svc, r));
    assert.equal(none.out.search.state, 'needs-trace');
    t.diagnostic(`nothing learned: ${none.sql.length} statements`);
    assert.equal(none.sql.length, 4, none.sql.join('\n'));

    const learned = {
      id: newId(),
      space: FLEET_SPACE,
      values: { read_ahead_kb: 512 },
      createdAt: 'now',
      workloadId: wid,
      grade: 1.2,
      deviceClass: cls,
      evaluator: 'readahead-model',
      evaluatorOptions: { revision: EVALUATORS['readahead-model'].revision },
    };
    await svc.db.put('configs', learned);
    await report(svc, r); // the agent's status changes (a write): the next report is the steady state
    const l = await counted(() => report(svc, r));
    assert.equal(l.out.config?.id, learned.id);
    assert.equal(l.out.config?.source, 'learned');
    t.diagnostic(`learned: ${l.sql.length} statements`);
    assert.equal(l.sql.length, 3, l.sql.join('\n'));

    const pinned = { ...learned, id: newId(), values: { read_ahead_kb: 64 }, grade: 0.5 };
    await svc.db.put('configs', pinned);
    await svc.db.put('pins', {
      id: pinKey(wid, FLEET_SPACE, cls),
      workloadId: wid,
      space: FLEET_SPACE,
      deviceClass: cls,
      configId: pinned.id,
      by: 'admin',
      at: 'now',
    });
    await report(svc, r);
    const p = await counted(() => report(svc, r));
    assert.equal(p.out.config?.id, pinned.id);
    assert.equal(p.out.config?.source, 'pin');
    t.diagnostic(`pinned: ${p.sql.length} statements`);
    assert.equal(p.sql.length, 3, p.sql.join('\n'));
  } finally {
    await svc.close();
  }
});
