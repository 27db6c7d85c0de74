/** `ssdtune apply`: apply a host configuration to a block device through sysfs (or export it). */
import type { Command } from 'commander';
import { ERR_USAGE } from '../../errors.js';
import { applyHostConfig, type Change } from '../../host/applier.js';
import { readHostConfigFile } from '../../host/config-file.js';
import { toTunedProfile, toUdevRule } from '../../host/export.js';
import { JsonFileStateStore } from '../../host/state.js';

export function formatChanges(device: string, changes: Change[]): string {
  if (changes.length === 0) return `${device}: nothing to change\n`;
  const w = Math.max(...changes.map((c) => c.key.length));
  return changes.map((c) => `${device}  ${c.key.padEnd(w)}  ${c.from ?? '(absent)'} -> ${c.to}`).join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('apply')
    .description('Apply a host configuration (read_ahead_kb, scheduler, nr_requests ...) to a block device, all or nothing')
    .requiredOption('--device <dev>', 'block device: /dev/nvme0n1, sda, a partition (its disk is tuned), loop0')
    .requiredOption('--config <file>', 'JSON file of attribute: value (e.g. {"read_ahead_kb": 1024, "scheduler": "mq-deadline"})')
    .option('--dry-run', 'show what would change, write nothing')
    .option('--export <kind>', 'print the configuration as a "tuned" profile or a "udev" rule instead of applying it')
    .option('--data-dir <dir>', 'where previous values are recorded (default $SSDTUNE_DATA_DIR or ~/.ssdtune)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  ssdtune apply --device /dev/nvme0n1 --config host.json --dry-run\n  ssdtune apply --device sda --config host.json --export tuned > tuned.conf')
    .action(async (o: { device: string; config: string; dryRun?: boolean; export?: string; dataDir?: string; json?: boolean }) => {
      const config = readHostConfigFile(o.config);
      const store = new JsonFileStateStore(o.dataDir);
      if (o.export) {
        if (o.export !== 'tuned' && o.export !== 'udev') throw ERR_USAGE(`--export takes tuned or udev, not ${o.export}`);
        // Validate against the device exactly as an apply would, then print.
        const plan = await applyHostConfig(o.device, config, { store, dryRun: true });
        const dev = plan.device.name;
        const text = o.export === 'tuned' ? toTunedProfile(dev, plan.target) : toUdevRule(dev, plan.target);
        process.stdout.write(o.json ? JSON.stringify({ device: dev, kind: o.export, text }) + '\n' : text);
        return;
      }
      const r = await applyHostConfig(o.device, config, { store, dryRun: o.dryRun });
      if (o.json) {
        process.stdout.write(JSON.stringify({ device: r.device.name, partition: r.device.partition, dryRun: r.dryRun, changes: r.changes, sideEffects: r.sideEffects, after: r.after }) + '\n');
        return;
      }
      const head = r.device.partition ? `(${r.device.partition} is a partition of ${r.device.name}; tuning the disk)\n` : '';
      process.stdout.write(head + formatChanges(r.device.name, r.changes));
      if (r.sideEffects.length) process.stdout.write(`the new scheduler also resets: ${r.sideEffects.join(', ')} (revert restores them)\n`);
      if (r.dryRun) process.stdout.write('dry run: nothing written\n');
      else if (r.changes.length) process.stdout.write(`applied; previous values recorded in ${store.file} (ssdtune revert --device ${r.device.name})\n`);
    });
}
