/**
 * `ssdtune model <sub>`: machine-learned models. Each subcommand is one
 * function taking the `model` command; add a subcommand with one line in
 * SUBCOMMANDS.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { ERR_USAGE } from '../../errors.js';
import { intOption } from '../options.js';
import { PROJECT_ROOT } from '../../native.js';
import { DEFAULT_TRAIN, hostLocal, type TrainConfig } from '../../service/api.js';
import { loadSettings } from '../../config.js';
import { withStandardInput } from '../standard-input.js';

const SUBCOMMANDS: ((model: Command) => void)[] = [registerTrain, registerIdentify];

export function register(program: Command): void {
  const model = program.command('model').description('train and inspect the learned models');
  for (const add of SUBCOMMANDS) add(model);
}

function registerTrain(model: Command): void {
  const d = DEFAULT_TRAIN;
  model
    .command('train')
    .description('train the workload similarity network on real traces, calibrate the known/new threshold, evaluate, and save it')
    .option('--traces <dir>', 'directory of traces (every readable file is used)', path.join(PROJECT_ROOT, 'traces'))
    .requiredOption('--out <dir>', 'where to write the model (never defaults to the shipped models/similarity: pass it to replace that on purpose)')
    .option('--window <n>', 'requests per window', intOption('window', 2), d.windowSize)
    .option('--query-windows <n>', 'windows per identification query', intOption('query-windows', 1), d.queryWindows)
    .option('--steps <n>', 'training steps', intOption('steps', 1), d.steps)
    .option('--seed <n>', 'random seed', intOption('seed', 0), d.seed)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  ssdtune model train --traces traces --out models/similarity')
    .action(async (o: { traces: string; out: string; window: number; queryWindows: number; steps: number; seed: number; json?: boolean }) => {
      const cfg: TrainConfig = {
        ...d,
        tracesDir: path.resolve(o.traces),
        outDir: path.resolve(o.out),
        windowSize: o.window,
        queryWindows: o.queryWindows,
        steps: o.steps,
        seed: o.seed,
        log: o.json ? undefined : (m) => process.stderr.write(`${m}\n`),
      };
      const rel = (p: string) => path.relative(process.cwd(), p) || '.';
      const command = `ssdtune model train --traces ${rel(cfg.tracesDir)} --out ${rel(cfg.outDir)} --window ${cfg.windowSize} --query-windows ${cfg.queryWindows} --steps ${cfg.steps} --seed ${cfg.seed}`;
      // TensorFlow.js loads only for the model commands that need it (CLI start-up stays fast).
      const { result: r, summary } = await hostLocal.trainModel(cfg, command);
      if (o.json) {
        const totals = { network: r.figures.network.totals, pca: r.figures.pca.totals };
        process.stdout.write(
          JSON.stringify(
            {
              out: cfg.outDir,
              backend: r.backend,
              cpuSeconds: r.cpuSeconds,
              streams: r.streams,
              skipped: r.data.skipped,
              threshold: r.model.meta.threshold,
              totals,
              sources: r.figures.network.sources,
            },
            (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
          ) + '\n',
        );
      } else {
        process.stdout.write(summary);
      }
    });
}

function registerIdentify(model: Command): void {
  model
    .command('identify <trace>')
    .description('say whether <trace> is one of the --known workloads (which one, distance, confidence) or a new one')
    .requiredOption('--known <traces...>', 'traces of the known workloads (each file is one workload; - for standard input, once in the command)')
    .option('--model <dir>', 'similarity model directory', path.join(PROJECT_ROOT, 'models', 'similarity'))
    .option('--method <m>', "'network' (Siamese network) or 'pca' (plain PCA-centre distance)", 'network')
    .option('--format <name>', 'trace format of <trace> (default: sniffed)')
    .option('--json', 'print the answer as JSON')
    .addHelpText('after', '\nExample:\n  ssdtune model identify new.trace --known traces/msps_msnfs_30s.trace traces/mqsim_wsrch-small.trace')
    .action(async (trace: string, o: { known: string[]; model: string; method: 'network' | 'pca'; format?: string; json?: boolean }) => {
      if (o.method !== 'network' && o.method !== 'pca') throw ERR_USAGE(`--method must be network or pca, got "${o.method}"`);
      const r = await withStandardInput(
        [trace, ...o.known],
        () => loadSettings().stdinMaxBytes,
        // A known workload read from standard input is named "stdin", as a file by its base name.
        ([t, ...known]) => hostLocal.identifyAmong(t!, known, { modelDir: o.model, method: o.method, ...(o.format ? { format: o.format } : {}) }),
      );
      if (o.json) process.stdout.write(JSON.stringify({ trace, ...r, distance: Number.isFinite(r.distance) ? r.distance : null }) + '\n');
      else if (r.exact) process.stdout.write(`known: ${r.nearest!.name} (the very windows it was profiled from, ${r.windows} windows)\n`);
      else if (r.kind === 'known')
        process.stdout.write(
          `known: ${r.nearest!.name} (distance ${r.distance.toFixed(3)} <= threshold ${r.threshold.toFixed(3)}, confidence ${r.confidence.toFixed(2)}, ${r.windows} windows, ${r.method})\n`,
        );
      else
        process.stdout.write(
          `new workload (nearest ${r.nearest ? `${r.nearest.name} at ${r.distance.toFixed(3)}` : 'none'} > threshold ${r.threshold.toFixed(3)}, confidence ${r.confidence.toFixed(2)}, ${r.windows} windows, ${r.method})\n`,
        );
    });
}
