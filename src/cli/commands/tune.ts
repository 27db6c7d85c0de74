/**
 * `ssdtune tune <trace>`: identify the workload and recommend a stored
 * configuration, or learn one with the chosen evaluator. Runs in this process,
 * or as a job on the server that holds the ConfDB.
 */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRecord } from '../../confdb/records.js';
import { ERR_USAGE } from '../../errors.js';
import { registerLocalTrace } from '../../service/traces.js';
import type { TuneResult } from '../../service/tune.js';
import { progressBar } from '../progress.js';
import { addCommonOptions, withService, type CommonOptions } from '../service-access.js';

interface TuneOptions extends CommonOptions {
  space: string;
  evaluator?: string;
  device?: string;
  budget: number;
  seed: number;
  format?: string;
  name?: string;
  forceSearch?: boolean;
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
      .option('--space <space>', 'ssd (device internals, simulated) or host (readahead and block layer)', 'ssd')
      .option('--evaluator <name>', 'ssd: ssdsim (default) or mqsim (needs SSDTUNE_MQSIM); host: readahead-model (default) or live (needs --device)')
      .option('--device <dev>', 'block device the live evaluator replays on (read-only)')
      .option('--budget <n>', 'evaluations for a search, the baseline included', (v) => Number(v), 30)
      .option('--seed <n>', 'search seed', (v) => Number(v), 1)
      .option('--format <fmt>', 'force the trace format')
      .option('--name <name>', 'name for a new workload')
      .option('--force-search', 'search even when a stored configuration matches')
      .addHelpText('after', '\nExamples:\n  ssdtune tune traces/msps_msnfs_30s.trace\n  ssdtune tune --budget 60 --json traces/mqsim_wsrch-small.trace\n  ssdtune tune --space host traces/mqsim_wsrch-small.trace'),
  ).action(async (trace: string, o: TuneOptions) => {
    if (!Number.isInteger(o.budget) || o.budget < 2) throw ERR_USAGE(`--budget must be an integer >= 2 (the baseline and at least one candidate), got ${o.budget}`);
    if (o.space !== 'ssd' && o.space !== 'host') throw ERR_USAGE(`--space takes ssd or host, not ${o.space}`);
    const evaluator = o.evaluator ?? (o.space === 'ssd' ? 'ssdsim' : 'readahead-model');
    const bar = progressBar('tune');
    const result = await withService(o, async (a) => {
      if (a.local) {
        await registerLocalTrace(a.local, trace, 'cli');
        const { tune } = await import('../../service/tune.js');
        return tune(
          a.local,
          { tracePath: trace, evaluator, budget: o.budget, seed: o.seed, ...(o.device ? { device: o.device } : {}), ...(o.format ? { format: o.format } : {}), ...(o.name ? { name: o.name } : {}), ...(o.forceSearch ? { forceSearch: true } : {}) },
          { progress: (d, t) => bar.update(d, t) },
        );
      }
      // The server holds the ConfDB: register the trace by path there and follow the job.
      const rec = await a.remote.request<{ id: string }>('POST', '/v1/traces/register', { path: trace });
      let { job } = await a.remote.request<{ job: JobRecord }>('POST', '/v1/jobs', { traceId: rec.id, space: o.space, evaluator, budget: o.budget, ...(o.device ? { device: o.device } : {}) });
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
