/** The job kinds the service can run, each made from the service it runs in. */
import type { Service } from './context.js';
import type { JobHandler } from './jobs.js';

interface TuneJobParams {
  tracePath: string;
  evaluator: string;
  budget: number;
  seed?: number;
  device?: string;
}

export const jobHandlers: Record<string, (svc: Service) => JobHandler> = {
  tune: (svc) => async (job, ctl) => {
    const p = job.params as unknown as TuneJobParams;
    // Loaded on first use: it brings TensorFlow.js, which CLI commands that never tune should not pay for.
    const { tune } = await import('./tune.js');
    const result = await tune(
      svc,
      { tracePath: p.tracePath, evaluator: p.evaluator, budget: p.budget, ...(p.seed !== undefined ? { seed: p.seed } : {}), ...(p.device ? { device: p.device } : {}), jobId: job.id },
      { signal: ctl.signal, progress: ctl.progress, checkpoint: (r) => ctl.checkpoint(r), resumeFrom: ctl.resumeFrom },
    );
    return result as unknown as Record<string, unknown>;
  },
};
