/**
 * Picks read_ahead_kb (and max_sectors_kb) for a workload with the readahead
 * model: every candidate of the `host` space's readahead group is cheap to
 * simulate, so this is an exhaustive search over that group. Among the
 * candidates within `tolerance` of the best, the current setting (`prefer`)
 * wins when it is one of them (do not change what does not matter), else the
 * smallest (less wasted prefetch and memory).
 */
import type { TraceBatch } from '../../trace/model.js';
import { READ_AHEAD_KB_VALUES } from '../../host/host-space.js';
import { simulateReadahead, type ReadaheadModelOptions, type ReadaheadStats } from './readahead-model.js';

export interface ReadaheadChoice {
  readAheadKb: number;
  maxSectorsKb: number;
  predicted: ReadaheadStats;
  /** Every candidate's predicted time (s), for reports. */
  table: { readAheadKb: number; maxSectorsKb: number; seconds: number }[];
}

export function chooseReadahead(
  batch: TraceBatch,
  opts: ReadaheadModelOptions & { readAheadValues?: readonly number[]; maxSectorsValues?: readonly number[]; tolerance?: number; prefer?: number } = {},
): ReadaheadChoice {
  const ras = [...new Set([...(opts.readAheadValues ?? READ_AHEAD_KB_VALUES), ...(opts.prefer !== undefined ? [opts.prefer] : [])])];
  const mss = opts.maxSectorsValues ?? [opts.maxSectorsKb ?? 1280];
  const table: ReadaheadChoice['table'] = [];
  let best: { ra: number; ms: number; s: ReadaheadStats } | undefined;
  const all: { ra: number; ms: number; s: ReadaheadStats }[] = [];
  for (const ms of mss) {
    for (const ra of ras) {
      const s = simulateReadahead(batch, ra, { ...opts, maxSectorsKb: ms });
      table.push({ readAheadKb: ra, maxSectorsKb: ms, seconds: s.seconds });
      all.push({ ra, ms, s });
      if (!best || s.seconds < best.s.seconds) best = { ra, ms, s };
    }
  }
  const tol = opts.tolerance ?? 0.02;
  const near = all.filter((c) => c.s.seconds <= best!.s.seconds * (1 + tol));
  const pick = near.find((c) => c.ra === opts.prefer) ?? near.sort((a, b) => a.ra - b.ra || a.ms - b.ms)[0]!;
  return { readAheadKb: pick.ra, maxSectorsKb: pick.ms, predicted: pick.s, table };
}
