/** What a retune decided, and the one log line per decision that cron mails and journald keep (light: no collector, no TensorFlow). */
import type { Change } from '../host/applier.js';
import { describeHeld, type Held } from '../blockdev/sysfs.js';

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
  /** Applied: attributes the kernel changed when another was written, written back to the value they had (none: absent). */
  held?: Held[];
  /** A fleet agent: where the configuration came from, the server now or the cache of its last answer. */
  from?: 'server' | 'cache';
  /** A fleet agent: attributes left alone because an administrator set them by hand. */
  handSet?: string[];
}

/** The one log line per decision that cron mails and journald keep. */
export function decisionLine(d: RetuneDecision): string {
  const w = d.workload ? ` workload "${d.workload.name}" (${d.workload.known ? 'known' : 'new'}) config ${d.configId}:` : '';
  const ch = d.changes.length ? ' ' + d.changes.map((c) => `${c.key} ${c.from ?? '-'}->${c.to}`).join(', ') : '';
  const held = d.held?.length ? ` [held: ${d.held.map(describeHeld).join(', ')}]` : '';
  const fleet = `${d.from === 'cache' ? ' [from cache]' : ''}${d.handSet?.length ? ` [left alone, set by hand: ${d.handSet.join(', ')}]` : ''}`;
  return `${d.at} retune ${d.device}: ${d.requests} requests via ${d.backend ?? '-'};${w} ${d.action} (${d.reason})${ch}${held}${fleet}`;
}
