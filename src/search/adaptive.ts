/**
 * The adaptive search: learns which parameters matter for the workload at
 * hand and spends its evaluations on them.
 *
 * 1. Screening. After the baseline, a spaced design: when the space's
 *    parameters come in groups (what they affect: parallelism, GC, DRAM...),
 *    one configuration per group that moves all of that group's parameters
 *    at once, towards the middle of their ranges (a one-at-a-time pass over
 *    groups, repaired within the group where a move breaks a fixed total).
 *    Then the group moves that beat the baseline, together (the first step
 *    of the one-at-a-time design's path). In a space without groups, one
 *    configuration drawn from the whole space.
 * 2. Model. A Gaussian process with one length scale per parameter group
 *    (surrogate.ts). A parameter whose scale grows long is flat for this
 *    workload; candidates move parameters with probability growing with
 *    their relevance (1 / length scale), in steps scaled by it, around the
 *    best configurations so far; the best configuration's neighbours (one
 *    parameter, or two of one group, moved to any of up to 16 levels: long
 *    jumps along a few axes, which the small perturbations never make) and a
 *    few random feasible configurations complete the pool. Small spaces are
 *    listed whole instead.
 * 3. Acquisition. The upper confidence bound mean + kappa * std, kappa 1.5,
 *    maximised over the pool. When the budget is known and a proposal is of
 *    the last round (no later proposal can learn from its result), expected
 *    improvement over the best so far instead: what is left to gain then is
 *    only the best value found, and expected improvement is the one-step
 *    optimal choice for it, where the bound's exploration pays only in later
 *    evaluations. On Hartmann-6 with a budget of 20 (seeds 1-60, three
 *    orientations), 26 of 180 searches reach 98% of the best grade instead
 *    of 16, 106 reach 90% instead of 102 (BENCHMARKS.md, issue 13).
 * 4. Exploration width. The model's leave-one-out errors on its most recent
 *    proposals, in units of its own predicted deviation, measure how far it
 *    can be trusted: when they are large (the model is wrong more than it
 *    thinks), perturbations grow in size and count and random candidates
 *    enter the pool; when it predicts well, the pool stays around the best
 *    configurations. The width widens where the search looks, not the
 *    bound's weight: scaling kappa by it as well left 40 of 90 Hartmann-6
 *    searches (seeds 1-30, three orientations) at 90% of the best grade
 *    within 20 evaluations instead of 49 (BENCHMARKS.md, issue 13 ablation).
 * 5. Batches. For k proposals at once (or with evaluations pending), each
 *    chosen configuration is added to the model at its predicted value (the
 *    kriging believer, a constant liar), which removes the expected
 *    improvement around it, before the next is chosen.
 */
import { Rng, configKey, isFeasible, indexOf, levelCount, sampleFeasible, validateConfig, valueAt } from '../space/space.js';
import type { ConfigSpace, Configuration, ParamSpec } from '../space/types.js';
import { enumerateFeasible, perturb, repair, stepLevel } from './candidates.js';
import { mixSeed, type PlanInput, type Planner, type Proposal } from './planner.js';
import { Surrogate } from './surrogate.js';
import { modelRows } from './model-points.js';
import { neighbours } from '../space/neighbours.js';

export interface AdaptiveOptions {
  /**
   * Configurations to evaluate right after the baseline instead of the
   * screening design (a multi-fidelity search's best screened ones).
   */
  start?: readonly Configuration[];
  /** Step of the screening moves of a parameter group, in units of each parameter's range (default 0.5). */
  groupScreenStep?: number;
  /**
   * Screening moves of ordered parameters go towards the middle of their ranges, never towards the nearer edge
   * (default true: a default near an edge, 12 of 1..32 channels, is otherwise often moved to the edge, and on a
   * loaded device such a move costs thousands of times the latency: an evaluation spent learning only that).
   */
  groupScreenInward?: boolean;
  /** Configurations drawn from the whole feasible space (spread out) after the baseline in a space without groups (default 1). */
  initial?: number;
  /** Perturbations of good configurations scored per proposal (default 300). */
  perturbations?: number;
  /** Random feasible configurations scored per proposal per unit of width above 1 (default 100). */
  randoms?: number;
  /** Perturbation step, in units of a parameter's range at width 1 and the average length scale (default 0.2). */
  stepScale?: number;
  /** Share of perturbations around the best configuration (the rest around the second and third; default 0.55). */
  bestShare?: number;
  /** Exploration weight of the confidence bound (default 1.5). */
  kappa?: number;
  /** Recent model proposals whose leave-one-out errors set the exploration width (default 4). */
  calibrationWindow?: number;
  /** Narrowest exploration width (default 0.5). */
  minWidth?: number;
  /** Standard deviation of the log-normal prior on each length scale (default 1; 0: none). */
  lengthScalePriorSd?: number;
  /** Median of that prior, encoded units (default 0.5). */
  lengthScalePriorMedian?: number;
  /**
   * Relevance (1 / length scale, the most relevant parameter at 1) below which a parameter counts as flat:
   * candidates that change only flat parameters of a configuration already evaluated are not proposed (default 0.2).
   */
  relevanceFloor?: number;
}

