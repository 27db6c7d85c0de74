/** `ssdtune doctor`: which live-capture backends and optional native features work here, why not, what to do. */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { hostLocal } from '../../service/api.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check which block I/O capture backends (eBPF, tracefs, kernel blktrace) work on this machine')
    .option('--device <path>', 'also try kernel blktrace on this device (setup, open relay files, teardown)')
    .option('--json', 'print the checks as JSON')
    .action((opts: { device?: string; json?: boolean }) => {
      const report = hostLocal.doctor(opts.device);
      const { checks, auto: best, features, ebpfMinKernel } = report;
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        process.stdout.write('Capture backends:\n');
        for (const c of checks) {
          process.stdout.write(`${c.works ? 'ok  ' : 'no  '} ${c.backend.padEnd(8)} ${c.reason}\n`);
          if (!c.works) process.stdout.write(`     ${''.padEnd(8)} fix: ${c.fix}\n`);
        }
        process.stdout.write(best ? `\n--backend auto would use ${best}.\n` : '\nNo backend works here: see the fixes above.\n');
        process.stdout.write(`(The eBPF backend needs Linux >= ${ebpfMinKernel} with BTF.)\n\nOptional native features:\n`);
        for (const f of features) {
          process.stdout.write(`${f.available ? 'ok  ' : 'no  '} ${f.feature.padEnd(8)} ${f.what}: ${f.detail}\n`);
          if (!f.available) process.stdout.write(`     ${''.padEnd(8)} fix: ${f.fix}\n`);
        }
      }
      if (!best) process.exitCode = EXIT.UNSUPPORTED;
    });
}
