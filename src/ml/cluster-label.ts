/**
 * A trace's cluster label (AutoBlox): the cluster holding most of its windows,
 * or the top two when the top one holds fewer than twice as many windows as
 * the second (the trace is then a mix, and both clusters describe it).
 */
import { ERR_FEATURES_TOO_SHORT } from '../errors.js';

export interface ClusterLabel {
  /** One cluster, or the top two (most windows first). */
  clusters: number[];
  /** Windows per cluster, indexed by cluster. */
  counts: number[];
}

export function labelTrace(assignments: ArrayLike<number>, k: number, where = 'trace'): ClusterLabel {
  if (assignments.length === 0) throw ERR_FEATURES_TOO_SHORT(where, 'no complete window to label');
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < assignments.length; i++) counts[assignments[i]!]!++;
  // Sort cluster ids by count, ties to the lower id so the label is deterministic.
  const order = counts.map((_, c) => c).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const top = order[0]!;
  const second = order[1];
  const clusters = second !== undefined && counts[second]! > 0 && counts[top]! < 2 * counts[second]! ? [top, second] : [top];
  return { clusters, counts };
}