interface Group {
  name: string;
  params: ParamSpec[];
}

function groupsOf(space: ConfigSpace): Group[] {
  const m = new Map<string, ParamSpec[]>();
  for (const p of space.params) {
    const g = p.group ?? '';
    m.set(g, [...(m.get(g) ?? []), p]);
  }
  return [...m.entries()].map(([name, params]) => ({ name: name || '(ungrouped)', params }));
}

/** The standard normal distribution function (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Expected improvement over `best` of a value distributed normal(mu, sd). */
export function expectedImprovement(mu: number, sd: number, best: number): number {
  if (!(sd > 0)) return Math.max(0, mu - best);
  const z = (mu - best) / sd;
  return (mu - best) * normalCdf(z) + (sd * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);
}

/** Index of the largest value. */
function argmax(xs: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[b]!) b = i;
  return b;
}

export class AdaptiveSearch implements Planner {
  readonly name = 'adaptive';
  constructor(readonly opts: AdaptiveOptions = {}) {}

  /**
   * The screening design: a function of the space and the seed only, so a
   * resumed run proposes the same one.
   */
  screeningDesign(space: ConfigSpace, seed: number): Proposal[] {
    if (this.opts.start?.length) return this.opts.start.map((c) => ({ config: validateConfig(space, c, { unknown: 'ignore' }), phase: 'confirm' }));
    const rng = new Rng(mixSeed(seed, 0x5c2ee7));
    const groups = groupsOf(space);
    const out: Proposal[] = [];
    const seen = new Set<string>([configKey(space, space.baseline)]);
    const push = (c: Configuration | undefined, phase: string): boolean => {
      if (!c) return false;
      const k = configKey(space, c);
      if (seen.has(k)) return false;
      seen.add(k);
      out.push({ config: c, phase });
      return true;
    };
    if (groups.length >= 2) {
      const step = this.opts.groupScreenStep ?? 0.5;
      const inward = this.opts.groupScreenInward ?? true;
      for (const g of groups) {
        const own = new Set(g.params.map((p) => p.name));
        const others = new Set(space.params.filter((p) => !own.has(p.name)).map((p) => p.name));
        // Moves of every parameter of the group. A move that breaks a constraint is repaired by one of the
        // group's own parameters where one can (the screen then says what this group does, not what the
        // repairing parameter of another group does), else by one parameter of another group; retried when
        // neither repairs it.
        for (let attempt = 0; attempt < 20; attempt++) {
          const c = { ...space.baseline };
          for (const p of g.params) c[p.name] = valueAt(p, stepLevel(p, indexOf(p, c[p.name]), step, rng, inward));
          const fixed = (g.params.length > 1 && repair(space, c, others, rng)) || repair(space, c, own, rng);
          if (push(fixed, `screen:${g.name}`)) break;
        }
      }
      return out;
    }
    // No groups: nothing to screen, every parameter may matter. A spread-out design around the baseline spends
    // evaluations that rarely pay off within 20 (on Hartmann-6, 3 such points cost 8 points of the best grade
    // reached within 20, median of 30 seeds): one configuration drawn from the whole space gives the model its
    // first sense of scale, and the model guides from the third evaluation.
    const n = this.opts.initial ?? 1;
    const pool = sampleFeasible(space, rng, n === 1 ? 1 : 20 * n);
    const pos = (c: Configuration): number[] => space.params.map((p) => (levelCount(p) > 1 ? indexOf(p, c[p.name]) / (levelCount(p) - 1) : 0));
    // Maximin: each point the farthest (in levels) of the draws from those chosen so far, the baseline (evaluated
    // first) counting as chosen, so that no design point lands next to it.
    const chosen: number[][] = [pos(space.baseline)];
    for (let i = 0; i < n && pool.length; i++) {
      let best = 0;
      let bestD = -1;
      for (let j = 0; j < pool.length; j++) {
        const x = pos(pool[j]!);
        let d = Infinity;
        for (const y of chosen)
          d = Math.min(
            d,
            x.reduce((s, v, q) => s + Math.abs(v - y[q]!), 0),
          );
        if (d > bestD) [best, bestD] = [j, d];
      }
      const c = pool.splice(best, 1)[0]!;
      chosen.push(pos(c));
      push(c, 'screen');
    }
    return out;
  }

