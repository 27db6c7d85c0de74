/**
 * Requests addressed beyond a simulated drive's logical capacity. Real traces
 * come from volumes of any size (a 2 TB production disk, a Tencent volume);
 * the simulated drive is whatever the search proposes. MQSim, the reference,
 * folds such addresses onto its range (IO_Flow_Trace_Based.cpp: Start_LBA %
 * (end_lsa - start_lsa), in sectors), so both simulators fold by default and
 * say how many requests they folded; `reject` (a coded error naming the
 * request) remains for a user who wants to size the drive to the trace.
 *
 * The fold, in 512-byte sectors on both sides: sector mod N, N = the logical
 * sectors (logicalSectors(c), what ssdsim's FTL exports); a request that would
 * then cross the end is moved back to end at the last sector. The native
 * simulator (native/src/ssdsim/sim.cc, Sim::feed) and the MQSim trace export
 * (exportMqsimTrace) apply this same formula, so the two evaluators replay the
 * same addresses. MQSim's own fold differs in two details, and never fires on
 * an exported trace: it takes the modulus over its last address (N' - 1, N'
 * its sector count, N' >= N) and wraps the pages of a request that crosses
 * the end to the start; every exported address already lies in [0, N).
 */
import type { LbaPolicy } from '../evaluators/types.js';

export const DEFAULT_LBA_POLICY: LbaPolicy = 'modulo';

/** Share of folded requests from which `tune` warns that the replay overlaps addresses the trace kept apart. */
export const FOLD_WARN_SHARE = 0.1;

/** The first sector a request of `sectors` sectors starting at `sector` is replayed at (1 <= sectors <= capacity). */
export function foldSector(sector: number, sectors: number, capacity: number): number {
  if (sector + sectors <= capacity) return sector;
  const s = sector % capacity;
  return s + sectors > capacity ? capacity - sectors : s;
}

/** What folding did, beside an evaluation's metrics: the count and the share of the replayed requests. */
export function foldExtra(folded: number, requests: number): { foldedRequests: number; foldedShare: number } {
  return { foldedRequests: folded, foldedShare: requests > 0 ? folded / requests : 0 };
}
