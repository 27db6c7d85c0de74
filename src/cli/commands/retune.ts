/** `ssdtune retune`: capture, identify, apply when the workload's configuration differs. Safe from cron. */
import { Option, type Command } from 'commander';
import { ERR_USAGE } from '../../errors.js';
import { durationOption, intOption } from '../options.js';
import { BACKENDS, decisionLine, type BackendName } from '../../service/api.js';
import { BUDGET } from '../../service/tune-spec.js';
import { HttpApi } from '../http-client.js';
import { addCommonOptions, serverToken, settingsFrom, withApi, type CommonOptions } from '../service-access.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('retune')
      .description("capture a window of a device's I/O, identify the workload, apply its host configuration when it differs (learning one if new)")
      .requiredOption('--device <dev>', 'block device to watch and tune')
      .addOption(new Option('--window <time>', 'capture window (30s, 2m, ...)').argParser(durationOption('window')).default(60_000, '60s'))
      .option('--budget <n>', 'evaluations when the workload is new', intOption('budget', BUDGET.min), 12)
      .addOption(new Option('--backend <name>', 'capture backend').choices(['auto', ...BACKENDS]).default('auto'))
      .option('--dry-run', 'decide and log, write nothing (no sysfs write, no ConfDB record)'),
  )
    .addHelpText(
      'after',
      "\nOne log line per run; a lock keeps runs from overlapping. Exit 0 when applied, unchanged or skipped.\nWith --server (or SSDTUNE_SERVER) it is a fleet agent: it sends the server only the window's descriptors, the device class and what is applied,\napplies the recommendation itself, and keeps the last one when the server is down (token: SSDTUNE_TOKEN or <data dir>/api-token).\nSee contrib/ for a systemd timer and a crontab line.\n\nExample:\n  ssdtune retune --device /dev/nvme0n1 --window 60s\n  ssdtune retune --device /dev/nvme0n1 --server http://ssdtune.example:7411",
    )
    .action(async (o: CommonOptions & { device: string; window: number; budget: number; backend: BackendName | 'auto'; dryRun?: boolean }) => {
      const windowMs = o.window;
      const settings = settingsFrom(o);
      const r = { device: o.device, windowMs, budget: o.budget, backend: o.backend, dryRun: !!o.dryRun };
      // A fleet agent: the server decides, this host applies with its own ConfDB keeping the way back.
      const d = settings.server
        ? await withApi(o, (api) => api.retune({ ...r, fleet: agentServer(settings.server!, serverToken(settings)) }), 'retune-agent', true)
        : await withApi(o, (api) => api.retune(r), 'retune');
      process.stdout.write(o.json ? JSON.stringify(d) + '\n' : decisionLine(d) + '\n');
    });
}

/** How long an agent waits for the server before it works from its cache. */
const AGENT_TIMEOUT_MS = 10_000;

function agentServer(url: string, token: string | undefined): HttpApi {
  try {
    new URL(url);
  } catch {
    throw ERR_USAGE(`--server: expected a URL such as http://ssdtune.example:7411, got "${url}"`);
  }
  return new HttpApi(url, token, 'retune-agent', { timeoutMs: AGENT_TIMEOUT_MS });
}
