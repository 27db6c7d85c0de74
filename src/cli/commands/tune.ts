/**
 * `ssdtune tune <trace>`: identify the workload and recommend a stored
 * configuration, or learn one with the chosen evaluator. A job, in this
 * process or on the server that holds the ConfDB.
 */
import { Option, type Command } from 'commander';
import { describeCatalog, EVALUATOR_NAMES, SPACE_NAMES, SPACES } from '../../service/catalog.js';
import type { TuneResult } from '../../service/api.js';
import { BUDGET, DEFAULT_SEED, describeReplay, parseReplay, type TuneArgs } from '../../service/tune-spec.js';
import { progressBar } from '../progress.js';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';

type TuneFlags = CommonOptions & {
  space: string;
  evaluator?: string;
  device?: string;
  budget: number;
  seed: number;
  format?: string;
  name?: string;
  forceSearch?: boolean;
  replay?: string;
  lbaPolicy?: string;
};

/** The TuneSpec (minus the trace) a command line asks for; the service validates it. */
function argsOf(o: TuneFlags): TuneArgs {
  return {
    space: o.space as TuneArgs['space'],
    ...(o.evaluator ? { evaluator: o.evaluator as TuneArgs['evaluator'] } : {}),
    budget: o.budget,
    seed: o.seed,
    ...(o.device ? { device: o.device } : {}),
    ...(o.format ? { format: o.format } : {}),
    ...(o.name ? { name: o.name } : {}),
    ...(o.forceSearch ? { forceSearch: true } : {}),
    ...(o.replay ? { replay: parseReplay(o.replay) } : {}),
    ...(o.lbaPolicy ? { lbaPolicy: o.lbaPolicy as TuneArgs['lbaPolicy'] } : {}),
  };
}

/** Spread (in typical radii) above which a new workload is announced as hard to recognise by similarity. */
const SPREAD_WARNING = 3;

function printResult(r: TuneResult, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const id = r.workload.identification;
  console.log(`workload    ${r.workload.name} (${r.workload.id}) — ${r.workload.known ? (id.exact ? 'known (the same trace as before)' : 'known') : 'new'}; distance ${Number.isFinite(id.distance) ? id.distance.toFixed(3) : '∞'} vs threshold ${id.threshold.toFixed(3)} (${id.method})${r.workload.clusters ? `; clusters ${r.workload.clusters.join('+')}` : ''}`);
  if (r.workload.spreadRatio !== undefined && r.workload.spreadRatio > SPREAD_WARNING) {
    console.log(`            its windows spread ${r.workload.spreadRatio.toFixed(1)}x a typical workload's (a short, noisy or multi-phase trace): later captures of it are harder to recognise; this trace itself always will be`);
  }
  console.log(`config      ${r.config.id} (${r.config.space} space, ${r.source === 'confdb' ? 'stored in the ConfDB' : 'learned now'}, evaluator ${r.config.evaluator ?? '-'}, replay ${describeReplay(r.config.replay ?? { mode: 'recorded' })})`);
  if (r.search) console.log(`search      ${r.search.evaluations} evaluations (${r.search.failed} failed), ${r.search.status}, ${(r.search.elapsedMs / 1000).toFixed(1)} s`);
  if (r.gain) {
    console.log(`gain        grade ${r.gain.grade.toFixed(3)}; throughput x${r.gain.throughputSpeedup.toFixed(3)}, latency x${r.gain.latencySpeedup.toFixed(3)} vs the baseline`);
    // A grade of 0 is an answer, not a failure: say what it means rather than leave a bare x1.000.
    if (r.source === 'search' && r.gain.grade <= 0.001) {
      console.log(`            no configuration beat the baseline measurably (grade <= 0.001): this workload does not stress what the ${r.config.space} space tunes (too light, or bound elsewhere)`);
    }
  }
  console.log('values      ' + Object.entries(r.config.values).map(([k, v]) => `${k}=${v}`).join(' '));
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('tune <trace>')
      .description('identify the workload of a trace; recommend its stored configuration or learn one')
      .addOption(new Option('--space <space>', SPACE_NAMES.map((n) => `${n}: ${SPACES[n].summary}`).join('; ')).choices(SPACE_NAMES).default('ssd'))
      .addOption(new Option('--evaluator <name>', `per space: ${describeCatalog()}`).choices(EVALUATOR_NAMES))
      .option('--device <dev>', 'block device the live evaluator replays on (read-only)')
      .option('--budget <n>', `evaluations for a search, the baseline included (>= ${BUDGET.min})`, (v) => Number(v), BUDGET.default)
      .option('--seed <n>', 'search seed', (v) => Number(v), DEFAULT_SEED)
      .option('--format <fmt>', 'force the trace format')
      .option('--name <name>', 'name for a new workload')
      .option('--force-search', 'search even when a stored configuration matches')
      .option('--replay <mode>', 'replay intensity: recorded (default), scaled:<speedup> (arrival times divided by it), closed:<queueDepth>')
      .addOption(new Option('--lba-policy <policy>', 'requests beyond a simulated capacity: reject (default) or modulo').choices(['reject', 'modulo']))
      .addHelpText('after', '\nExamples:\n  ssdtune tune traces/msps_msnfs_30s.trace\n  ssdtune tune --budget 60 --json traces/mqsim_wsrch-small.trace\n  ssdtune tune --space host traces/mqsim_wsrch-small.trace'),
  ).action(async (trace: string, o: TuneFlags) => {
    const bar = progressBar('tune');
    let result: TuneResult;
    try {
      result = await withApi(o, (api) => api.tune(trace, argsOf(o), { onProgress: (d, t) => bar.update(d, t) }));
    } finally {
      bar.done();
    }
    printResult(result, o.json);
  });
}
