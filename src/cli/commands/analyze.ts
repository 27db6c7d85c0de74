/** `ssdtune analyze <trace...>`: whole-trace statistics as text, JSON and an HTML report. */
import type { Command } from 'commander';
import path from 'node:path';
import { hostLocal } from '../../service/api.js';
import { envProgressMode, progressReporter } from '../progress.js';
import { ERR_REPORT_WRITE } from '../../errors.js';
import { loadSettings } from '../../config.js';
import { withStandardInput } from '../standard-input.js';
import { isStandardOutput, probeWritable, writeAtomically } from '../../util/atomic-file.js';

interface AnalyzeFlags {
  json?: boolean;
  format?: string;
  skipBad?: boolean;
  report?: string;
}

export function register(program: Command): void {
  program
    .command('analyze')
    .description(
      'Whole-trace statistics: mix, sizes, sequentiality, LBA span, working set, IOPS/bandwidth over time, queue depth, latency, per process and device',
    )
    .argument(
      '<trace...>',
      'trace files (format sniffed from content; compressed read directly; - for standard input), blktrace sets by base name (sda for sda.blktrace.N, as blkparse -i) or directories of sets',
    )
    .option('--json', 'print the report as JSON')
    .option('--format <name>', 'force the trace format instead of sniffing')
    .option('--skip-bad', 'skip malformed records (counted in the report) instead of failing')
    .option('--report <file.html>', 'also write a self-contained HTML report with plots (- for standard output; the text report then goes to standard error)')
    .addHelpText(
      'after',
      '\nExamples:\n  ssdtune analyze traces/msr_hm_0_sample1000.csv --report report.html\n  zcat trace.csv.gz | ssdtune analyze -\n  blkparse -i sda -o - | ssdtune analyze --json -',
    )
    .action(async (traces: string[], flags: AnalyzeFlags) => {
      // A report that cannot be written is found now, not after an analysis of gigabytes.
      if (flags.report) {
        try {
          probeWritable(flags.report);
        } catch (e) {
          throw ERR_REPORT_WRITE(flags.report, (e as Error).message);
        }
      }
      const bar = progressReporter('analyze', { mode: envProgressMode() });
      let report;
      try {
        report = await withStandardInput(
          traces,
          () => loadSettings().stdinMaxBytes,
          async (paths, named) => {
            const r = await hostLocal.analyze(paths, {
              format: flags.format,
              skipBad: flags.skipBad,
              onProgress: (i, n, done, total) => bar.update(total > 0 ? i + done / total : i, n),
            });
            // The spool is standard input to the user.
            for (const t of r.traces) t.source = named(t.source);
            if (r.combined) r.combined.sources = r.combined.sources.map(named);
            return r;
          },
        );
      } finally {
        bar.done();
      }
      // Write the HTML first: if it fails, nothing has been printed as if complete.
      if (flags.report) {
        const html = await hostLocal.renderAnalysis(report, 'html');
        try {
          await writeAtomically(flags.report, async (ws) => void ws.end(html));
        } catch (e) {
          throw ERR_REPORT_WRITE(flags.report, (e as Error).message);
        }
      }
      // With the HTML on standard output (--report -), the text or JSON report goes to standard error.
      const toStdout = flags.report !== undefined && isStandardOutput(flags.report);
      const out = toStdout ? process.stderr : process.stdout;
      out.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : (await hostLocal.renderAnalysis(report, 'text')) + '\n');
      if (flags.report && !flags.json && !toStdout) process.stderr.write(`report written to ${path.resolve(flags.report)}\n`);
    });
}
