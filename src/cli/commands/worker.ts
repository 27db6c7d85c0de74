/** `ssdtune worker`: run tune and evaluation jobs from the fleet's Redis queue until SIGINT/SIGTERM. */
import { Option, type Command } from 'commander';
import { loadSettings } from '../../config.js';
import { startFleetWorker } from '../../service/api.js';
import { durationOption, intOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run tune jobs and their evaluations from the fleet queue (needs SSDTUNE_QUEUE and SSDTUNE_STORE)')
    .option('--data-dir <dir>', 'where the trace cache lives (env SSDTUNE_DATA_DIR)')
    .option('--store <url>', 'the fleet ConfDB, postgres://... (env SSDTUNE_STORE)')
    .option('--queue <url>', 'the fleet queue, redis://... (env SSDTUNE_QUEUE)')
    .option('--concurrency <n>', 'evaluations at once', intOption('concurrency', 1), 1)
    .option('--tune-concurrency <n>', 'tune jobs (coordinators) at once', intOption('tune-concurrency', 1), 2)
    .addOption(
      new Option('--lock <time>', "job lock; a dead worker's job is retried after about this long").argParser(durationOption('lock')).default(30_000, '30s'),
    )
    .option('--cache-bytes <n>', 'trace cache budget in bytes', intOption('cache-bytes', 1))
    .addHelpText('after', '\nExample:\n  SSDTUNE_STORE=postgres://ssdtune@db/ssdtune SSDTUNE_QUEUE=redis://queue:6379 ssdtune worker --concurrency 2')
    .action(
      async (o: { dataDir?: string; store?: string; queue?: string; concurrency: number; tuneConcurrency: number; lock: number; cacheBytes?: number }) => {
        const settings = loadSettings({
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          ...(o.store ? { store: o.store } : {}),
          ...(o.queue ? { queue: o.queue } : {}),
        });
        const w = await startFleetWorker(settings, {
          concurrency: o.concurrency,
          tuneConcurrency: o.tuneConcurrency,
          lockMs: o.lock,
          ...(o.cacheBytes ? { cacheBytes: o.cacheBytes } : {}),
        });
        process.stderr.write(
          `ssdtune: worker ${process.pid} on ${w.description}, ${o.concurrency} evaluation(s) and ${o.tuneConcurrency} tune job(s) at once\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await w.close();
      },
    );
}
