import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { tune } from '../src/service/tune.js';

const TRACE = path.resolve('traces/msr_hm_0_sample1000.csv');
/** A fresh (not preconditioned) drive: each evaluation costs a fraction of a second instead of seconds. */
const FAST_SIM = { preconditionFill: 0, preconditionAge: 0 };

test('tune: a new workload is searched and stored; the same trace again is recognised and gets the stored configuration', async () => {
  const svc = await openService(loadSettings({ dataDir: mkdtempSync(path.join(tmpdir(), 'ssdtune-tune-')), ssdsim: FAST_SIM }), jobHandlers);
  try {
    const progress: number[] = [];
    const first = await tune(svc, { tracePath: TRACE, evaluator: 'ssdsim', budget: 3 }, { progress: (d) => progress.push(d) });
    assert.equal(first.source, 'search');
    assert.equal(first.workload.known, false);
    // The 1,000-request MSR sample is noisy at 64-request windows: its spread is reported, far above typical.
    assert.ok(first.workload.spreadRatio! > 3, `spread ratio ${first.workload.spreadRatio}`);
    assert.equal(first.search!.evaluations, 3);
    assert.ok(progress.includes(3));
    assert.equal(first.config.space, 'ssd');
    assert.ok(Number.isFinite(first.config.grade), 'the recommended configuration has a measured grade');
    // Stored in one batch: the workload, the configuration and every evaluation.
    const w = await svc.db.require('workloads', first.workload.id);
    assert.equal(w.source.requests, 1000);
    assert.equal(w.source.format, 'msr');
    assert.equal((await svc.db.list('evaluations')).filter((e) => e.workloadId === w.id).length, 3);
    assert.deepEqual(await svc.db.require('configs', first.config.id), first.config);

    const second = await tune(svc, { tracePath: TRACE, evaluator: 'ssdsim', budget: 3 });
    assert.equal(second.source, 'confdb');
    assert.equal(second.workload.known, true);
    assert.equal(second.workload.id, first.workload.id);
    assert.equal(second.config.id, first.config.id);
    assert.equal(await svc.db.count('workloads'), 1);
  } finally {
    await svc.close();
  }
});

test('tune: bad requests fail clearly and store nothing', async () => {
  const svc = await openService(loadSettings({ dataDir: mkdtempSync(path.join(tmpdir(), 'ssdtune-tune-')), ssdsim: FAST_SIM }), jobHandlers);
  try {
    await assert.rejects(tune(svc, { tracePath: TRACE, evaluator: 'nosuch', budget: 3 }), /unknown evaluator "nosuch"/);
    await assert.rejects(tune(svc, { tracePath: TRACE, evaluator: 'mqsim', budget: 3 }), /MQSim binary/);
    await assert.rejects(tune(svc, { tracePath: '/nonexistent/trace', evaluator: 'ssdsim', budget: 3 }), /no such file/);
    // The evaluator is checked before the trace is opened: a bad name on a missing trace names the evaluator.
    await assert.rejects(tune(svc, { tracePath: '/nonexistent/trace', evaluator: 'nosuch', budget: 3 }), /unknown evaluator "nosuch"/);
    await assert.rejects(tune(svc, { tracePath: '/nonexistent/trace', evaluator: 'live', budget: 3 }), /give --device/);
    assert.equal(await svc.db.count('workloads'), 0);
    assert.equal(await svc.db.count('configs'), 0);
  } finally {
    await svc.close();
  }
});