  propose(input: PlanInput, k: number): Proposal[] {
    const { space, evaluations, pending, seed } = input;
    const taken = new Set<string>([...evaluations.map((e) => configKey(space, e.config)), ...pending.map((c) => configKey(space, c))]);
    const out: Proposal[] = [];
    const take = (p: Proposal): void => {
      taken.add(configKey(space, p.config));
      out.push(p);
    };
    if (k <= 0) return out;
    if (!taken.has(configKey(space, space.baseline))) take({ config: space.baseline, phase: 'baseline' });
    for (const p of this.screeningDesign(space, seed)) {
      if (out.length >= k) return out;
      if (!taken.has(configKey(space, p.config))) take(p);
    }
    if (out.length >= k) return out;
    const combined = this.combineScreens(input);
    if (combined && !taken.has(configKey(space, combined))) {
      take({ config: combined, phase: 'combine' });
      if (out.length >= k) return out;
    }

    const rng = new Rng(mixSeed(seed, evaluations.length, pending.length));
    const ok = evaluations.filter((e) => e.status === 'ok');
    const fitted = this.fitModel(input);
    if (!fitted) return [...out, ...this.randomFill(space, rng, taken, k - out.length)];
    const { model } = fitted;

    const width = this.explorationWidth(fitted, input);
    const kappa = this.opts.kappa ?? 1.5;
    // This call proposes the rest of the budget: no later proposal can learn from these results.
    const last = input.budget !== undefined && input.budget - evaluations.length - pending.length <= k;
    const acq = (mu: number, sd: number): number => (last ? expectedImprovement(mu, sd, model.bestZ) : mu + kappa * sd);
    const all = enumerateFeasible(space);
    const rel = this.relevance(model, input);
    let pool = all ? all.filter((c) => !taken.has(configKey(space, c))) : this.candidates(space, model, rel, ok.length ? ok : [], rng, width, taken);
    // A candidate that differs from an evaluated (or pending) configuration only in parameters the model finds
    // flat would teach nothing: an evaluation spent where it does not matter.
    const relevant = space.params.filter((p) => rel.get(p.name)! >= (this.opts.relevanceFloor ?? 0.2));
    const relKey = (c: Configuration): string => JSON.stringify(relevant.map((p) => c[p.name]));
    const seenRel = new Set([...evaluations.map((e) => relKey(e.config)), ...pending.map(relKey), ...out.map((p) => relKey(p.config))]);
    const informative = pool.filter((c) => !seenRel.has(relKey(c)));
    if (informative.length) pool = informative;
    if (pool.length === 0) return out;

    // Pending configurations count as observed at their predicted value, like the batch's own picks.
    let m = model;
    if (pending.length) m = m.withLies(pending, Array.from(m.predict(pending).mean));
    while (out.length < k && pool.length) {
      const { mean, std } = m.predict(pool);
      const a = Float64Array.from(mean, (mu, i) => acq(mu, std[i]!));
      // No hill-climbing of the bound from here: with the best configuration's neighbours in the pool it drifted the
      // pick away from what the pool found (28 of 90 Hartmann-6 searches at 90% within 20 instead of 49, BENCHMARKS.md).
      const pick = pool[argmax(a)]!;
      take({ config: pick, phase: last ? 'model:last' : width > 1.5 ? 'model:wide' : 'model' });
      const key = relKey(pick);
      seenRel.add(key);
      pool = pool.filter((c) => relKey(c) !== key);
      if (out.length < k) m = m.withLies([pick], [m.predict([pick]).mean[0]!]);
    }
    return out;
  }

