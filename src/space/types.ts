/**
 * Configuration spaces (docs/tuning.md): the typed parameters the search
 * tunes. The `host` space (sysfs) and the `ssd` space (simulator / MQSim)
 * are both expressed with these types; src/space/ holds the generic
 * machinery (validation, encoding, neighbours, distance).
 */

export type ParamValue = number | string | boolean;
export type Configuration = Record<string, ParamValue>;

interface ParamBase {
  name: string;
  description?: string;
  /** Unit shown to users ("KiB", "ns", "pages"...). */
  unit?: string;
  /** Tuning group: parameters with the same group are tuned together (one or two at a time). */
  group?: string;
}

export type ParamSpec =
  /** Integer range min..max in steps of `step` (default 1); `log` spaces the encoding logarithmically. */
  | (ParamBase & { kind: 'int'; min: number; max: number; step?: number; log?: boolean; default: number })
  /** An ordered list of numeric values (e.g. powers of two); encoded by index. */
  | (ParamBase & { kind: 'ordinal'; values: readonly number[]; default: number })
  /** Unordered choices; one-hot encoded. */
  | (ParamBase & { kind: 'categorical'; values: readonly string[]; default: string })
  | (ParamBase & { kind: 'bool'; default: boolean });

/** A rule over several parameters (e.g. a product bounded, a fixed budget). */
export interface Constraint {
  name: string;
  description: string;
  /** True when the configuration satisfies the rule. */
  check(c: Configuration): boolean;
}

export interface ConfigSpace {
  /** 'host', 'ssd', or a test space's name. */
  name: string;
  params: readonly ParamSpec[];
  constraints: readonly Constraint[];
  /** The reference configuration grades are relative to (defaults of the params unless given). */
  baseline: Configuration;
  /**
   * How another thread rebuilds the constraints (functions do not cross threads): the module's URL and the
   * export, a space or a function of `args` returning one. Without it, a space with constraints is searched
   * on the thread that holds it.
   */
  origin?: SpaceOrigin;
}

export interface SpaceOrigin {
  module: string;
  export: string;
  args?: readonly (string | number | boolean)[];
}
