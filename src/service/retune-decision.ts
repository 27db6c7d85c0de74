/** What a retune decided, and the one log line per decision that cron mails and journald keep (light: no collector, no TensorFlow). */
import type { Change } from '../host/applier.js';

export interface RetuneDecision {
  device: string;
  at: string;
  /** applied: the device now has the workload's configuration; unchanged: it had it already. */
  action: 'applied' | 'unchanged' | 'dry-run' | 'skipped';
  reason: string;
  requests: number;
  backend?: string;
  workload?: { id: string; name: string; known: boolean };
  configId?: string;
  changes: Change[];
}

/** The one log line per decision that cron mails and journald keep. */
export function decisionLine(d: RetuneDecision): string {
  const w = d.workload ? ` workload "${d.workload.name}" (${d.workload.known ? 'known' : 'new'}) config ${d.configId}:` : '';
  const ch = d.changes.length ? ' ' + d.changes.map((c) => `${c.key} ${c.from ?? '-'}->${c.to}`).join(', ') : '';
  return `${d.at} retune ${d.device}: ${d.requests} requests via ${d.backend ?? '-'};${w} ${d.action} (${d.reason})${ch}`;
}
