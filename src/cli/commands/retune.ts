/** `ssdtune retune`: capture, identify, apply when the workload's configuration differs. Safe from cron. */
import type { Command } from 'commander';
import { BACKENDS, type BackendName } from '../../collector/index.js';
import { ERR_USAGE } from '../../errors.js';
import { readToken } from '../../api/token.js';
import { openService } from '../../service/context.js';
import { addCommonOptions, settingsFrom, withLocalService, type CommonOptions } from '../service-access.js';
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
    .addHelpText('after', '\nOne log line per run; a lock keeps runs from overlapping. Exit 0 when applied, unchanged or skipped.\nWith --server (or SSDTUNE_SERVER) it is a fleet agent: it sends the server only the window\'s descriptors, the device class and what is applied,\napplies the recommendation itself, and keeps the last one when the server is down (token: SSDTUNE_TOKEN or <data dir>/api-token).\nSee contrib/ for a systemd timer and a crontab line.\n\nExample:\n  ssdtune retune --device /dev/nvme0n1 --window 60s\n  ssdtune retune --device /dev/nvme0n1 --server http://ssdtune.example:7411')
    .action(async (o: CommonOptions & { device: string; window: string; budget: number; backend: string; dryRun?: boolean }) => {
      if (o.backend !== 'auto' && !BACKENDS.includes(o.backend as BackendName)) throw ERR_USAGE(`--backend: expected auto, ${BACKENDS.join(', ')}; got "${o.backend}"`);
      if (!Number.isInteger(o.budget) || o.budget < 2) throw ERR_USAGE(`--budget must be an integer >= 2, got ${o.budget}`);
      const { decisionLine, retune } = await import('../../service/retune.js');
      const settings = settingsFrom(o);
      if (settings.server) {
        // A fleet agent: the server decides, this host applies (its way back kept in its own ConfDB).
        const { agentRetune, checkServerUrl } = await import('../../service/agent.js');
        checkServerUrl(settings.server);
        const svc = await openService({ ...settings, server: undefined });
        try {
          const token = process.env.SSDTUNE_TOKEN ?? readToken(settings.dataDir);
          const d = await agentRetune(svc, { device: o.device, windowMs: parseDuration(o.window), backend: o.backend as BackendName | 'auto', dryRun: !!o.dryRun, actor: 'retune-agent', server: { url: settings.server, ...(token ? { token } : {}) } });
          process.stdout.write(o.json ? JSON.stringify(d) + '\n' : `${decisionLine(d)}${d.from === 'cache' ? ' [from cache]' : ''}${d.handSet?.length ? ` [left alone, set by hand: ${d.handSet.join(', ')}]` : ''}\n`);
        } finally {
          await svc.close();
        }
        return;
      }
      const d = await withLocalService(o, (svc) =>
        retune(svc, { device: o.device, windowMs: parseDuration(o.window), budget: o.budget, backend: o.backend as BackendName | 'auto', dryRun: !!o.dryRun, actor: 'retune' }),
      );
      process.stdout.write(o.json ? JSON.stringify(d) + '\n' : decisionLine(d) + '\n');
    });
}
