/**
 * A fleet worker for `npm run bench fleet` (part b): the real `ssdtune worker`
 * (startWorker) plus one extra evaluator, `sleep`, calibrated to take
 * SSDTUNE_BENCH_SLEEP_MS per evaluation, so throughput measures the queue and
 * not two shared cores. It logs each evaluation's start and end (with its
 * key) to the file in argv[2], for the bench to count duplicates and
 * recovery times.
 */
import { appendFileSync } from 'node:fs';
import { loadSettings } from '../src/config.js';
import { startWorker } from '../src/service/worker.js';

const log = process.argv[2]!;
const sleepMs = Number(process.env.SSDTUNE_BENCH_SLEEP_MS ?? 250);
const w = await startWorker(loadSettings({}), {
  concurrency: 1,
  tuneConcurrency: 1,
  lockMs: Number(process.env.SSDTUNE_BENCH_LOCK_MS ?? 3000),
  extraEvaluators: {
    sleep: (spec) => ({
      name: 'sleep',
      space: spec.space,
      evaluate: async (config) => {
        const key = JSON.stringify(config);
        appendFileSync(log, `start ${Date.now()} ${key}\n`);
        await new Promise((r) => setTimeout(r, sleepMs));
        appendFileSync(log, `end ${Date.now()} ${key}\n`);
        const i = Number((config as { i: number }).i);
        return { iops: 1000 + i, throughputBps: 4096 * (1000 + i), latencyMeanUs: 100 };
      },
    }),
  },
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => void w.close().then(() => process.exit(0)));
