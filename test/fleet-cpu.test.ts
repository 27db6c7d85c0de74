/**
 * What one fleet report costs in CPU against 10k stored workloads: agent
 * reports through the real server (routing, token, schema, identification,
 * store reads and writes, the ML worker's pass through the network) on the
 * embedded LevelDB, measured with process.cpuUsage (every thread of the
 * process), not wall time, so a loaded machine slows it but hardly moves it.
 *
 * The bound, REPORT_CPU_MS: this test measured 2.2-2.7 CPU-ms per report
 * on the 2-core team machine at load 6-8 (2026-12-06, the packed scan of
 * src/ml/known-workloads.ts), and 5.3-5.7 on the code before it (9845e7f).
 * The serve process's CPU per report was 5x higher still with per-stream
 * identification's regression (82aac27, BENCHMARKS.md fleet). 6 ms is
 * about 2.5x the measured figure: room for a CI machine with slower cores
 * or busier caches, while a regression of 2.5x or more (such as the last,
 * 5x) fails it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { buildServer } from '../src/api/server.js';
import { loadSettings } from '../src/config.js';
import { describeTrace } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { openService } from '../src/service/context.js';
import { deviceClassKey, type AgentReport, type Recommendation } from '../src/service/fleet.js';
import { jobHandlers } from '../src/service/handlers.js';
import { similarityInfo } from '../src/service/identify.js';
import { loadOrCreateToken } from '../src/service/token.js';
import { rng, seedWorkloads } from './helpers/fleet.js';
import { tempDir } from '../src/util/temp-dir.js';

/** CPU milliseconds one report may cost, at most (see the module comment for how it was chosen). */
const REPORT_CPU_MS = 6;
const STORED = 10_000;
const REPORTS = 300;

test(`a fleet report against ${STORED} stored workloads costs at most ${REPORT_CPU_MS} CPU-ms`, async (t) => {
  const dataDir = tempDir('ssdtune-fleet-cpu-');
  const svc = await openService(loadSettings({ dataDir }), jobHandlers);
  const app = await buildServer(svc);
  try {
    const model = similarityInfo(svc.settings.modelDir);
    const windowSize = model.meta.windowSize;
    // Each with a configuration learned on the agents' device class: the recommendation is looked up among 10k.
    const deviceClass = { model: 'test', capacityBytes: 1e12, rotational: false, queues: 4, kernel: os.release() };
    await seedWorkloads(svc.db, STORED, model.meta.shape.embedding, windowSize, model.id, { configsFor: deviceClassKey(deviceClass) });
    const r = rng(42);
    // Agents report windows of real workloads with 2% noise: most find a workload, some register one.
    const real = await Promise.all(
      ['fio_oltp.trace.xz', 'fio_log-append.trace.xz', 'fio_webcache-randread.trace.xz', 'msr_hm_0_sample1000.csv', 'mqsim_wsrch-small.trace'].map(
        async (f) => {
          const file = path.resolve('traces', f);
          return (await describeTrace(await openTrace(file), { size: windowSize, source: file })).windows.map((w) => Array.from(w.vector));
        },
      ),
    );
    const report = (i: number): AgentReport => {
      const w = real[i % real.length]!;
      const at = Math.floor(r.u() * (w.length - 8));
      return {
        host: `agent${i}`,
        device: 'nvme0n1',
        deviceClass,
        windowSize,
        descriptors: w.slice(at, at + 8).map((v) => v.map((x) => x * (1 + 0.02 * r.normal()))),
        applied: { read_ahead_kb: '128' },
      };
    };
    const token = loadOrCreateToken(dataDir);
    let created = 0;
    const post = async (i: number) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/fleet/reports',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(report(i)),
      });
      assert.equal(res.statusCode, 200, res.body);
      if ((JSON.parse(res.body) as Recommendation).workload.created) created++;
    };
    // Warm: the ML worker's model, the cache of stored workloads, the compiler.
    for (let i = 0; i < 40; i++) await post(i);
    created = 0;
    const before = process.cpuUsage();
    // Eight at a time, as a serve process meets them.
    let next = 40;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 40 + REPORTS) await post(next++);
      }),
    );
    const used = process.cpuUsage(before);
    const perReport = (used.user + used.system) / 1000 / REPORTS;
    t.diagnostic(`${perReport.toFixed(2)} CPU-ms per report (${REPORTS} reports, ${created} created a workload; load ${os.loadavg()[0]!.toFixed(2)})`);
    assert.ok(created > 0 && created < REPORTS / 2, `${created} of ${REPORTS} reports created a workload: both paths measured`);
    assert.ok(perReport <= REPORT_CPU_MS, `${perReport.toFixed(2)} CPU-ms per report, above the bound of ${REPORT_CPU_MS}`);
  } finally {
    await app.close();
    await svc.close();
  }
});
