/** `ssdtune revert`: restore what a device had before ssdtune's first apply. */
import type { Command } from 'commander';
import { revertHostConfig } from '../../host/applier.js';
import { JsonFileStateStore } from '../../host/state.js';
import { formatChanges } from './apply.js';

export function register(program: Command): void {
  program
    .command('revert')
    .description('Restore the sysfs attributes a device had before ssdtune first changed them')
    .requiredOption('--device <dev>', 'block device previously passed to apply')
    .option('--dry-run', 'show what would be restored, write nothing')
    .option('--data-dir <dir>', 'where previous values were recorded (default $SSDTUNE_DATA_DIR or ~/.ssdtune)')
    .option('--json', 'machine-readable output')
    .action(async (o: { device: string; dryRun?: boolean; dataDir?: string; json?: boolean }) => {
      const r = await revertHostConfig(o.device, { store: new JsonFileStateStore(o.dataDir), dryRun: o.dryRun });
      if (o.json) {
        process.stdout.write(JSON.stringify({ device: r.device.name, dryRun: r.dryRun, changes: r.changes, after: r.after }) + '\n');
        return;
      }
      process.stdout.write(formatChanges(r.device.name, r.changes));
      process.stdout.write(r.dryRun ? 'dry run: nothing written\n' : 'reverted\n');
    });
}
