/**
 * The generic configuration-space machinery (stable API for the `ssd` and
 * `host` spaces and the search): validation with coded errors naming the
 * parameter, defaults and baseline, encoding for the GPR, neighbours,
 * distance, constraint checks and feasible sampling.
 */
import { ERR_CONFIG_INVALID, ERR_SPACE_INVALID } from '../errors.js';
import { violations } from './constraints.js';
import { checkParamSpec, requireIndex } from './params.js';
import type { ConfigSpace, Configuration, Constraint, ParamSpec, SpaceOrigin } from './types.js';

export { Encoder } from './encode.js';
export { neighbours, moveIndices, type NeighbourOptions } from './neighbours.js';
export { sampleFeasible, randomConfig, type SampleOptions } from './sample.js';
export { violations, isFeasible, configKey } from './constraints.js';
export { levelCount, valueAt, indexOf, describeLevels } from './params.js';
export { Rng } from './rng.js';

/** The default of every parameter. */
export function defaults(params: readonly ParamSpec[]): Configuration {
  const c: Configuration = {};
  for (const p of params) c[p.name] = p.default;
  return c;
}

/** Builds a space whose baseline is the parameters' defaults unless given; validates it. */
export function defineSpace(def: {
  name: string;
  params: readonly ParamSpec[];
  constraints?: readonly Constraint[];
  baseline?: Configuration;
  origin?: SpaceOrigin;
}): ConfigSpace {
  const space: ConfigSpace = {
    name: def.name,
    params: def.params,
    constraints: def.constraints ?? [],
    baseline: def.baseline ?? defaults(def.params),
    ...(def.origin ? { origin: def.origin } : {}),
  };
  validateSpace(space);
  return space;
}

/** Checks the parameter definitions, that names are unique, and that the baseline is a valid configuration. */
export function validateSpace(space: ConfigSpace): void {
  if (space.params.length === 0) throw ERR_SPACE_INVALID(space.name, '(none)', 'the space has no parameters');
  const names = new Set<string>();
  for (const p of space.params) {
    checkParamSpec(space, p);
    if (names.has(p.name)) throw ERR_SPACE_INVALID(space.name, p.name, 'defined twice');
    names.add(p.name);
  }
  for (const r of space.constraints) {
    if (typeof r.check !== 'function') throw ERR_SPACE_INVALID(space.name, `(constraint ${r.name})`, 'has no check function');
  }
  // A baseline may carry fixed, non-tunable settings beside the parameters (the ssd space's flash timings).
  validateConfig(space, space.baseline, { constraints: false, unknown: 'ignore' });
}

/**
 * Throws SSDTUNE_CONFIG_INVALID naming the first bad parameter: missing,
 * unknown (unless `unknown: 'ignore'`), or not one of its levels; then
 * (unless `constraints: false`) the constraints it violates. Returns the
 * configuration restricted to the space's parameters, in their order.
 */
export function validateConfig(space: ConfigSpace, c: unknown, opts: { constraints?: boolean; unknown?: 'error' | 'ignore' } = {}): Configuration {
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw ERR_CONFIG_INVALID(space.name, '(all)', `expected an object of parameter values, got ${Array.isArray(c) ? 'an array' : typeof c}`);
  const obj = c as Record<string, unknown>;
  const known = new Set(space.params.map((p) => p.name));
  if (opts.unknown !== 'ignore')
    for (const k of Object.keys(obj)) if (!known.has(k)) throw ERR_CONFIG_INVALID(space.name, k, `unknown parameter; the space has ${[...known].join(', ')}`);
  const out: Configuration = {};
  for (const p of space.params) {
    if (!(p.name in obj)) throw ERR_CONFIG_INVALID(space.name, p.name, 'missing');
    requireIndex(space, p, obj[p.name]);
    out[p.name] = obj[p.name] as Configuration[string];
  }
  if (opts.constraints !== false) {
    const v = violations(space, out);
    if (v.length > 0) {
      const rules = space.constraints.filter((r) => v.includes(r.name)).map((r) => `${r.name} (${r.description})`);
      throw ERR_CONFIG_INVALID(space.name, '(constraints)', `violates ${rules.join('; ')}`);
    }
  }
  return out;
}

/** Fills parameters missing from a partial configuration with the baseline's values, then validates. */
export function complete(space: ConfigSpace, partial: Configuration): Configuration {
  return validateConfig(space, { ...space.baseline, ...partial });
}
