/**
 * One ssdsim evaluation in a process of its own, for `npm run bench
 * ssdsim-vs-mqsim`: so that its peak RSS is that evaluation's (Node's runtime
 * included). Its CPU time covers everything from opening the trace to the
 * metrics, the simulator's set-up included, measured on a third run in the
 * same process: a search evaluates many configurations in one process, so
 * the first runs' JIT compilation is not a per-evaluation cost, and the
 * evaluator decodes the trace once per search (it keeps up to 64 MiB of
 * decoded trace). Prints one JSON line.
 *
 *   node dist/bench/ssdsim-eval-child.js '{"trace": "...", "config": {...}, "replay": {...}}'
 */
import { openTrace } from '../src/readers/registry.js';
import { createSsdsimEvaluator } from '../src/sim/ssdsim.js';
import type { Replay } from '../src/evaluators/types.js';
import type { Configuration } from '../src/space/types.js';

const job = JSON.parse(process.argv[2] ?? '{}') as { trace: string; config: Configuration; replay: Replay };
const evaluator = createSsdsimEvaluator({ replay: job.replay, lbaPolicy: 'modulo' });
const workload = { name: job.trace, open: () => openTrace(job.trace) };
// Two warm-up runs: JIT compilation and the decoded trace, as in a search's later evaluations.
await evaluator.evaluate(job.config, workload);
await evaluator.evaluate(job.config, workload);
const cpu0 = process.cpuUsage();
const m = await evaluator.evaluate(job.config, workload);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ metrics: m, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
