/**
 * `ssdtune tune <trace>`: identify the workload and recommend a stored
 * configuration, or learn one with the chosen evaluator. Runs in this process,
 * or as a job on the server that holds the ConfDB.
 */
import { Option, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRecord } from '../../confdb/records.js';
import { ERR_USAGE } from '../../errors.js';
import { describeCatalog, EVALUATOR_NAMES, SPACE_NAMES, SPACES } from '../../service/catalog.js';
import { registerLocalTrace } from '../../service/traces.js';
import { BUDGET, DEFAULT_SEED, parseReplay, resolveTuneArgs, type TuneArgs } from '../../service/tune-spec.js';
import type { TuneResult } from '../../service/tune.js';
import { progressBar } from '../progress.js';
import { addCommonOptions, withService, type CommonOptions } from '../service-access.js';

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
  console.log(`config      ${r.config.id} (${r.config.space} space, ${r.source === 'confdb' ? 'stored in the ConfDB' : 'learned now'}, evaluator ${r.config.evaluator ?? '-'})`);
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
    const wanted = argsOf(o);
    const bar = progressBar('tune');
    const result = await withService(o, async (a) => {
      if (a.local) {
        // Checked before the trace is registered: a refused request writes nothing.
        const { spec } = resolveTuneArgs(wanted, a.local.settings);
        const rec = await registerLocalTrace(a.local, trace, 'cli');
        const { tune } = await import('../../service/tune.js');
        return tune(a.local, { spec, tracePath: rec.path }, { progress: (d, t) => bar.update(d, t) });
      }
      // The server holds the ConfDB: register the trace by path there and follow the job.
      const rec = await a.remote.request<{ id: string }>('POST', '/v1/traces/register', { path: trace });
      let { job } = await a.remote.request<{ job: JobRecord }>('POST', '/v1/jobs', { ...wanted, traceId: rec.id, force: true });
      while (job.status === 'queued' || job.status === 'running') {
        bar.update(job.progress.done, job.progress.total);
        await sleep(500);
        job = await a.remote.request<JobRecord>('GET', `/v1/jobs/${job.id}`);
      }
      if (job.status !== 'done') throw ERR_USAGE(`tune job ${job.id} ended ${job.status}${job.error ? `: ${job.error}` : ''}`);
      return job.result as unknown as TuneResult;
    });
    bar.done();
    printResult(result, o.json);
  });
}
