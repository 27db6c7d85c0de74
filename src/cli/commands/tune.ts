/**
 * `ssdtune tune <trace>`: identify the workload and recommend a stored
 * configuration, or learn one with the chosen evaluator. A job, in this
 * process or on the server that holds the ConfDB.
 */
import { Option, type Command } from 'commander';
import { describeCatalog, EVALUATOR_NAMES, SPACE_NAMES, SPACES } from '../../service/catalog.js';
import {
  BUDGET,
  CONFIRM_ROUNDS,
  DEFAULT_SEED,
  FOLD_WARN_SHARE,
  SCREEN_SHIFT_WARNING,
  SEARCHERS,
  describeReplay,
  parseReplay,
  type TuneArgs,
} from '../../service/tune-spec.js';
import type { ProgressMode } from '../../config.js';
import { jobOutcome, parseProgressText, type JobRecord, type TuneResult } from '../../service/api.js';
import { numberOption } from '../options.js';
import { describeHeld } from '../../blockdev/sysfs.js';
import { progressReporter } from '../progress.js';
import { addCommonOptions, settingsFrom, withApi, type CommonOptions } from '../service-access.js';
import { STANDARD_INPUT, uploadStandardInput } from '../standard-input.js';

type TuneFlags = CommonOptions & {
  space?: string;
  evaluator?: string;
  device?: string;
  budget?: number;
  seed?: number;
  searcher?: string;
  batch?: number;
  screenFraction?: number;
  progress?: ProgressMode;
  format?: string;
  name?: string;
  forceSearch?: boolean;
  replay?: string;
  lbaPolicy?: string;
  confirmRounds?: number;
};

/** The TuneSpec (minus the trace) a command line asks for; the service validates it. */
function argsOf(o: TuneFlags): TuneArgs {
  // Flags left out are filled by the service from the settings (SSDTUNE_* environment, config.json), then built-in defaults.
  return {
    ...(o.space ? { space: o.space as TuneArgs['space'] } : {}),
    ...(o.evaluator ? { evaluator: o.evaluator as TuneArgs['evaluator'] } : {}),
    ...(o.budget !== undefined ? { budget: o.budget } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.searcher ? { searcher: o.searcher as TuneArgs['searcher'] } : {}),
    ...(o.batch !== undefined ? { batch: o.batch } : {}),
    ...(o.screenFraction !== undefined && o.screenFraction < 1 ? { screenFraction: o.screenFraction } : {}),
    ...(o.device ? { device: o.device } : {}),
    ...(o.format ? { format: o.format } : {}),
    ...(o.name ? { name: o.name } : {}),
    ...(o.forceSearch ? { forceSearch: true } : {}),
    ...(o.replay ? { replay: parseReplay(o.replay) } : {}),
    ...(o.lbaPolicy ? { lbaPolicy: o.lbaPolicy as TuneArgs['lbaPolicy'] } : {}),
    ...(o.confirmRounds !== undefined ? { confirmRounds: o.confirmRounds } : {}),
  };
}

/** Spread (in typical radii) above which a new workload is announced as hard to recognise by similarity. */
const SPREAD_WARNING = 3;

/** How the trace was identified, in words: an empty ConfDB has no distance to give. */
function identificationText(known: boolean, id: TuneResult['workload']['identification']): string {
  if (!id.nearest) return 'new: no workloads stored yet to compare it with';
  const test = `distance ${id.distance.toFixed(3)} vs threshold ${id.threshold.toFixed(3)}, ${id.method}`;
  if (known) return id.exact ? 'known (the same trace as before)' : `known (${test})`;
  return `new; the nearest stored workload, ${id.nearest.name}, is too far (${test})`;
}

const UNCHANGED_LISTED = 6;
const show = (v: unknown): string => (v === undefined ? '(unset)' : String(v));

