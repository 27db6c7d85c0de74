/**
 * Column standardisation (z-scores) used before PCA and the similarity
 * network: x' = (x - mean) / std with the population std (ddof = 0, as
 * scikit-learn's StandardScaler). A column with zero variance gets std 1, so
 * it is only centred (to 0) instead of becoming NaN: such a column carries no
 * information, and dividing by 0 would poison every later step.
 */
import { ERR_ML_DEGENERATE } from '../errors.js';
import { assertFiniteVector } from '../features/descriptors.js';

export interface Scaler {
  mean: number[];
  std: number[];
}

export function fitScaler(rows: readonly ArrayLike<number>[]): Scaler {
  if (rows.length === 0) throw ERR_ML_DEGENERATE('cannot standardise an empty set of windows');
  const d = rows[0]!.length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const r of rows) {
    assertFiniteVector(r, 'standardise input');
    for (let j = 0; j < d; j++) mean[j]! += r[j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= rows.length;
  for (const r of rows) for (let j = 0; j < d; j++) std[j]! += (r[j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j]! / rows.length);
    // Relative test: a column constant up to rounding is constant.
    std[j] = s > 1e-12 * Math.max(1, Math.abs(mean[j]!)) ? s : 1;
  }
  return { mean, std };
}

/** Component `j`'s z-score: the one formula, for a whole vector (standardize) and for a check that names the component. */
export function standardScore(s: Scaler, j: number, x: number): number {
  return (x - s.mean[j]!) / s.std[j]!;
}

export function standardize(s: Scaler, row: ArrayLike<number>): number[] {
  if (row.length !== s.mean.length) throw ERR_ML_DEGENERATE(`vector has ${row.length} components, the model expects ${s.mean.length}`);
  const out = new Array<number>(row.length);
  for (let j = 0; j < row.length; j++) out[j] = standardScore(s, j, row[j]!);
  assertFiniteVector(out, 'standardised vector');
  return out;
}