  /**
   * The screening moves that beat the baseline, applied together (the better screen's value where two moved the
   * same parameter), repaired if they break a constraint: the first step of a one-at-a-time design's path, taken
   * before the model guides. Undefined unless at least two group moves beat the baseline and every screening
   * configuration has been evaluated.
   */
  combineScreens(input: PlanInput): Configuration | undefined {
    const { space, evaluations, pending } = input;
    const base = evaluations[0];
    if (!base || base.status !== 'ok' || this.opts.start?.length) return undefined;
    const screens = evaluations.filter((e) => e.phase.startsWith('screen:'));
    if (pending.length || screens.length < this.screeningDesign(space, input.seed).length) return undefined;
    const better = screens.filter((e) => e.status === 'ok' && e.objective! > base.objective!).sort((a, b) => a.objective! - b.objective!);
    if (better.length < 2) return undefined;
    const c = { ...space.baseline };
    const moved = new Set<string>();
    // Worst first, so the best screen's values win where two screens moved one parameter.
    for (const e of better)
      for (const p of space.params)
        if (e.config[p.name] !== space.baseline[p.name]) {
          c[p.name] = e.config[p.name]!;
          moved.add(p.name);
        }
    return repair(space, c, moved, new Rng(mixSeed(input.seed, 0xc0b1e))) ?? repair(space, c, new Set(), new Rng(mixSeed(input.seed, 0xc0b1f)));
  }

  /**
   * What the search has learned about the parameters for this workload:
   * their relevance (most relevant 1, flat ones near 0), from the model
   * fitted on the evaluations so far and the screening pass. Undefined until
   * a model can be fitted.
   */
  parameterRelevance(input: PlanInput): Map<string, number> | undefined {
    const fitted = this.fitModel(input);
    return fitted ? this.relevance(fitted.model, input) : undefined;
  }

  /** The model, and the evaluation each of its rows is (modelRows: all of them up to MODEL_POINTS). */
  private fitModel(input: PlanInput): { model: Surrogate; rows: readonly number[] } | undefined {
    const { space, evaluations, seed } = input;
    const ok = evaluations.filter((e) => e.status === 'ok');
    // A failed configuration is taught to the model as the worst seen, so it steers away from it.
    const worst = ok.length ? Math.min(...ok.map((e) => e.objective!)) : 0;
    const ys = evaluations.map((e) => (e.status === 'ok' ? e.objective! : worst));
    const rows = modelRows(ys);
    const obs = rows.map((i) => ({ config: evaluations[i]!.config, y: ys[i]! }));
    const model = new Surrogate(space);
    const prior = {
      ...(this.opts.lengthScalePriorSd !== undefined ? { lengthScalePriorSd: this.opts.lengthScalePriorSd } : {}),
      ...(this.opts.lengthScalePriorMedian !== undefined ? { lengthScalePriorMedian: this.opts.lengthScalePriorMedian } : {}),
    };
    return model.fit(obs, { seed: mixSeed(seed, evaluations.length), ...prior }) ? { model, rows } : undefined;
  }

  /**
   * Relevance of each parameter (most relevant 1): the model's, scaled down
   * to a tenth for the parameters of a group whose screening configuration
   * changed the objective by less than 1% of the largest change any group's
   * did (the one-at-a-time pass over groups says they are flat here; the
   * model alone needs many more points to say so).
   */
  relevance(model: Surrogate, input: PlanInput): Map<string, number> {
    const rel = model.relevance();
    const base = input.evaluations[0];
    if (!base || base.status !== 'ok') return rel;
    const effect = new Map<string, number>();
    for (const e of input.evaluations) {
      if (!e.phase.startsWith('screen:') || e.status !== 'ok') continue;
      effect.set(e.phase.slice('screen:'.length), Math.abs(e.objective! - base.objective!));
    }
    if (effect.size < 2) return rel;
    const top = Math.max(...effect.values());
    if (!(top > 0)) return rel;
    for (const p of input.space.params) {
      const eff = effect.get(p.group || '(ungrouped)');
      if (eff !== undefined && eff < 0.01 * top) rel.set(p.name, rel.get(p.name)! * 0.1);
    }
    const max = Math.max(...rel.values());
    for (const [k, v] of rel) rel.set(k, v / max);
    return rel;
  }

