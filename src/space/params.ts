/**
 * Every parameter kind is discrete, so each is seen through one view: an
 * ordered list of levels (`count` of them) and the index of a value in it.
 * Validation, encoding, neighbours and sampling all work on indices.
 */
import { ERR_CONFIG_INVALID, ERR_SPACE_INVALID } from '../errors.js';
import type { ConfigSpace, ParamSpec, ParamValue } from './types.js';
import { shown } from '../util/shown.js';

/** Spaces larger than this per parameter are refused: an int range with a tiny step is almost surely a typo. */
export const MAX_LEVELS = 1_000_000;

export function levelCount(p: ParamSpec): number {
  switch (p.kind) {
    case 'int':
      return Math.floor((p.max - p.min) / (p.step ?? 1)) + 1;
    case 'ordinal':
    case 'categorical':
      return p.values.length;
    case 'bool':
      return 2;
  }
}

export function valueAt(p: ParamSpec, i: number): ParamValue {
  switch (p.kind) {
    case 'int':
      return p.min + i * (p.step ?? 1);
    case 'ordinal':
    case 'categorical':
      return p.values[i]!;
    case 'bool':
      return i === 1;
  }
}

/** Index of `v` among the levels of `p`, or -1 when `v` is not one of them. */
export function indexOf(p: ParamSpec, v: unknown): number {
  switch (p.kind) {
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < p.min || v > p.max) return -1;
      const step = p.step ?? 1;
      const k = (v - p.min) / step;
      return Number.isInteger(k) ? k : -1;
    }
    case 'ordinal':
      return typeof v === 'number' ? p.values.indexOf(v) : -1;
    case 'categorical':
      return typeof v === 'string' ? p.values.indexOf(v) : -1;
    case 'bool':
      return v === true ? 1 : v === false ? 0 : -1;
  }
}

/** What a value of `p` must look like, for error messages. */
export function describeLevels(p: ParamSpec): string {
  switch (p.kind) {
    case 'int':
      return `an integer in ${p.min}..${p.max}${(p.step ?? 1) !== 1 ? ` in steps of ${p.step} from ${p.min}` : ''}`;
    case 'ordinal':
      return `one of ${p.values.join(', ')}`;
    case 'categorical':
      return `one of ${p.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'bool':
      return 'true or false';
  }
}

/** Index of `v`, throwing a coded error naming the parameter when `v` is not a level. */
export function requireIndex(space: ConfigSpace, p: ParamSpec, v: unknown): number {
  const i = indexOf(p, v);
  if (i < 0) throw ERR_CONFIG_INVALID(space.name, p.name, `got ${shown(v)}, expected ${describeLevels(p)}`);
  return i;
}

/** Checks one parameter's definition. */
export function checkParamSpec(space: ConfigSpace, p: ParamSpec): void {
  const bad = (what: string): never => {
    throw ERR_SPACE_INVALID(space.name, p.name || '(unnamed)', what);
  };
  if (typeof p.name !== 'string' || p.name === '') bad('has no name');
  switch (p.kind) {
    case 'int': {
      const step = p.step ?? 1;
      if (![p.min, p.max, step].every(Number.isInteger)) bad(`min, max and step must be integers (got ${p.min}, ${p.max}, ${step})`);
      if (step <= 0) bad(`step must be positive (got ${step})`);
      if (p.max < p.min) bad(`max ${p.max} is below min ${p.min}`);
      if (p.log && p.min <= 0) bad(`a log-scaled range needs min > 0 (got ${p.min})`);
      if (levelCount(p) > MAX_LEVELS) bad(`${levelCount(p)} levels; at most ${MAX_LEVELS} are supported`);
      break;
    }
    case 'ordinal': {
      if (p.values.length === 0) bad('has no values');
      if (!p.values.every(Number.isFinite)) bad('values must be finite numbers');
      for (let i = 1; i < p.values.length; i++) if (!(p.values[i]! > p.values[i - 1]!)) bad('values must be strictly increasing');
      break;
    }
    case 'categorical': {
      if (p.values.length === 0) bad('has no values');
      if (new Set(p.values).size !== p.values.length) bad('values must be distinct');
      break;
    }
    case 'bool':
      break;
    default:
      bad(`unknown kind ${JSON.stringify((p as { kind: unknown }).kind)}; expected int, ordinal, categorical or bool`);
  }
  if (indexOf(p, p.default) < 0) bad(`default ${JSON.stringify(p.default)} is not ${describeLevels(p)}`);
}
