/**
 * Which evaluations a search's Gaussian process is fitted on. A fit costs the cube of its points: on the
 * planner thread an adaptive proposal took about 0.05 s at 50 evaluations, 2 s at 300 and a fit of 1,000
 * points about 80 s (and the learnedssd model factorises on the event loop: 1.8 s at 2,000 points, the
 * server answering nothing meanwhile). A budget of thousands, which the request schema allows, would
 * spend days between evaluations. So past MODEL_POINTS the model sees the best half of the evaluations
 * and the most recent ones: where the search climbs, and what it just learned (the exploration width is
 * measured on the latest proposals). Searches of up to MODEL_POINTS evaluations, every bench's among
 * them, fit on all of them as before.
 */
export const MODEL_POINTS = 300;

/**
 * Indices (ascending) of the values to fit on: all of them up to `max`; else the `max / 2` highest (the
 * later one first among equals) and the most recent of the rest, `max` in all.
 */
export function modelRows(values: readonly number[], max = MODEL_POINTS): number[] {
  const all = values.map((_, i) => i);
  if (values.length <= max) return all;
  const best = [...all].sort((a, b) => values[b]! - values[a]! || b - a).slice(0, Math.floor(max / 2));
  const kept = new Set(best);
  for (let i = values.length - 1; kept.size < max; i--) kept.add(i);
  return [...kept].sort((a, b) => a - b);
}