/** The chosen values as a diff against the baseline they were graded against (a bare list when the result carries no baseline). */
function valuesText(values: Record<string, unknown>, baseline: Record<string, unknown> | undefined): string[] {
  if (!baseline)
    return [
      'values      ' +
        Object.entries(values)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
    ];
  const keys = [...new Set([...Object.keys(baseline), ...Object.keys(values)])];
  const changed = keys.filter((k) => String(values[k]) !== String(baseline[k]));
  const same = keys.filter((k) => !changed.includes(k));
  // A long list of what did not change hides what did: past a few, a count (--json has them all).
  const unchanged = same.length <= UNCHANGED_LISTED ? same.map((k) => `${k}=${show(values[k])}`).join(' ') : `${same.length} parameters (--json lists them)`;
  if (changed.length === 0) return [`values      the baseline's: no parameter changed (${unchanged})`];
  const w = Math.max(...changed.map((k) => k.length));
  const bw = Math.max(...changed.map((k) => show(baseline[k]).length));
  return [
    `values      ${changed.length} of ${keys.length} parameters differ from the baseline:`,
    ...changed.map((k) => `              ${k.padEnd(w)}  ${show(baseline[k]).padStart(bw)} -> ${show(values[k])}`),
    ...(same.length ? [`            unchanged: ${unchanged}`] : []),
  ];
}

function printResult(r: TuneResult, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const id = r.workload.identification;
  console.log(`workload    ${r.workload.name} (${r.workload.id}) — ${identificationText(r.workload.known, id)}`);
  if (r.workload.spreadRatio !== undefined && r.workload.spreadRatio > SPREAD_WARNING) {
    console.log(
      `            its windows spread ${r.workload.spreadRatio.toFixed(1)}x a typical workload's (a short, noisy or multi-phase trace): later captures of it are harder to recognise; this trace itself always will be`,
    );
  }
  console.log(`config      ${r.config.id} (${r.config.space} space, ${r.source === 'confdb' ? 'stored in the ConfDB' : 'learned now'}, ${gradedBy(r.config)})`);
  if (r.notComparable) {
    console.log(
      `            searched although ${r.notComparable.id} is stored for this workload: it was ${gradedBy(r.notComparable)}, and a grade answers only a request graded the same way (--force-search always searches)`,
    );
  }
  if (r.search) {
    const sc = r.search.screened;
    console.log(
      `search      ${r.search.searcher ? `${r.search.searcher}, ` : ''}${r.search.evaluations} evaluations${sc ? ` on the whole trace after ${sc.evaluations} on its first ${(sc.fraction * 100).toFixed(0)}%` : ''} (${r.search.failed} failed), ${r.search.status}, ${(r.search.elapsedMs / 1000).toFixed(1)} s`,
    );
    // A prefix from another phase of the trace ranks unlike the whole (docs/tuning.md): the screen may have bought little.
    if (sc?.shift !== undefined && sc.shift > SCREEN_SHIFT_WARNING)
      console.log(
        `warning     the screened first ${(sc.fraction * 100).toFixed(0)}% differs from the whole trace (descriptor shift ${sc.shift.toFixed(2)}, above ${SCREEN_SHIFT_WARNING}): another phase of it, whose ranking may not hold on the whole; the screen's best were measured again on the whole trace, but screen on more of it, or not at all (--screen-fraction 1)`,
      );
    // What mattered for this workload: the parameters the search found relevant, most first.
    const rel = Object.entries(r.search.relevance ?? {}).sort((a, b) => b[1] - a[1]);
    if (rel.length > 1) {
      const top = rel.filter(([, v]) => v >= 0.2);
      const flat = rel.length - top.length;
      console.log(
        `mattered    ${top.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}${flat ? `; ${flat} other parameter${flat > 1 ? 's' : ''} hardly (relevance < 0.2)` : ''}`,
      );
    }
  }
  if (r.gain) {
    console.log(
      `gain        grade ${r.gain.grade.toFixed(3)}; throughput x${r.gain.throughputSpeedup.toFixed(3)}, latency x${r.gain.latencySpeedup.toFixed(3)} vs the baseline`,
    );
    const c = r.config.confirmation;
    if (c) console.log(confirmationText(c, r.gain.grade));
    // A grade of 0 is an answer, not a failure: say what it means rather than leave a bare x1.000.
    if (r.source === 'search' && r.gain.grade <= 0.001 && !c) {
      console.log(
        `            no configuration beat the baseline measurably (grade <= 0.001): this workload does not stress what the ${r.config.space} space tunes (too light, or bound elsewhere)`,
      );
    }
  }
  for (const line of heldText(r)) console.log(line);
  const fold = foldedText(r.config.metrics?.extra);
  if (fold) console.log(fold);
  for (const line of valuesText(r.config.values, r.baseline)) console.log(line);
}

