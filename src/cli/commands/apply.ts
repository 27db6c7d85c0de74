/** `ssdtune apply`: apply a host configuration to a block device through sysfs (or export it). */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ERR_HOST_CONFIG, ERR_USAGE } from '../../errors.js';
import { applyHostConfig, requireRoot, type Change } from '../../host/applier.js';
import { readHostConfigFile } from '../../host/config-file.js';
import { ConfDbStateStore } from '../../host/confdb-state.js';
import { toTunedProfile, toUdevRule } from '../../host/export.js';
import { MemoryStateStore } from '../../host/state.js';
import type { Service } from '../../service/context.js';
import { hostValuesOf } from '../../service/devices.js';
import { addCommonOptions, withLocalService, type CommonOptions } from '../service-access.js';

export function formatChanges(device: string, changes: Change[]): string {
  if (changes.length === 0) return `${device}: nothing to change\n`;
  const w = Math.max(...changes.map((c) => c.key.length));
  return changes.map((c) => `${device}  ${c.key.padEnd(w)}  ${c.from ?? '(absent)'} -> ${c.to}`).join('\n') + '\n';
}

/** A config file, or the id of a `host` configuration in the ConfDB. */
async function loadConfig(ref: string, svc: () => Promise<Service>): Promise<Record<string, string | number>> {
  if (existsSync(ref)) return readHostConfigFile(ref);
  const s = await svc();
  if (!(await s.db.get('configs', ref))) throw ERR_HOST_CONFIG(ref, 'open', 'neither a file nor the id of a configuration in the ConfDB');
  return hostValuesOf(s, ref);
}

type ApplyOpts = CommonOptions & { device: string; config: string; dryRun?: boolean; export?: string };

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('apply')
      .description('Apply a host configuration (read_ahead_kb, scheduler, nr_requests ...) to a block device, all or nothing')
      .requiredOption('--device <dev>', 'block device: /dev/nvme0n1, sda, a partition (its disk is tuned), loop0')
      .requiredOption('--config <file|id>', 'JSON file of attribute: value (e.g. {"read_ahead_kb": 1024, "scheduler": "mq-deadline"}) or a host configuration id from the ConfDB')
      .option('--dry-run', 'show what would change, write nothing')
      .option('--export <kind>', 'print the configuration as a "tuned" profile or a "udev" rule instead of applying it'),
  )
    .addHelpText('after', '\nPrevious values are recorded in the ConfDB (devices) before the first write; `ssdtune revert` restores them.\n\nExamples:\n  ssdtune apply --device /dev/nvme0n1 --config host.json --dry-run\n  ssdtune apply --device sda --config host.json --export tuned > tuned.conf')
    .action(async (o: ApplyOpts) => {
      if (o.export && o.export !== 'tuned' && o.export !== 'udev') throw ERR_USAGE(`--export takes tuned or udev, not ${o.export}`);
      if (!o.dryRun && !o.export) requireRoot(`applying to ${o.device}`);
      await withLocalService(o, async (svc) => {
        const config = await loadConfig(o.config, async () => svc);
        // A dry run or an export writes nothing, so nothing needs recording.
        const store = o.dryRun || o.export ? new MemoryStateStore() : new ConfDbStateStore(svc.db);
        const r = await applyHostConfig(o.device, config, { store, dryRun: !!(o.dryRun || o.export) });
        if (o.export) {
          const text = o.export === 'tuned' ? toTunedProfile(r.device.disk.name, r.target) : toUdevRule(r.device.disk.name, r.target);
          process.stdout.write(o.json ? JSON.stringify({ device: r.device.disk.name, kind: o.export, text }) + '\n' : text);
          return;
        }
        if (o.json) {
          process.stdout.write(JSON.stringify({ device: r.device.disk.name, partition: r.device.partition ? r.device.name : undefined, dryRun: r.dryRun, changes: r.changes, sideEffects: r.sideEffects, after: r.after }) + '\n');
          return;
        }
        const head = r.device.partition ? `(${r.device.name} is a partition of ${r.device.disk.name}; tuning the disk)\n` : '';
        process.stdout.write(head + formatChanges(r.device.disk.name, r.changes));
        if (r.sideEffects.length) process.stdout.write(`the new scheduler also resets: ${r.sideEffects.join(', ')} (revert restores them)\n`);
        if (r.dryRun) process.stdout.write('dry run: nothing written\n');
        else if (r.changes.length) process.stdout.write(`applied; previous values recorded in the ConfDB (ssdtune revert --device ${r.device.disk.name})\n`);
      });
    });
}
