/**
 * What one fleet report costs in CPU against 10k stored workloads: agent
 * reports through the real server (routing, token, schema, identification,
 * store reads and writes, the ML worker's pass through the network) on the
 * embedded LevelDB, measured with process.cpuUsage (every thread of the
 * process), not wall time, so a loaded machine slows it but hardly moves it.
 *
 * What it bounds, and why two ways:
 * - SCALING, the cost against 10k stored workloads over the cost against
 *   1k, both measured in this run under the same load: the regressions
 *   this test has caught were scans growing with the store (a scan of every
 *   stored configuration per report: 136 CPU-ms per report against 2.4,
 *   c92dc69). Measured 1.36-1.50 (2026-12-06, a new team VM, load 6.3-6.4:
 *   1k 2.99-3.68, 10k 4.46-5.52 CPU-ms; identification's packed scan is
 *   linear in the store, about 0.2 us per stored workload); such a scan
 *   gives 4x or more. 2.5 leaves room for noise.
 * - REPORT_CPU_MS, an absolute ceiling for regressions that do not grow
 *   with the store (per-stream identification's was 5x per report, 82aac27).
 *   The same code measured 2.2-2.7 CPU-ms on the previous team machine and
 *   5.5-6.6 on this one at load 6-8 (c92dc69 as well: it is the machine, a
 *   VM whose process CPU time inflates when the host is busy), so the
 *   ceiling, 6 before, is 15: the ratio carries the sharp check.
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
import { type AgentReport, type Recommendation } from '../src/service/fleet.js';
import { deviceClassKey } from '../src/blockdev/device-class.js';
import { jobHandlers } from '../src/service/handlers.js';
import { similarityInfo } from '../src/service/identify.js';
import { loadOrCreateToken } from '../src/service/token.js';
import { rng, seedWorkloads } from './helpers/fleet.js';
import { tempDir } from '../src/util/temp-dir.js';

/** CPU milliseconds one report may cost, at most (see the module comment for how it was chosen). */
const REPORT_CPU_MS = 15;
/** How much more a report against 10k stored workloads may cost than one against 1k (see the module comment). */
const SCALING = 2.5;
const STORED = 10_000;
const SMALL = 1_000;
const REPORTS = 300;

interface Measured {
  perReport: number;
  created: number;
  load: number;
}

/** CPU-ms per report of REPORTS agent reports against a new store of `stored` workloads. */
async function measure(stored: number): Promise<Measured> {
  const dataDir = tempDir('ssdtune-fleet-cpu-');
  const svc = await openService(loadSettings({ dataDir }), jobHandlers);
  const app = await buildServer(svc);
  try {
    const model = similarityInfo(svc.settings.modelDir);
    const windowSize = model.meta.windowSize;
    // Each with a configuration learned on the agents' device class: the recommendation is looked up among 10k.
    const deviceClass = { model: 'test', capacityBytes: 1e12, rotational: false, queues: 4, kernel: os.release() };
    await seedWorkloads(svc.db, stored, model.meta.shape.embedding, windowSize, model.id, { configsFor: deviceClassKey(deviceClass) });
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
    return { perReport: (used.user + used.system) / 1000 / REPORTS, created, load: os.loadavg()[0]! };
  } finally {
    await app.close();
    await svc.close();
  }
}

test(`a fleet report against ${STORED} stored workloads costs at most ${REPORT_CPU_MS} CPU-ms and ${SCALING}x one against ${SMALL}`, async (t) => {
  const small = await measure(SMALL);
  const large = await measure(STORED);
  for (const [n, m] of [
    [SMALL, small],
    [STORED, large],
  ] as const)
    t.diagnostic(`${n} stored: ${m.perReport.toFixed(2)} CPU-ms per report (${REPORTS} reports, ${m.created} created a workload; load ${m.load.toFixed(2)})`);
  for (const m of [small, large])
    assert.ok(m.created > 0 && m.created < REPORTS / 2, `${m.created} of ${REPORTS} reports created a workload: both paths measured`);
  assert.ok(
    large.perReport <= SCALING * small.perReport,
    `${large.perReport.toFixed(2)} CPU-ms per report against ${STORED} stored, ${(large.perReport / small.perReport).toFixed(2)}x the ${small.perReport.toFixed(2)} against ${SMALL}: a report scales with the store`,
  );
  assert.ok(large.perReport <= REPORT_CPU_MS, `${large.perReport.toFixed(2)} CPU-ms per report, above the bound of ${REPORT_CPU_MS}`);
});
