/**
 * Tune requests as jobs: a validated TuneSpec is stored as-is (defaults filled
 * in) as the job's params, and its canonical JSON is the job's key, so two
 * identical requests share one job instead of doing the work twice.
 */
import { existsSync } from 'node:fs';
import type { JobRecord } from '../confdb/records.js';
import { ERR_NOT_FOUND, ERR_TRACE_OPEN } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import type { Service } from './context.js';
import type { JobHandler } from './jobs.js';
import { keepTraceBytes } from './traces.js';
import { resolveTuneSpec, type ResolvedTuneSpec, type TuneSpec } from './tune-spec.js';

export function tuneJobKey(spec: ResolvedTuneSpec): string {
  return `tune:${canonicalJson(spec)}`;
}

/**
 * Validate and queue a tune request. A request that can only fail (unknown
 * trace, an evaluator outside the space, a missing MQSim binary, a device the
 * live evaluator may not replay on) is refused here, not queued. `force` starts a new job even when an identical one is
 * queued, running or done.
 */
export async function submitTune(
  svc: Service,
  input: TuneSpec,
  actor: string,
  o: { force?: boolean } = {},
): Promise<{ job: JobRecord; deduplicated: boolean }> {
  const { spec, plan } = resolveTuneSpec(input, svc.settings);
  const trace = await svc.db.require('traces', spec.traceId);
  // A device the job could not replay on is refused now, by the job's own check, not when the job starts.
  plan.checkHost();
  // Fleet mode: the job runs on a worker that may be on another host; it fetches the trace by digest.
  if (svc.evaluations) await keepTraceBytes(svc, trace);
  return svc.jobs.submit('tune', tuneJobKey(spec), spec, actor, { force: o.force ?? false });
}

/**
 * Refuse to run a tune job again (resume) when its trace cannot be read: its record deleted, or its file gone (a
 * file moved or removed; standard input read by an ssdtune that spooled it to a temporary file, which it removed at
 * the end: records written before `tune -` kept standard input as an upload). In fleet mode workers read the blob.
 */
export async function requireTraceReadable(svc: Service, job: JobRecord): Promise<void> {
  const traceId = String(job.params.traceId);
  const trace = await svc.db.get('traces', traceId);
  const again = 'tune the trace again as a new job';
  if (!trace) throw ERR_NOT_FOUND(`job ${job.id} tunes trace ${traceId}, which was deleted: it cannot be resumed; ${again}`);
  if (svc.evaluations && trace.sha256 ? await svc.db.hasBlob(trace.sha256) : existsSync(trace.path)) return;
  throw ERR_TRACE_OPEN(
    `trace ${trace.id} (${trace.name})`,
    `its file ${trace.path} is gone (moved or removed, or standard input that an older ssdtune spooled to a temporary file): job ${job.id} cannot be resumed; ${again}`,
  );
}

export const tuneJobHandler =
  (svc: Service): JobHandler =>
  async (job, ctl) => {
    // A fleet search (fleet.ts) is a tune job that learns for an agent's workload on its device class.
    const { fleet, ...params } = job.params as Record<string, unknown> & { fleet?: { workloadId: string; deviceClass: string } };
    const { spec } = resolveTuneSpec(params, svc.settings);
    const trace = await svc.db.require('traces', spec.traceId);
    // Loaded on first use: it brings TensorFlow.js, which CLI commands that never tune should not pay for.
    const { tune } = await import('./tune.js');
    const { traceId: _, ...rest } = spec;
    const format = rest.format ?? trace.format;
    const run = (tracePath: string) =>
      tune(
        svc,
        // The format the trace was stored with (forced where the sniffer cannot tell), unless the request names one.
        {
          spec: { ...rest, name: spec.name ?? trace.name, ...(format ? { format } : {}) },
          tracePath,
          ...(trace.sha256 ? { traceSha256: trace.sha256 } : {}),
          ...(fleet ? { fleet } : {}),
        },
        { signal: ctl.signal, progress: ctl.progress, checkpoint: (r) => ctl.checkpoint(r), resumeFrom: ctl.resumeFrom, jobId: job.id },
      );
    // A fleet worker reads the trace from its cache, fetched by digest; otherwise it is where it was stored.
    const result = svc.traceCache && trace.sha256 ? await svc.traceCache.with(trace.sha256, run) : await run(trace.path);
    return result as unknown as Record<string, unknown>;
  };
