/**
 * Validating a tune request and turning it into a job. The key makes two
 * identical requests share one job (DESIGN: no duplicated work).
 */
import { evaluatorFactory } from '../evaluators/registry.js';
import type { Service } from './context.js';

export interface TuneParams {
  traceId: string;
  space?: 'ssd' | 'host';
  evaluator?: string;
  budget?: number;
  device?: string;
  force?: boolean;
}

export async function submitTune(svc: Service, p: TuneParams, actor: string) {
  const trace = await svc.db.require('traces', p.traceId);
  const space = p.space ?? 'ssd';
  const evaluator = p.evaluator ?? (space === 'ssd' ? svc.settings.evaluator : 'readahead-model');
  // A job that can only fail is refused at submission (400), not queued.
  evaluatorFactory(evaluator, svc.settings, p.device ? { device: p.device } : {});
  const budget = p.budget ?? 30;
  const params = { traceId: trace.id, tracePath: trace.path, space, evaluator, budget, ...(p.device ? { device: p.device } : {}) };
  const key = `tune:${trace.path}:${trace.bytes}:${space}:${evaluator}:${budget}:${p.device ?? ''}`;
  return svc.jobs.submit('tune', key, params, actor, { force: p.force ?? false });
}
