/**
 * Tune requests as jobs: a validated TuneSpec is stored as-is (defaults filled
 * in) as the job's params, and its canonical JSON is the job's key, so two
 * identical requests share one job instead of doing the work twice.
 */
import type { JobRecord } from '../confdb/records.js';
import type { Service } from './context.js';
import type { JobHandler } from './jobs.js';
import { resolveTuneSpec, type ResolvedTuneSpec, type TuneSpec } from './tune-spec.js';

/** JSON with sorted keys: the same request always gives the same key. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export function tuneJobKey(spec: ResolvedTuneSpec): string {
  return `tune:${canonical(spec)}`;
}

/**
 * Validate and queue a tune request. A request that can only fail (unknown
 * trace, an evaluator outside the space, a missing MQSim binary) is refused
 * here, not queued. `force` starts a new job even when an identical one is
 * queued, running or done.
 */
export async function submitTune(svc: Service, input: TuneSpec, actor: string, o: { force?: boolean } = {}): Promise<{ job: JobRecord; deduplicated: boolean }> {
  const { spec } = resolveTuneSpec(input, svc.settings);
  await svc.db.require('traces', spec.traceId);
  return svc.jobs.submit('tune', tuneJobKey(spec), spec, actor, { force: o.force ?? false });
}

export const tuneJobHandler =
  (svc: Service): JobHandler =>
  async (job, ctl) => {
    const { spec } = resolveTuneSpec(job.params, svc.settings);
    const trace = await svc.db.require('traces', spec.traceId);
    // Loaded on first use: it brings TensorFlow.js, which CLI commands that never tune should not pay for.
    const { tune } = await import('./tune.js');
    const { traceId: _, ...rest } = spec;
    const result = await tune(
      svc,
      { spec: { ...rest, name: spec.name ?? trace.name }, tracePath: trace.path },
      { signal: ctl.signal, progress: ctl.progress, checkpoint: (r) => ctl.checkpoint(r), resumeFrom: ctl.resumeFrom, jobId: job.id },
    );
    return result as unknown as Record<string, unknown>;
  };
