/** `ssdtune serve`: the REST API and job runner over the ConfDB, until SIGINT/SIGTERM. */
import { Option, type Command } from 'commander';
import { announceServer, banner, startServer } from '../../api/server.js';
import { tokenPath } from '../../service/token.js';
import { loadSettings } from '../../config.js';
import { openService } from '../../service/context.js';
import { jobHandlers } from '../../service/handlers.js';
import { decisionLine, hostLocal } from '../../service/api.js';
import { longInterval } from '../../util/long-timer.js';
import { durationOption, intOption } from '../options.js';

/** How long a SIGTERM waits for requests and jobs to stop before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 5000;

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the REST API (OpenAPI at /docs) and the tune job runner')
    .option('--data-dir <dir>', 'data directory holding the ConfDB (env SSDTUNE_DATA_DIR)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1; env SSDTUNE_HOST); one other hosts can reach needs --expose')
    .option('--expose', 'serve on a non-loopback address: every route, reads included, then needs the API token')
    .option(
      '--allow-host <name>',
      'a host name (Host header) to answer to besides loopback, this host and the bound address; repeatable (config "allowedHosts")',
      (v: string, acc: string[] = []) => [...acc, v],
    )
    .option('--port <n>', 'port (default 7411; 0 picks a free one; env SSDTUNE_PORT)', intOption('port', 0, 65535))
    .option('--log', 'log every request as JSON lines to stdout (without it, only requests that fail with a 5xx)')
    .option('--retune <dev>', 'also retune this device on a schedule (as `ssdtune retune` would from cron)')
    .addOption(
      new Option('--retune-every <time>', 'interval of the internal retune schedule').argParser(durationOption('retune-every')).default(15 * 60_000, '15m'),
    )
    .addOption(new Option('--retune-window <time>', 'capture window of each retune').argParser(durationOption('retune-window')).default(60_000, '60s'))
    .addHelpText(
      'after',
      '\nExamples:\n  ssdtune serve --port 7411 &\n  curl -X POST -H "Authorization: Bearer $(cat ~/.local/share/ssdtune/api-token)" -H "Content-Type: application/octet-stream" --data-binary @trace.csv http://127.0.0.1:7411/v1/traces\n  ssdtune serve --retune /dev/nvme0n1 --retune-every 15m',
    )
    .action(
      async (o: {
        dataDir?: string;
        host?: string;
        port?: number;
        expose?: boolean;
        allowHost?: string[];
        log?: boolean;
        retune?: string;
        retuneEvery: number;
        retuneWindow: number;
      }) => {
        const settings = loadSettings({
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          ...(o.host ? { host: o.host } : {}),
          ...(o.port !== undefined ? { port: o.port } : {}),
        });
        if (o.allowHost) settings.allowedHosts = [...settings.allowedHosts, ...o.allowHost];
        // A device no retune could watch is refused now, not at every run of the schedule.
        if (o.retune) hostLocal.requireCapturable(o.retune);
        // From the first moment: a SIGTERM during start-up must not kill the process mid-write.
        const stopped = new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        const svc = await openService(settings, jobHandlers);
        let started: Awaited<ReturnType<typeof startServer>>;
        try {
          // A request that fails with a 5xx answers "internal error" and nothing more (plugins/errors.ts): its cause is
          // logged whatever --log says, or an operator would have nothing to go on.
          started = await startServer(svc, { logger: o.log ? true : { level: 'error' }, expose: o.expose ?? false });
        } catch (e) {
          await svc.close();
          throw e;
        }
        const { app } = started;
        // Resumed before the server is announced: a client that finds it (server.json, the banner) sees those jobs
        // queued again, never interrupted. Resumed after listening: a start that cannot bind resumes nothing.
        const resumed = await svc.jobs.resumeInterrupted('server');
        announceServer(settings.dataDir, started);
        process.stderr.write(`${banner(started, tokenPath(settings.dataDir))}${resumed.length ? `; resumed ${resumed.length} interrupted job(s)` : ''}\n`);
        // The internal schedule runs the same service call as the cron job, under the same per-device lock.
        const api = app.ssdtune.as('server');
        const schedule = o.retune
          ? longInterval(() => {
              api.retune({ device: o.retune!, windowMs: o.retuneWindow, budget: 12 }).then(
                (d) => process.stderr.write(decisionLine(d) + '\n'),
                (e: Error) => process.stderr.write(`retune ${o.retune}: ${e.message}\n`),
              );
            }, o.retuneEvery)
          : undefined;
        const signal = await stopped;
        // Stop within seconds whatever a job is doing: running jobs are aborted (their signal reaches the
        // reader and the evaluator) and recorded as interrupted; one that does not stop within the grace
        // period is left to the next start, which finds it interrupted too. A second signal exits at once.
        process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
        process.stderr.write(`ssdtune: ${signal}: stopping (at most ${SHUTDOWN_GRACE_MS / 1000} s)\n`);
        schedule?.cancel();
        const closed = (async () => {
          await app.close();
          await svc.close();
        })();
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([closed.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), SHUTDOWN_GRACE_MS)))]);
        clearTimeout(timer);
        if (!inTime) {
          process.stderr.write(`ssdtune: jobs still running after ${SHUTDOWN_GRACE_MS / 1000} s: exiting; the next start marks them interrupted\n`);
          process.exit(1);
        }
      },
    );
}
