/** `ssdtune retune`: capture, identify, apply when the workload's configuration differs. Safe from cron. */
import type { Command } from 'commander';
import { BACKENDS, type BackendName } from '../../collector/index.js';
import { ERR_USAGE } from '../../errors.js';
import { addCommonOptions, withLocalService, type CommonOptions } from '../service-access.js';
import { parseDuration } from './collect.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('retune')
      .description('capture a window of a device\'s I/O, identify the workload, apply its host configuration when it differs (learning one if new)')
      .requiredOption('--device <dev>', 'block device to watch and tune')
      .option('--window <time>', 'capture window (30s, 2m, ...)', '60s')
      .option('--budget <n>', 'evaluations when the workload is new', (v) => Number(v), 12)
      .option('--backend <name>', `auto | ${BACKENDS.join(' | ')}`, 'auto')
      .option('--dry-run', 'decide and log, write nothing'),
  )
    .addHelpText('after', '\nOne log line per run; a lock keeps runs from overlapping. Exit 0 when applied, unchanged or skipped.\nSee contrib/ for a systemd timer and a crontab line.\n\nExample:\n  ssdtune retune --device /dev/nvme0n1 --window 60s')
    .action(async (o: CommonOptions & { device: string; window: string; budget: number; backend: string; dryRun?: boolean }) => {
      if (o.backend !== 'auto' && !BACKENDS.includes(o.backend as BackendName)) throw ERR_USAGE(`--backend: expected auto, ${BACKENDS.join(', ')}; got "${o.backend}"`);
      if (!Number.isInteger(o.budget) || o.budget < 2) throw ERR_USAGE(`--budget must be an integer >= 2, got ${o.budget}`);
      const { decisionLine, retune } = await import('../../service/retune.js');
      const d = await withLocalService(o, (svc) =>
        retune(svc, { device: o.device, windowMs: parseDuration(o.window), budget: o.budget, backend: o.backend as BackendName | 'auto', dryRun: !!o.dryRun, actor: 'retune' }),
      );
      process.stdout.write(o.json ? JSON.stringify(d) + '\n' : decisionLine(d) + '\n');
    });
}