/**
 * What the measurements held beside their configurations (a live trial: the kernel changed an attribute nobody chose
 * when one the configuration names was written, and ssdtune held it at its earlier value): the search's holds, and
 * the recommended configuration's own. Nothing when none.
 */
export function heldText(r: { search?: Pick<NonNullable<TuneResult['search']>, 'held'>; config: Pick<TuneResult['config'], 'metrics'> }): string[] {
  const search = r.search?.held ?? [];
  const own = r.config.metrics?.held ?? [];
  if (!search.length && !own.length) return [];
  const n = (k: number) => `${k} evaluation${k === 1 ? '' : 's'}`;
  return [
    `held        the kernel changed attributes the configurations leave out when others were written; they were held at their earlier values while measured:`,
    ...search.map((h) => `              ${describeHeld(h)}, in ${n(h.evaluations)}`),
    ...(own.length ? [`            the recommended configuration was measured with: ${own.map(describeHeld).join(', ')}`] : []),
  ];
}

/** How a configuration's grade was taken: evaluator, device (live), replay intensity. */
function gradedBy(c: Pick<TuneResult['config'], 'evaluator' | 'measuredOn' | 'replay' | 'evaluatorOptions'>): string {
  const on = c.measuredOn ? ` on ${c.measuredOn.disk} of ${c.measuredOn.host}` : '';
  const options = Object.entries(c.evaluatorOptions ?? {}).map(([k, v]) => `${k} ${String(v)}`);
  return `graded by ${c.evaluator ?? '-'}${on}${options.length ? ` (${options.join(', ')})` : ''}, replay ${describeReplay(c.replay ?? { mode: 'recorded' })}`;
}

/** What measuring the search's best again against the baseline said (a measured evaluator: live). */
function confirmationText(c: NonNullable<TuneResult['config']['confirmation']>, kept: number): string {
  const rounds = `${c.rounds} alternating rounds against the baseline (${c.grades.map((g) => g.toFixed(3)).join(', ')})`;
  const found = `the search's best (grade ${c.searchGrade.toFixed(3)} in the search)`;
  return c.holds
    ? `confirmed   ${found} measured grade ${kept.toFixed(3)}, 95% lower bound ${c.low.toFixed(3)} > 0, over ${rounds}`
    : `unconfirmed ${found} measured a 95% lower bound of ${c.low.toFixed(3)} <= 0 over ${rounds}: its gain may be noise, so the baseline is kept (its values are in --json as config.confirmation.candidate)`;
}

