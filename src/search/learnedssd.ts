/**
 * The LearnedSSD/AutoBlox search (docs/tuning.md, "The search").
 *
 * Starting from the baseline (plus `initial` random feasible configurations,
 * none by default: in the benchmarks they cost more evaluations than the
 * information they bring), each round:
 *  1. draws a search root from the best configurations so far (rank r with
 *     probability proportional to 1/(r+1)), so it mostly refines the best
 *     but can leave a local optimum;
 *  2. orders the parameter groups by learned importance: how much the
 *     Gaussian process's predicted grade moves when that group's
 *     parameters alone change around the root;
 *  3. for each group (a search step), repeatedly scores the root's
 *     feasible neighbours that change one or two of the group's parameters
 *     with the acquisition mu + kappa*sigma, among those whose exploitation
 *     factor (minimum Manhattan distance to a learned configuration) is
 *     within `maxDistance`, evaluates the best, refits the model, and moves
 *     the root when the grade improves. A step ends after `stepCap`
 *     evaluations (LearnedSSD's 20), after `stepFailures` evaluations in a
 *     row without improvement, when the model expects nothing better than
 *     the root, or when no candidate is left.
 * A round that improves nothing widens the exploration bound by 1.5x; after
 * `patience` such rounds in a row the search has converged.
 */
import { neighbours, Rng, sampleFeasible, type NeighbourOptions } from '../space/space.js';
import type { Configuration, ParamSpec } from '../space/types.js';
import { GradeModel, type ModelOptions } from './model.js';
import type { SearchStatus } from './record.js';
import type { Searcher } from './searcher.js';
import type { SearchSession } from './session.js';

export interface LearnedSsdOptions {
  /** Random feasible configurations evaluated after the baseline before the model guides (default 0). */
  initial?: number;
  /** Acquisition mu + kappa * sigma (default 1). */
  kappa?: number;
  /** Evaluations per search step (default 20, LearnedSSD's iteration cap). */
  stepCap?: number;
  /** Evaluations in a row without improvement that end a step (default 3). */
  stepFailures?: number;
  /** The root is drawn from this many best configurations (default 3). */
  topK?: number;
  /** Exploitation bound: candidates farther than this (Manhattan, encoded) from every learned configuration are skipped (default 1). */
  maxDistance?: number;
  /** Rounds in a row without improvement before convergence (default 4). */
  patience?: number;
  neighbours?: NeighbourOptions;
  model?: ModelOptions;
}

interface Group {
  name: string;
  params: string[];
}

function groupsOf(params: readonly ParamSpec[]): Group[] {
  const m = new Map<string, string[]>();
  for (const p of params) {
    const g = p.group ?? '';
    m.set(g, [...(m.get(g) ?? []), p.name]);
  }
  return [...m.entries()].map(([name, ps]) => ({ name: name || '(ungrouped)', params: ps }));
}

export class LearnedSsdSearch implements Searcher {
  readonly name = 'learnedssd';
  constructor(readonly opts: LearnedSsdOptions = {}) {}

  async search(session: SearchSession, seed: number): Promise<SearchStatus> {
    const o = this.opts;
    const space = session.space;
    const rng = new Rng(seed);
    const model = new GradeModel(space, o.model, seed);
    const kappa = o.kappa ?? 1;
    let maxDistance = o.maxDistance ?? 1;
    const groups = groupsOf(space.params);

    for (const c of sampleFeasible(space, rng, o.initial ?? 0, { seeds: [space.baseline] })) await session.evaluate(c, 'initial');

    let stale = 0;
    for (let round = 0; ; round++) {
      await model.fit(session.learned);
      const ranked = session.learned.sort((a, b) => b.objective! - a.objective!).slice(0, o.topK ?? 3);
      const weights = ranked.map((_, r) => 1 / (r + 1));
      let u = rng.next() * weights.reduce((a, b) => a + b, 0);
      let rootEval = ranked[0]!;
      for (let r = 0; r < ranked.length; r++) {
        u -= weights[r]!;
        if (u <= 0) {
          rootEval = ranked[r]!;
          break;
        }
      }
      let root = rootEval.config;
      let rootObj = rootEval.objective!;
      let improvedRound = false;

      for (const g of this.orderGroups(model, root, groups)) {
        let failures = 0;
        for (let it = 0; it < (o.stepCap ?? 20); it++) {
          const cands = neighbours(space, root, { ...o.neighbours, params: g.params }).filter((c) => !session.has(c));
          if (cands.length === 0) break;
          const pick = this.choose(model, cands, maxDistance, kappa, rng);
          if (!pick) break;
          if (it > 0 && pick.acq <= rootObj) break;
          const e = await session.evaluate(pick.config, `step:${g.name}`);
          await model.fit(session.learned);
          if (e.status === 'ok' && e.objective! > rootObj) {
            root = pick.config;
            rootObj = e.objective!;
            improvedRound = true;
            failures = 0;
          } else if (++failures >= (o.stepFailures ?? 3)) break;
        }
      }
      if (improvedRound) {
        stale = 0;
      } else {
        if (++stale >= (o.patience ?? 4)) return 'converged';
        maxDistance *= 1.5;
      }
    }
  }

  /** Groups by the spread of the predicted grade over their single-parameter moves from the root, largest first. */
  private orderGroups(model: GradeModel, root: Configuration, groups: Group[]): Group[] {
    if (!model.trained || groups.length < 2) return groups;
    const scored = groups.map((g) => {
      const cands = neighbours(model.space, root, { params: g.params, pairs: false });
      if (cands.length === 0) return { g, spread: -1 };
      const { mean } = model.predict(cands);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of mean) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      return { g, spread: hi - lo };
    });
    return scored.sort((a, b) => b.spread - a.spread).map((s) => s.g);
  }

  /** The candidate with the highest mu + kappa*sigma within the exploration bound. */
  private choose(model: GradeModel, cands: Configuration[], maxDistance: number, kappa: number, rng: Rng): { config: Configuration; acq: number } | undefined {
    if (!model.trained) return { config: rng.pick(cands), acq: Infinity };
    const dist = model.minDistances(cands);
    const near = cands.filter((_, i) => dist[i]! <= maxDistance + 1e-12);
    if (near.length === 0) return undefined;
    const { mean, std } = model.predict(near);
    let best = -1;
    let bestAcq = -Infinity;
    for (let i = 0; i < near.length; i++) {
      const a = mean[i]! + kappa * std[i]!;
      if (a > bestAcq) [best, bestAcq] = [i, a];
    }
    return best < 0 ? undefined : { config: near[best]!, acq: bestAcq };
  }
}
