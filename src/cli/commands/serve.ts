/** `ssdtune serve`: the REST API and job runner over the ConfDB, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { startServer } from '../../api/server.js';
import { tokenPath } from '../../api/token.js';
import { loadSettings } from '../../config.js';
import { openService } from '../../service/context.js';
import { jobHandlers } from '../../service/handlers.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the REST API (OpenAPI at /docs) and the tune job runner')
    .option('--data-dir <dir>', 'data directory holding the ConfDB (env SSDTUNE_DATA_DIR)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1; env SSDTUNE_HOST)')
    .option('--port <n>', 'port (default 7411; 0 picks a free one; env SSDTUNE_PORT)', (v) => Number(v))
    .option('--log', 'log requests as JSON lines to stdout')
    .addHelpText('after', '\nExample:\n  ssdtune serve --port 7411 &\n  curl -H "Authorization: Bearer $(cat ~/.local/share/ssdtune/api-token)" -X POST ...')
    .action(async (o: { dataDir?: string; host?: string; port?: number; log?: boolean }) => {
      const settings = loadSettings({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) });
      const svc = await openService(settings, jobHandlers);
      const { app, url } = await startServer(svc, { logger: o.log ?? false });
      const resumed = await svc.jobs.resumeInterrupted('server');
      process.stderr.write(`ssdtune: serving ${url} (token in ${tokenPath(settings.dataDir)})${resumed.length ? `; resumed ${resumed.length} interrupted job(s)` : ''}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await svc.close();
    });
}