/** What folding addresses onto the simulated drive did to the recommended configuration's replay; a warning past FOLD_WARN_SHARE. */
function foldedText(extra: Record<string, number> | undefined): string | undefined {
  const n = extra?.foldedRequests;
  if (!n) return undefined;
  const share = extra.foldedShare ?? 0;
  const text = `folded      ${n.toLocaleString('en-US')} requests (${(share * 100).toFixed(1)}%) lay beyond the simulated drive's capacity and were folded onto it (--lba-policy modulo, as MQSim does)`;
  return share >= FOLD_WARN_SHARE
    ? `${text}\nwarning     the traced volume is larger than the simulated drive: requests the trace kept apart may share pages in this replay; weigh the grade accordingly (--lba-policy reject stops at the first such request)`
    : text;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('tune <trace>')
      .description('identify the workload of a trace; recommend its stored configuration or learn one')
      .addOption(
        new Option('--space <space>', `${SPACE_NAMES.map((n) => `${n}: ${SPACES[n].summary}`).join('; ')} (env SSDTUNE_SPACE; default ssd)`).choices(
          SPACE_NAMES,
        ),
      )
      .addOption(new Option('--evaluator <name>', `per space: ${describeCatalog()} (env SSDTUNE_EVALUATOR)`).choices(EVALUATOR_NAMES))
      .option('--device <dev>', 'block device the live evaluator replays on, read-only (env SSDTUNE_DEVICE)')
      .option(
        '--budget <n>',
        `evaluations for a search, the baseline included, >= ${BUDGET.min} (env SSDTUNE_BUDGET; default ${BUDGET.default})`,
        numberOption('budget'),
      )
      .option('--seed <n>', `search seed (env SSDTUNE_SEED; default ${DEFAULT_SEED})`, numberOption('seed'))
      .addOption(
        new Option(
          '--searcher <name>',
          'adaptive (learns which parameters matter), learnedssd, random, grid, coordinate (env SSDTUNE_SEARCHER; default adaptive)',
        ).choices(SEARCHERS),
      )
      .option('--batch <k>', 'configurations evaluated together per search round (env SSDTUNE_BATCH; default 1)', numberOption('batch'))
      .option(
        '--screen-fraction <f>',
        'multi-fidelity: screen on this leading fraction of the trace (e.g. 0.1; at least 1,000 requests), then search on the whole; the budget counts a screening evaluation as f of one; adaptive searcher only (env SSDTUNE_SCREEN_FRACTION; default 1: off)',
        numberOption('screen-fraction'),
      )
      .option(
        '--confirm-rounds <n>',
        `live evaluator: measure the search's best against the baseline again in n alternating rounds and keep it only if its gain's 95% lower bound is above 0 (env SSDTUNE_CONFIRM_ROUNDS; default ${CONFIRM_ROUNDS.default}; 0: off)`,
        numberOption('confirm-rounds'),
      )
      .option('--format <fmt>', 'force the trace format')
      .option('--name <name>', 'name for a new workload')
      .option('--force-search', 'search even when a stored configuration matches')
      .option(
        '--replay <mode>',
        'replay intensity: recorded (default), scaled:<speedup> (arrival times divided by it), closed:<queueDepth> (env SSDTUNE_REPLAY)',
      )
      .addOption(
        new Option(
          '--lba-policy <policy>',
          'requests beyond a simulated capacity (ssdsim, mqsim): modulo (default; folded onto the drive as MQSim folds, and counted) or reject (an error naming the request) (env SSDTUNE_LBA_POLICY)',
        ).choices(['modulo', 'reject']),
      )
      .addOption(
        new Option('--progress <mode>', 'auto: a bar on a terminal, log lines otherwise; bar; log; none (env SSDTUNE_PROGRESS)').choices([
          'auto',
          'bar',
          'log',
          'none',
        ]),
      )
      .addHelpText(
        'after',
        '\nExamples:\n  ssdtune tune traces/msps_msnfs_30s.trace\n  ssdtune tune --budget 60 --json traces/mqsim_wsrch-small.trace\n  ssdtune tune --space host traces/mqsim_wsrch-small.trace\n  blkparse -i sda -o - | ssdtune tune -      (- reads standard input, kept as a stored trace named stdin: SSDTUNE_STDIN_MAX_BYTES)',
      ),
  ).action(async (trace: string, o: TuneFlags) => {
    const bar = progressReporter('tune', { mode: o.progress ?? settingsFrom(o).progress });
    let result: TuneResult;
    try {
      result = await withApi(o, async (api) => {
        const args = argsOf(o);
        const onProgress = (d: number, t: number, message?: string) => bar.update(d, t, parseProgressText(message));
        if (trace !== STANDARD_INPUT) return api.tune(trace, args, { onProgress });
        // Kept as a stored trace, so that its record names a file and its job can be resumed (standard-input.ts).
        const rec = await uploadStandardInput(api, settingsFrom(o).stdinMaxBytes, args.format ? { format: args.format } : {});
        let job: JobRecord;
        try {
          ({ job } = await api.submitTune({ ...args, traceId: rec.id }, { force: true }));
        } catch (e) {
          // A refused request keeps nothing: the stored input goes with it.
          await api.deleteTrace(rec.id).catch(() => undefined);
          throw e;
        }
        return jobOutcome<TuneResult>(await api.waitJob(job.id, { onProgress }));
      });
    } finally {
      bar.done();
    }
    printResult(result, o.json);
  });
}
