/**
 * `ssdtune model <sub>`: machine-learned models. Each subcommand is one
 * function taking the `model` command; add a subcommand with one line in
 * SUBCOMMANDS.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { ERR_USAGE } from '../../errors.js';
import { PROJECT_ROOT } from '../../native.js';
import { DEFAULT_TRAIN, metricsTable, trainAndSave, type TrainConfig } from '../../ml/train.js';

const SUBCOMMANDS: ((model: Command) => void)[] = [registerTrain];

export function register(program: Command): void {
  const model = program.command('model').description('train and inspect the learned models');
  for (const add of SUBCOMMANDS) add(model);
}

function int(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw ERR_USAGE(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

function registerTrain(model: Command): void {
  const d = DEFAULT_TRAIN;
  model
    .command('train')
    .description('train the workload similarity network on real traces, calibrate the known/new threshold, evaluate, and save it')
    .option('--traces <dir>', 'directory of traces (every readable file is used)', path.join(PROJECT_ROOT, 'traces'))
    .option('--out <dir>', 'where to write the model', path.join(PROJECT_ROOT, 'models', 'similarity'))
    .option('--window <n>', 'requests per window', int('window', 2), d.windowSize)
    .option('--query-windows <n>', 'windows per identification query', int('query-windows', 1), d.queryWindows)
    .option('--steps <n>', 'training steps', int('steps', 1), d.steps)
    .option('--seed <n>', 'random seed', int('seed', 0), d.seed)
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
      const r = await trainAndSave(cfg, command);
      if (o.json) {
        process.stdout.write(JSON.stringify({ out: cfg.outDir, backend: r.backend, trainSeconds: r.trainSeconds, streams: r.streams, skipped: r.skipped, metrics: r.metrics }, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
      } else {
        process.stdout.write(`model saved to ${cfg.outDir} (${r.streams.length} workloads, trained in ${r.trainSeconds.toFixed(1)} s on ${r.backend})\n\n${metricsTable(r.metrics)}\n`);
      }
    });
}
