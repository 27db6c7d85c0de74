/**
 * Fleet agents against the real REST server: a hundred agents reporting one
 * new workload at once create one workload and one search (against LevelDB,
 * and against one PostgreSQL shared by two serve instances), agents of
 * several new workloads at once create one each, operator pins outrank
 * learned configurations, and during a rolling upgrade a workload reported
 * to an older instance and to this version's at once is stored once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import { loadOrCreateToken } from '../src/service/token.js';
import { loadSettings } from '../src/config.js';
import { ConfDB } from '../src/confdb/db.js';
import { newId } from '../src/confdb/ids.js';
import { describeTrace } from '../src/ml/characterise.js';
import { profileWorkload } from '../src/ml/identify.js';
import { embedOffThread } from '../src/ml/worker.js';
import { openTrace } from '../src/readers/registry.js';
import { openService, type Service } from '../src/service/context.js';
import { LEGACY_REGISTER_LOCK, type AgentReport, type Recommendation } from '../src/service/fleet.js';
import { deviceClassKey } from '../src/blockdev/device-class.js';
import { jobHandlers } from '../src/service/handlers.js';
import { similarityInfo } from '../src/service/identify.js';
import { workloadRecord } from '../src/service/workload-store.js';
import { EVALUATORS } from '../src/service/catalog.js';
import { PostgresServer, postgresMissing, untilAdvisoryLockAwaited } from './helpers/servers.js';
import { tempDir } from '../src/util/temp-dir.js';

const TRACE = path.resolve('traces/msr_hm_0_sample1000.csv');
const tmp = (p: string) => tempDir(`ssdtune-agents-${p}-`);
const CLASS = { model: 'Samsung SSD 980', capacityBytes: 1e12, rotational: false, queues: 8, kernel: '6.1.0-18-amd64' };

let pgs: PostgresServer | undefined;
let descriptors: number[][] = [];
let windowSize = 0;
before(async () => {
  if (!postgresMissing()) pgs = await PostgresServer.start();
  windowSize = similarityInfo(loadSettings({ dataDir: tmp('m') }).modelDir).meta.windowSize;
  const d = await describeTrace(await openTrace(TRACE), { size: windowSize, source: TRACE });
  descriptors = d.windows.map((w) => Array.from(w.vector));
});
after(async () => {
  await pgs?.stop();
});

interface Instance {
  svc: Service;
  app: FastifyInstance;
  url: string;
  token: string;
}
async function serve(dataDir: string, store?: string, token?: string): Promise<Instance> {
  const svc = await openService(loadSettings({ dataDir, ...(store ? { store } : {}) }), jobHandlers);
  if (token) {
    // Several serve instances answer one fleet with one token.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dataDir, 'api-token'), token + '\n', { mode: 0o600 });
  }
  const app = await buildServer(svc);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { svc, app, url, token: loadOrCreateToken(dataDir) };
}
async function post<T>(i: Instance, route: string, body: unknown, raw?: Buffer): Promise<{ status: number; data: T }> {
  const res = await fetch(i.url + route, {
    method: 'POST',
    headers: { authorization: `Bearer ${i.token}`, 'content-type': raw ? 'application/octet-stream' : 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, data: (await res.json()) as T };
}
const reportOf = (host: string): AgentReport => ({
  host,
  device: 'nvme0n1',
  deviceClass: CLASS,
  windowSize,
  descriptors,
  applied: { read_ahead_kb: '128', scheduler: 'none' },
});

/**
 * `agents` agents, spread over the instances and over the workloads of these
 * traces (16 windows each, new to the store), report at once: each workload
 * is created once and every agent of it gets its id.
 */
async function newWorkloadsAtOnce(insts: Instance[], traces: string[], agents: number): Promise<void> {
  const windows = await Promise.all(
    traces.map(async (t) => {
      const file = path.resolve('traces', t);
      return (await describeTrace(await openTrace(file), { size: windowSize, source: file })).windows.slice(0, 16).map((w) => Array.from(w.vector));
    }),
  );
  const answers = await Promise.all(
    Array.from({ length: agents }, (_, i) =>
      post<Recommendation>(insts[i % insts.length]!, '/v1/fleet/reports', { ...reportOf(`host${i}`), descriptors: windows[i % traces.length] }),
    ),
  );
  for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.data));
  const byTrace = traces.map((_, t) => new Set(answers.filter((_, i) => i % traces.length === t).map((a) => a.data.workload.id)));
  assert.deepEqual(
    byTrace.map((ids) => ids.size),
    traces.map(() => 1),
    'the agents of one workload got one id',
  );
  assert.equal(new Set(byTrace.map((ids) => [...ids][0])).size, traces.length, 'different workloads, different ids');
  assert.equal(answers.filter((a) => a.data.workload.created).length, traces.length);
  assert.equal(await insts[0]!.svc.db.count('workloads'), traces.length);
}

