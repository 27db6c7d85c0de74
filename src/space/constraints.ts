/** Constraint checks and the canonical key of a configuration. */
import type { ConfigSpace, Configuration } from './types.js';

/** Names of the constraints `c` violates. A check that throws counts as violated: a broken rule must not let a configuration through. */
export function violations(space: ConfigSpace, c: Configuration): string[] {
  const out: string[] = [];
  for (const r of space.constraints) {
    let ok: boolean;
    try {
      ok = r.check(c) === true;
    } catch {
      ok = false;
    }
    if (!ok) out.push(r.name);
  }
  return out;
}

export function isFeasible(space: ConfigSpace, c: Configuration): boolean {
  return violations(space, c).length === 0;
}

/** A string that identifies a configuration of `space` (values in parameter order; extra keys ignored). */
export function configKey(space: ConfigSpace, c: Configuration): string {
  return JSON.stringify(space.params.map((p) => c[p.name]));
}
