/** `ssdtune revert`: restore what a device had before ssdtune's first apply. */
import type { Command } from 'commander';
import { requireRoot, revertHostConfig } from '../../host/applier.js';
import { ConfDbStateStore } from '../../host/confdb-state.js';
import { addCommonOptions, withLocalService, type CommonOptions } from '../service-access.js';
import { formatChanges } from './apply.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('revert')
      .description('Restore the sysfs attributes a device had before ssdtune first changed them')
      .requiredOption('--device <dev>', 'block device previously passed to apply')
      .option('--dry-run', 'show what would be restored, write nothing'),
  ).action(async (o: CommonOptions & { device: string; dryRun?: boolean }) => {
    if (!o.dryRun) requireRoot(`reverting ${o.device}`);
    await withLocalService(o, async (svc) => {
      const r = await revertHostConfig(o.device, { store: new ConfDbStateStore(svc.db), dryRun: o.dryRun });
      if (o.json) {
        process.stdout.write(JSON.stringify({ device: r.device.disk.name, dryRun: r.dryRun, changes: r.changes, after: r.after, ...(r.interrupted ? { interrupted: r.interrupted } : {}) }) + '\n');
        return;
      }
      if (r.interrupted) process.stdout.write(`${r.device.disk.name}: ${r.interrupted}; restoring the original values\n`);
      process.stdout.write(formatChanges(r.device.disk.name, r.changes));
      process.stdout.write(r.dryRun ? 'dry run: nothing written\n' : 'reverted\n');
    });
  });
}
