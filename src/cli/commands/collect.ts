/**
 * `ssdtune collect`: live capture from a block device until a duration ends
 * or SIGINT/SIGTERM, written as a standard blktrace per-CPU set that stock
 * blkparse reads (or MQSim ASCII). The capture is streamed into the writer,
 * so memory stays bounded however long it runs.
 */
import { Option, type Command } from 'commander';
import { ERR_COLLECT_LOST_DEVICE, ERR_USAGE } from '../../errors.js';
import { durationOption } from '../options.js';
import { isStandardOutput, STANDARD_OUTPUT } from '../../util/atomic-file.js';
import { BACKENDS, CAPTURE_FORMATS, hostLocal, type BackendName, type CaptureFormat } from '../../service/api.js';

interface CollectOpts {
  device: string;
  duration?: number;
  backend: BackendName | 'auto';
  output: string;
  format: CaptureFormat;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('collect')
    .description('Capture block I/O requests live from a device (eBPF, tracefs or kernel blktrace) into a trace file')
    .requiredOption('--device <path>', 'block device to capture, e.g. /dev/nvme0n1 (a partition is captured as its sector range)')
    .option('--duration <time>', 'stop after this long (30s, 2m, ...); default: until SIGINT/SIGTERM', durationOption('duration'))
    .addOption(new Option('--backend <name>', 'capture backend').choices(['auto', ...BACKENDS]).default('auto'))
    .requiredOption('-o, --output <prefix>', 'output: PREFIX.blktrace.N files (blktrace) or one file (mqsim; - for standard output)')
    .addOption(new Option('--format <name>', 'output format').choices(CAPTURE_FORMATS).default('blktrace'))
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nRun `ssdtune doctor` to see which backends work here.')
    .action(async (opts: CollectOpts) => {
      const ms = opts.duration;
      if (opts.output === STANDARD_OUTPUT && opts.format !== 'mqsim')
        throw ERR_USAGE('-o -: only --format mqsim is one stream; blktrace writes a file per CPU, give a prefix');
      // Progress goes to stderr even with --json; stdout carries only the summary, or the trace itself.
      const say = (s: string): void => void process.stderr.write(s);
      const summaryOut = isStandardOutput(opts.output) ? process.stderr : process.stdout;
      const stop = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) process.kill(process.pid, sig); // second signal: give up now (cleanup still runs)
        say(`\ncollect: ${sig}: stopping and writing the output\n`);
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const live = process.stderr.isTTY && !opts.json;
      let summary;
      try {
        summary = await hostLocal.capture({
          device: opts.device,
          backend: opts.backend,
          output: opts.output,
          format: opts.format,
          ...(ms !== undefined ? { durationMs: ms } : {}),
          signal: stop.signal,
          onStart: (choice) => {
            say(`collect: ${opts.device} with ${choice}\n`);
            say(ms ? `collect: capturing for ${ms / 1000} s (Ctrl-C stops earlier)\n` : 'collect: capturing until Ctrl-C / SIGTERM\n');
          },
          ...(live ? { onProgress: (n: number, lost: number) => void process.stderr.write(`\r${n} requests${lost ? `, ${lost} lost` : ''}   `) } : {}),
        });
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      const { deviceGone, ...shown } = summary;
      if (opts.json) summaryOut.write(JSON.stringify(shown, null, 2) + '\n');
      else {
        if (live) process.stderr.write('\n');
        summaryOut.write(
          `${summary.requests} requests captured in ${summary.seconds.toFixed(1)} s with ${summary.backend}; lost ${summary.lost}${
            summary.lost
              ? ` (${Object.entries(summary.lostBy)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join(', ')})`
              : ''
          }${summary.unfinished ? `; ${summary.unfinished} in flight at stop` : ''}${summary.unpaired ? `; ${summary.unpaired} completed without their issue` : ''}\n`,
        );
        summaryOut.write(`wrote ${summary.files.map((f) => (f === STANDARD_OUTPUT ? 'standard output' : f)).join(', ')}\n`);
        for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
      }
      if (deviceGone) throw ERR_COLLECT_LOST_DEVICE(opts.device, `the output holds what was captured until then (${summary.files.join(', ')})`);
    });
}
