/** `ssdtune identify <trace>`: is this trace one of the workloads the ConfDB knows? (Stores nothing but the trace's registration.) */
import { Option, type Command } from 'commander';
import { IDENTIFY_METHODS, type IdentifyMethod } from '../../service/identify.js';
import { addCommonOptions, settingsFrom, withApi, type CommonOptions } from '../service-access.js';
import { STANDARD_INPUT, uploadStandardInput } from '../standard-input.js';

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('identify <trace>')
      .description('say whether a trace is one of the workloads in the ConfDB (which one, distance, confidence) or a new one; what tune does first')
      .addOption(new Option('--method <m>', "'network' (Siamese network) or 'pca' (plain PCA-centre distance)").choices(IDENTIFY_METHODS).default('network'))
      .option('--format <fmt>', 'force the trace format (where the sniffer cannot tell, e.g. a Heimdall MSR cut from MSNFS)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ssdtune identify traces/mqsim_wsrch-small.trace\n  xzcat x.trace.xz | ssdtune identify -      (- reads standard input)',
    )
    .action(async (trace: string, o: CommonOptions & { method: IdentifyMethod; format?: string }) => {
      const format = o.format ? { format: o.format } : {};
      const r = await withApi(o, async (api) => {
        if (trace !== STANDARD_INPUT) return api.identify((await api.addTrace(trace, format)).id, { method: o.method });
        // Stored while it is read (standard-input.ts), then forgotten: nothing is left to name it.
        const rec = await uploadStandardInput(api, settingsFrom(o).stdinMaxBytes, format);
        try {
          return await api.identify(rec.id, { method: o.method });
        } finally {
          await api.deleteTrace(rec.id);
        }
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const id = r.identification;
      const d = id.distance === null || !Number.isFinite(id.distance) ? '∞' : id.distance.toFixed(3);
      const how = `distance ${d} vs threshold ${id.threshold.toFixed(3)}, confidence ${id.confidence.toFixed(2)}, ${id.windows} windows, ${id.method}`;
      if (r.workload)
        process.stdout.write(`known: ${r.workload.name} (${r.workload.id})${id.exact ? ', the very windows it was profiled from' : ''}; ${how}\n`);
      else {
        // Near in the embedding yet not it: say that its rates rule it out, or the answer looks like a contradiction.
        const pace = id.nearest?.outOfRate ? `, ${id.nearest.outOfRate} of ${id.chunks} chunks at rates too far from its own` : '';
        process.stdout.write(`new workload (nearest ${id.nearest ? id.nearest.name : 'none'}${pace}; ${how})\n`);
      }
    });
}
