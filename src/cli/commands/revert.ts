/** `ssdtune revert`: restore what a device had before ssdtune's first apply. */
import type { Command } from 'commander';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';
import { requireRoot } from '../../service/devices.js';
import { formatChanges } from './apply.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('revert')
      .description('Restore the sysfs attributes a device had before ssdtune first changed them')
      .requiredOption('--device <dev>', 'block device previously passed to apply')
      .option('--dry-run', 'show what would be restored, write nothing')
      .option(
        '--anyway',
        "restore the recorded values even when ssdtune cannot tell the record is this device's (made on another host, or by an older ssdtune while the device shows neither its applied nor its previous values)",
      ),
  ).action(async (o: CommonOptions & { device: string; dryRun?: boolean; anyway?: boolean }) => {
    if (!o.dryRun) requireRoot(`reverting ${o.device}`);
    const r = await withApi(o, (api) => api.revert(o.device, { dryRun: !!o.dryRun, anyway: !!o.anyway }));
    if (o.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
      return;
    }
    if (r.interrupted) process.stdout.write(`${r.device}: ${r.interrupted}; restoring the original values\n`);
    process.stdout.write(formatChanges(r.device, r.changes));
    process.stdout.write(r.dryRun ? 'dry run: nothing written\n' : 'reverted\n');
  });
}