const SETUPS = [
  { name: 'LevelDB, one serve', skip: false as string | false, open: async () => [await serve(tmp('level'))] },
  {
    name: 'PostgreSQL, two serve instances',
    skip: postgresMissing() ?? (false as string | false),
    open: async () => {
      const store = await pgs!.newDatabase();
      const a = await serve(tmp('pg-a'), store);
      return [a, await serve(tmp('pg-b'), store, a.token)];
    },
  },
];

for (const s of SETUPS) {
  describe(`fleet agents: ${s.name}`, { skip: s.skip }, () => {
    test('100 agents report one new workload at once: one workload, one search; the rest find it', async () => {
      const insts = await s.open();
      try {
        const answers = await Promise.all(
          Array.from({ length: 100 }, (_, i) => post<Recommendation>(insts[i % insts.length]!, '/v1/fleet/reports', reportOf(`host${i}`))),
        );
        for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.data));
        const ids = new Set(answers.map((a) => a.data.workload.id));
        assert.equal(ids.size, 1, 'every agent got the same workload');
        assert.equal(answers.filter((a) => a.data.workload.created).length, 1);
        assert.equal(await insts[0]!.svc.db.count('workloads'), 1);
        assert.equal(answers[0]!.data.search.state, 'needs-trace');
        assert.equal(answers[0]!.data.deviceClass, deviceClassKey(CLASS));
        assert.equal(await insts[0]!.svc.db.count('agents'), 100);
        // The same agents again: nothing changed, nothing written.
        const gen = await insts[0]!.svc.db.generation('agents');
        await Promise.all(Array.from({ length: 10 }, (_, i) => post(insts[i % insts.length]!, '/v1/fleet/reports', reportOf(`host${i}`))));
        assert.equal(await insts[0]!.svc.db.generation('agents'), gen);

        // Every agent uploads its capture: one search starts.
        const { readFileSync } = await import('node:fs');
        const body = readFileSync(TRACE);
        const wid = [...ids][0]!;
        const q = `?deviceClass=${encodeURIComponent(deviceClassKey(CLASS))}&host=h`;
        const ups = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            post<{ job: { id: string } }>(insts[i % insts.length]!, `/v1/fleet/workloads/${wid}/capture${q}`, undefined, body),
          ),
        );
        for (const u of ups) assert.ok([200, 202].includes(u.status), JSON.stringify(u.data));
        assert.equal(new Set(ups.map((u) => u.data.job.id)).size, 1);
        assert.equal(await insts[0]!.svc.db.count('jobs'), 1);
        const again = await post<Recommendation>(insts[0]!, '/v1/fleet/reports', reportOf('late'));
        // The search is under way, or already done and its configuration recommended.
        assert.ok(again.data.config?.source === 'learned' || ['queued', 'running'].includes(again.data.search.state), JSON.stringify(again.data.search));
      } finally {
        for (const i of insts) {
          await i.app.close();
          await i.svc.close();
        }
      }
    });

    test('agents of 4 different new workloads report at once: 4 workloads, each agent gets its own workload', async () => {
      const insts = await s.open();
      try {
        await newWorkloadsAtOnce(insts, ['fio_oltp.trace.xz', 'fio_log-append.trace.xz', 'fio_backup-seqread.trace.xz', 'msr_hm_0_sample1000.csv'], 40);
      } finally {
        for (const i of insts) {
          await i.app.close();
          await i.svc.close();
        }
      }
    });

    test('an operator pin outranks the best learned configuration; without it the learned one is recommended', async () => {
      const insts = await s.open();
      const db = insts[0]!.svc.db;
      try {
        const first = await post<Recommendation>(insts[0]!, '/v1/fleet/reports', reportOf('h'));
        const wid = first.data.workload.id;
        const cls = deviceClassKey(CLASS);
        // Graded as a fleet search grades: by the readahead model at its current revision.
        const graded = { evaluator: 'readahead-model', evaluatorOptions: { revision: EVALUATORS['readahead-model'].revision } };
        const learned = {
          id: newId(),
          space: 'host',
          values: { read_ahead_kb: 1024 },
          createdAt: 'now',
          workloadId: wid,
          grade: 1.4,
          deviceClass: cls,
          ...graded,
        };
        const worse = { ...learned, id: newId(), values: { read_ahead_kb: 256 }, grade: 1.1 };
        // Graded higher, by an earlier revision of the model (stored before revisions were kept): not comparable.
        const { evaluatorOptions: _, ...earlier } = { ...learned, id: newId(), values: { read_ahead_kb: 4096 }, grade: 9 };
        const chosen = { id: newId(), space: 'host', values: { read_ahead_kb: 64 }, createdAt: 'now' };
        await db.batch([learned, worse, earlier, chosen].map((value) => ({ kind: 'configs' as const, type: 'put' as const, value })));
        const last = insts.at(-1)!;
        let r = await post<Recommendation>(last, '/v1/fleet/reports', reportOf('h'));
        assert.deepEqual(r.data.config, { id: learned.id, values: learned.values, source: 'learned', grade: 1.4 });
        const pin = await fetch(insts[0]!.url + '/v1/fleet/pins', {
          method: 'PUT',
          headers: { authorization: `Bearer ${insts[0]!.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ workloadId: wid, configId: chosen.id, reason: 'vendor advice' }),
        });
        assert.equal(pin.status, 200);
        r = await post<Recommendation>(last, '/v1/fleet/reports', reportOf('h'));
        assert.equal(r.data.config?.id, chosen.id);
        assert.equal(r.data.config?.source, 'pin');
        const del = await fetch(`${insts[0]!.url}/v1/fleet/pins?workloadId=${wid}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${insts[0]!.token}` },
        });
        assert.equal(del.status, 204);
        r = await post<Recommendation>(last, '/v1/fleet/reports', reportOf('h'));
        assert.equal(r.data.config?.id, learned.id);
        // A report the server cannot use is a coded 400 naming the field.
        const bad = await post<{ error: { code: string; message: string } }>(last, '/v1/fleet/reports', { ...reportOf('h'), windowSize: windowSize * 2 });
        assert.equal(bad.status, 400);
        assert.match(bad.data.error.message, /windowSize/);
        // Finite but no window's value: standardising it overflowed, a 500 SSDTUNE_ML_NONFINITE.
        const huge = reportOf('h');
        huge.descriptors = [huge.descriptors[0]!.map(() => 1e308)];
        const far = await post<{ error: { code: string; message: string } }>(last, '/v1/fleet/reports', huge);
        assert.equal(far.status, 400, far.data.error.message);
        assert.equal(far.data.error.code, 'SSDTUNE_USAGE');
        assert.match(far.data.error.message, /^agent report: descriptors\[0\]\[0\] \(readRatio\): 1e\+308 is no window's value \(Infinity standard deviations/);
      } finally {
        for (const i of insts) {
          await i.app.close();
          await i.svc.close();
        }
      }
    });
  });
}

describe('fleet agents: a rolling upgrade, beside instances of the version that registered under a shared lock', { skip: postgresMissing() ?? false }, () => {
  test('a new workload reported to an older instance and to this one at once is stored once', async () => {
    const store = await pgs!.newDatabase();
    const inst = await serve(tmp('upgrade-new'), store);
    // An instance of the older version, registering the same workload: under the lock it has read the known
    // workloads (none like it) and is about to insert the record it made, unconditionally.
    const older = await ConfDB.open(tmp('upgrade-old'), store);
    const { modelDir } = inst.svc.settings;
    const model = similarityInfo(modelDir);
    const id = newId();
    const name = 'old-host/nvme0n1';
    const profile = profileWorkload(model, id, name, [descriptors], [await embedOffThread(modelDir, descriptors)]);
    const source = { paths: [], format: 'agent-descriptors', requests: descriptors.length * windowSize };
    const record = workloadRecord(profile, { name, source, windowSize, ...(model.id ? { modelId: model.id } : {}) });
    let read!: () => void;
    let proceed!: () => void;
    const hasRead = new Promise<void>((r) => (read = r));
    const go = new Promise<void>((r) => (proceed = r));
    const registering = older.exclusive(LEGACY_REGISTER_LOCK, async (tx) => {
      assert.equal(await tx.count('workloads'), 0);
      read();
      await go;
      await tx.batch([{ kind: 'workloads', type: 'put', value: record }, ConfDB.audit('agent:old-host', 'fleet.workload', { id, device: 'nvme0n1' })]);
    });
    try {
      await hasRead;
      let answered = false;
      const answer = post<Recommendation>(inst, '/v1/fleet/reports', reportOf('new-host')).finally(() => (answered = true));
      const waited = await untilAdvisoryLockAwaited(store, () => answered);
      proceed();
      await registering;
      const r = await answer;
      assert.equal(r.status, 200, JSON.stringify(r.data));
      assert.equal(await inst.svc.db.count('workloads'), 1, 'stored once');
      assert.deepEqual(r.data.workload, { id, name, known: true, created: false }, "this instance found the older instance's workload");
      assert.ok(waited, "this instance's registration waited for the older one's");
    } finally {
      proceed();
      await registering.catch(() => {});
      await older.close();
      await inst.app.close();
      await inst.svc.close();
    }
  });
});
