/**
 * `ssdtune collect`: live capture from a block device until a duration ends
 * or SIGINT/SIGTERM, written as a standard blktrace per-CPU set that stock
 * blkparse reads (or MQSim ASCII). The capture is streamed into the writer,
 * so memory stays bounded however long it runs.
 */
import type { Command } from 'commander';
import { ERR_COLLECT_LOST_DEVICE, ERR_USAGE } from '../../errors.js';
import { BACKENDS, openCollector, type BackendName } from '../../collector/index.js';
import { writeBlktrace } from '../../writers/blktrace.js';
import { writeMqsim } from '../../writers/mqsim.js';
import { longTimeout } from '../../util/long-timer.js';
import { assertWritable } from '../../writers/lines.js';

const UNITS: Record<string, number> = { ms: 1e-3, s: 1, m: 60, h: 3600 };
const MAX_DURATION_MS = 8760 * 3600 * 1000;

/** "30s", "500ms", "2m", "1h", or plain seconds -> milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m || Number(m[1]) <= 0) throw ERR_USAGE(`--duration: expected a positive time such as 30s, 500ms, 2m or 1h, got "${s}"`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 's']! * 1000;
  // Beyond a year is a typo, and beyond 2^53 ms a deadline cannot be computed at all.
  if (!(ms <= MAX_DURATION_MS)) throw ERR_USAGE(`--duration: "${s}" is longer than a year (8760h); stop an open-ended capture with SIGINT instead`);
  return ms;
}

interface CollectOpts {
  device: string;
  duration?: string;
  backend: string;
  output: string;
  format: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('collect')
    .description('Capture block I/O requests live from a device (eBPF, tracefs or kernel blktrace) into a trace file')
    .requiredOption('--device <path>', 'block device to capture, e.g. /dev/nvme0n1 (a partition is captured as its sector range)')
    .option('--duration <time>', 'stop after this long (30s, 2m, ...); default: until SIGINT/SIGTERM')
    .option('--backend <name>', `auto | ${BACKENDS.join(' | ')}`, 'auto')
    .requiredOption('-o, --output <prefix>', 'output: PREFIX.blktrace.N files (blktrace) or one file (mqsim)')
    .option('--format <name>', 'blktrace | mqsim', 'blktrace')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nRun `ssdtune doctor` to see which backends work here.')
    .action(async (opts: CollectOpts) => {
      if (opts.backend !== 'auto' && !BACKENDS.includes(opts.backend as BackendName)) throw ERR_USAGE(`--backend: expected auto, ${BACKENDS.join(', ')}; got "${opts.backend}"`);
      if (opts.format !== 'blktrace' && opts.format !== 'mqsim') throw ERR_USAGE(`--format: expected blktrace or mqsim, got "${opts.format}"`);
      const ms = opts.duration !== undefined ? parseDuration(opts.duration) : undefined;
      // Before the capture starts: an output that cannot be written fails now, not after the capture.
      assertWritable(opts.format === 'mqsim' ? opts.output : `${opts.output}.blktrace.0`);
      const { collector, choice } = await openCollector(opts.device, { backend: opts.backend as BackendName | 'auto' });
      // Progress goes to stderr even with --json (stdout carries only the summary).
      const say = (s: string): void => void process.stderr.write(s);
      say(`collect: ${opts.device} with ${choice}\n`);
      say(ms ? `collect: capturing for ${ms / 1000} s (Ctrl-C stops earlier)\n` : 'collect: capturing until Ctrl-C / SIGTERM\n');

      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) process.kill(process.pid, sig); // second signal: give up now (cleanup still runs)
        say(`\ncollect: ${sig}: stopping and writing the output\n`);
        void collector.stop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const timer = ms ? longTimeout(() => void collector.stop(), ms) : undefined;
      const progress =
        process.stderr.isTTY && !opts.json
          ? setInterval(() => {
              const s = collector.stats();
              process.stderr.write(`\r${s.events} requests${s.lost ? `, ${s.lost} lost` : ''}   `);
            }, 1000)
          : undefined;
      const t0 = Date.now();
      let files: string[];
      try {
        if (opts.format === 'mqsim') {
          await writeMqsim(collector, opts.output);
          files = [opts.output];
        } else {
          files = (await writeBlktrace(collector, opts.output)).files;
        }
      } finally {
        timer?.cancel();
        clearInterval(progress);
        await collector.stop();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      const st = collector.stats();
      const summary = {
        device: opts.device,
        backend: collector.backend,
        choice,
        seconds: (Date.now() - t0) / 1000,
        requests: st.events,
        lost: st.lost,
        lostBy: st.lostBy,
        files,
        warnings: collector.meta.warnings,
      };
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else {
        if (progress) process.stderr.write('\n');
        process.stdout.write(`${st.events} requests captured in ${summary.seconds.toFixed(1)} s with ${collector.backend}; lost ${st.lost}${st.lost ? ` (${Object.entries(st.lostBy).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}\n`);
        process.stdout.write(`wrote ${files.join(', ')}\n`);
        for (const w of collector.meta.warnings) process.stderr.write(`warning: ${w}\n`);
      }
      if (st.deviceGone) throw ERR_COLLECT_LOST_DEVICE(opts.device, `the output holds what was captured until then (${files.join(', ')})`);
    });
}
