/** `ssdtune verify`: does a device still have what ssdtune applied? Exit 7 (conflict) when it drifted, or when the record is another device's or host's. */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('verify')
      .description('Check that a device still has the attributes ssdtune applied (a reboot, udev or a person may have changed them)')
      .requiredOption('--device <dev>', 'block device previously passed to apply'),
  )
    .addHelpText(
      'after',
      '\nExit 0 when every applied attribute is in place, 7 when some drifted (listed), 4 when nothing was applied. ' +
        "A record made on another host, or for another device number, is refused (SSDTUNE_HOST_STATE, exit 7): its values are not this device's to drift from.",
    )
    .action(async (o: CommonOptions & { device: string }) => {
      const r = await withApi(o, (api) => api.verify(o.device));
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else if (r.drift.length === 0)
        process.stdout.write(`${r.device}: as applied${r.configId ? ` (configuration ${r.configId})` : ''} at ${r.appliedAt} by ${r.by}\n`);
      else for (const d of r.drift) process.stdout.write(`${r.device}  ${d.key}  applied ${d.applied}, now ${d.now ?? '(absent)'}\n`);
      if (r.drift.length) process.exitCode = EXIT.CONFLICT;
    });
}
