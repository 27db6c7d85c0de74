/** `ssdtune apply`: apply a host configuration to a block device through sysfs (or export it). */
import { Option, type Command } from 'commander';
import { configRef, EXPORT_KINDS, requireRoot, type Change, type ExportKind } from '../../service/devices.js';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';

export function formatChanges(device: string, changes: Change[]): string {
  if (changes.length === 0) return `${device}: nothing to change\n`;
  const w = Math.max(...changes.map((c) => c.key.length));
  return changes.map((c) => `${device}  ${c.key.padEnd(w)}  ${c.from ?? '(absent)'} -> ${c.to}`).join('\n') + '\n';
}

type ApplyOpts = CommonOptions & { device: string; config: string; dryRun?: boolean; export?: ExportKind };

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('apply')
      .description('Apply a host configuration (read_ahead_kb, scheduler, nr_requests ...) to a block device, all or nothing')
      .requiredOption('--device <dev>', 'block device: /dev/nvme0n1, sda, a partition (its disk is tuned), loop0')
      .requiredOption(
        '--config <file|id>',
        'JSON file of attribute: value (e.g. {"read_ahead_kb": 1024, "scheduler": "mq-deadline"}) or a host configuration id from the ConfDB',
      )
      .option('--dry-run', 'show what would change, write nothing')
      .addOption(new Option('--export <kind>', 'print the configuration as a "tuned" profile or a "udev" rule instead of applying it').choices(EXPORT_KINDS)),
  )
    .addHelpText(
      'after',
      '\nPrevious values are recorded in the ConfDB (devices) before the first write; `ssdtune revert` restores them.\n\nExamples:\n  ssdtune apply --device /dev/nvme0n1 --config host.json --dry-run\n  ssdtune apply --device sda --config host.json --export tuned > tuned.conf',
    )
    .action(async (o: ApplyOpts) => {
      // Writing sysfs needs root: said before anything is read or opened (the applier checks again where it writes).
      if (!o.dryRun && !o.export) requireRoot(`applying to ${o.device}`);
      // A file is read here, where the command runs; an id is looked up by the service.
      const ref = configRef(o.config);
      const r = await withApi(o, (api) =>
        api.apply({ device: o.device, ...ref, ...(o.dryRun ? { dryRun: true } : {}), ...(o.export ? { export: o.export } : {}) }),
      );
      if (r.exported) {
        process.stdout.write(o.json ? JSON.stringify({ device: r.device, kind: r.exported.kind, text: r.exported.text }) + '\n' : r.exported.text);
        return;
      }
      if (o.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const head = r.partition ? `(${r.partition} is a partition of ${r.device}; tuning the disk)\n` : '';
      process.stdout.write(head + formatChanges(r.device, r.changes));
      if (r.sideEffects.length) process.stdout.write(`the new scheduler also resets: ${r.sideEffects.join(', ')} (revert restores them)\n`);
      for (const h of r.held) process.stdout.write(`held ${h.key} at ${h.from}: writing ${h.by} made the kernel change it to ${h.to}\n`);
      if (r.dryRun) process.stdout.write('dry run: nothing written\n');
      else if (r.changes.length) process.stdout.write(`applied; previous values recorded in the ConfDB (ssdtune revert --device ${r.device})\n`);
    });
}