  /**
   * How far to look: the root mean square of the leave-one-out errors
   * (in predicted standard deviations) of the last few model-guided
   * evaluations, between 0.5 and 4. About 1 when the model is calibrated.
   */
  private explorationWidth({ model, rows }: { model: Surrogate; rows: readonly number[] }, input: PlanInput): number {
    const w = this.opts.calibrationWindow ?? 4;
    // The model's row of each evaluation it was fitted on; the most recent always are (modelRows).
    const row = new Map(rows.map((r, j) => [r, j]));
    const idx: number[] = [];
    input.evaluations.forEach((e, i) => {
      if (e.phase.startsWith('model') && row.has(i)) idx.push(row.get(i)!);
    });
    const recent = idx.slice(-w);
    if (recent.length === 0) return 1;
    const loo = model.leaveOneOut();
    let s = 0;
    for (const i of recent) s += ((loo.z[i]! - loo.mean[i]!) / Math.max(1e-6, loo.std[i]!)) ** 2;
    return Math.min(4, Math.max(this.opts.minWidth ?? 0.5, Math.sqrt(s / recent.length)));
  }

  private candidates(
    space: ConfigSpace,
    model: Surrogate,
    rel: ReadonlyMap<string, number>,
    ok: readonly { config: Configuration; objective?: number }[],
    rng: Rng,
    width: number,
    taken: Set<string>,
  ): Configuration[] {
    const ranked = [...ok].sort((a, b) => b.objective! - a.objective!).slice(0, 3);
    const centres = ranked.length ? ranked.map((e) => e.config) : [space.baseline];
    const ls = model.lengthScales();
    const geo = Math.exp(ls.reduce((s, l) => s + Math.log(l), 0) / ls.length);
    // Relevant parameters are moved far more often; the doubtful model (wide) spreads its moves more evenly.
    const weights = space.params.map((p) => 0.02 + rel.get(p.name)! ** (2 / width));
    const step = this.opts.stepScale ?? 0.2;
    const scales = ls.map((l) => Math.min(1, Math.max(0.02, step * width * (l / geo))));
    const out: Configuration[] = [];
    const seen = new Set<string>(taken);
    const add = (c: Configuration | undefined): void => {
      if (!c) return;
      const key = configKey(space, c);
      if (seen.has(key)) return;
      seen.add(key);
      out.push(c);
    };
    const n = this.opts.perturbations ?? 300;
    const bestShare = this.opts.bestShare ?? 0.55;
    for (let i = 0; i < n; i++) {
      const r = rng.next() < bestShare ? 0 : rng.next() < 0.6 ? 1 : 2;
      add(perturb(space, centres[Math.min(r, centres.length - 1)]!, rng, { weights, count: 1 + 0.5 * width, scales }));
    }
    // The best configuration's neighbours (neighbours.ts: one way to list them for both searchers). A one-parameter move
    // that breaks a constraint (a fixed total) is completed by a parameter it did not move, as a perturbation is; a
    // two-parameter one is dropped (completing it would move a third).
    const best = centres[0]!;
    for (const c of neighbours(space, best, { feasibleOnly: false }))
      if (isFeasible(space, c)) add(c);
      else {
        const moved = space.params.filter((p) => c[p.name] !== best[p.name]).map((p) => p.name);
        if (moved.length === 1) add(repair(space, c, new Set(moved), rng));
      }
    // Random configurations only when the model is doubtful: it is then no better guide than chance far away.
    const nr = Math.round((this.opts.randoms ?? 100) * Math.max(0, Math.min(2, width - 1)));
    if (nr > 0) for (const c of sampleFeasible(space, rng, nr)) add(c);
    return out;
  }

  /** Up to `k` random feasible configurations not yet taken: the proposals while no model can be fitted. */
  private randomFill(space: ConfigSpace, rng: Rng, taken: Set<string>, k: number): Proposal[] {
    const out: Proposal[] = [];
    for (const c of sampleFeasible(space, rng, 4 * k + 8)) {
      if (out.length >= k) break;
      const key = configKey(space, c);
      if (taken.has(key)) continue;
      taken.add(key);
      out.push({ config: c, phase: 'random' });
    }
    return out;
  }
}
