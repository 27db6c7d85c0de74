/** `ssdtune serve`: the REST API and job runner over the ConfDB, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { startServer } from '../../api/server.js';
import { tokenPath } from '../../service/token.js';
import { loadSettings } from '../../config.js';
import { openService } from '../../service/context.js';
import { jobHandlers } from '../../service/handlers.js';
import { parseDuration } from './collect.js';
import { decisionLine } from '../../service/api.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the REST API (OpenAPI at /docs) and the tune job runner')
    .option('--data-dir <dir>', 'data directory holding the ConfDB (env SSDTUNE_DATA_DIR)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1; env SSDTUNE_HOST)')
    .option('--port <n>', 'port (default 7411; 0 picks a free one; env SSDTUNE_PORT)', (v) => Number(v))
    .option('--log', 'log requests as JSON lines to stdout')
    .option('--retune <dev>', 'also retune this device on a schedule (as `ssdtune retune` would from cron)')
    .option('--retune-every <time>', 'interval of the internal retune schedule', '15m')
    .option('--retune-window <time>', 'capture window of each retune', '60s')
    .addHelpText('after', '\nExamples:\n  ssdtune serve --port 7411 &\n  curl -X POST -H "Authorization: Bearer $(cat ~/.local/share/ssdtune/api-token)" -H "Content-Type: application/octet-stream" --data-binary @trace.csv http://127.0.0.1:7411/v1/traces\n  ssdtune serve --retune /dev/nvme0n1 --retune-every 15m')
    .action(async (o: { dataDir?: string; host?: string; port?: number; log?: boolean; retune?: string; retuneEvery: string; retuneWindow: string }) => {
      const settings = loadSettings({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) });
      const svc = await openService(settings, jobHandlers);
      const { app, url } = await startServer(svc, { logger: o.log ?? false });
      const resumed = await svc.jobs.resumeInterrupted('server');
      process.stderr.write(`ssdtune: serving ${url} (token in ${tokenPath(settings.dataDir)})${resumed.length ? `; resumed ${resumed.length} interrupted job(s)` : ''}\n`);
      // The internal schedule runs the same service call as the cron job, under the same per-device lock.
      const api = app.ssdtune.as('server');
      const schedule = o.retune
        ? setInterval(() => {
            api.retune({ device: o.retune!, windowMs: parseDuration(o.retuneWindow), budget: 12 }).then(
              (d) => process.stderr.write(decisionLine(d) + '\n'),
              (e: Error) => process.stderr.write(`retune ${o.retune}: ${e.message}\n`),
            );
          }, parseDuration(o.retuneEvery))
        : undefined;
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(schedule);
      await app.close();
      await svc.close();
    });
}
