/**
 * REST throughput: autocannon against GET /v1/workloads with 10,000 stored
 * workloads, next to a bare fastify route returning the same bytes from
 * memory (the ceiling for this machine) in the same run.
 * Goal (issue 8): >= 10,000 req/s and p99 <= 10 ms.
 */
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { rmSync } from 'node:fs';
import { loadSettings } from '../src/config.js';
import { newId } from '../src/confdb/ids.js';
import type { BatchOp } from '../src/confdb/db.js';
import { openService } from '../src/service/context.js';
import { startServer } from '../src/api/server.js';
import { tempDir } from '../src/util/temp-dir.js';

const WORKLOADS = 10_000;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);

async function load(url: string): Promise<{ rps: number; p99: number; p50: number; errors: number }> {
  const r = await autocannon({ url, connections: 16, pipelining: 1, duration: DURATION_S });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

export async function run(): Promise<void> {
  const dataDir = tempDir('ssdtune-bench-api-');
  const svc = await openService(loadSettings({ dataDir, port: 0 }));
  const names = ['read_ratio', 'size_p50', 'size_p99', 'iat_p50', 'iat_p99', 'seq_frac', 'lba_span', 'reuse', 'burst', 'qd'];
  for (let i = 0; i < WORKLOADS; i += 1000) {
    const ops: BatchOp[] = [];
    for (let j = i; j < i + 1000; j++)
      ops.push({
        kind: 'workloads',
        type: 'put',
        value: {
          id: newId(),
          name: `w${j}`,
          createdAt: new Date().toISOString(),
          source: { paths: [`/t/${j}`], format: 'mqsim', requests: 1000 + j },
          descriptorNames: names,
          descriptors: names.map((_, k) => (j * 7 + k) % 13),
        },
      });
    await svc.db.batch(ops);
  }
  const { app, url } = await startServer(svc);
  const sample = await (await fetch(`${url}/v1/workloads`)).text();
  const bare = Fastify();
  bare.get('/', async (_req, reply) => reply.type('application/json').send(sample));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  try {
    console.log(`${WORKLOADS} workloads stored; each GET returns the first page (100 records, ${sample.length} bytes); ${DURATION_S}s per run, 16 connections`);
    const ours = await load(`${url}/v1/workloads`);
    const small = await load(`${url}/v1/workloads?limit=10`);
    const ceiling = await load(bareUrl);
    const row = (name: string, r: { rps: number; p50: number; p99: number; errors: number }) =>
      console.log(
        `${name.padEnd(44)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50.toFixed(1).padStart(5)} ms   p99 ${r.p99.toFixed(1).padStart(5)} ms   errors ${r.errors}`,
      );
    row('ssdtune GET /v1/workloads (100/page)', ours);
    row('ssdtune GET /v1/workloads?limit=10', small);
    row('bare fastify, same bytes from memory', ceiling);
  } finally {
    await bare.close();
    await app.close();
    await svc.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
