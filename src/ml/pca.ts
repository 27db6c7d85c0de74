/**
 * PCA of window descriptor vectors (AutoBlox reduces windows to 2 components
 * before k-means). Wraps ml-pca, as the eigen-decomposition of the D x D
 * covariance matrix of the centred data (method 'covarianceMatrix'). An SVD of
 * the n x D data gives the same leading components (to ~1e-15 on these
 * standardised columns, checked against scikit-learn's full SVD in
 * test/ml-sklearn.test.ts) but took about twice as long in ml-matrix, whose SVD walks
 * the whole n x D matrix through element accessors; the covariance is one
 * matrix product, and D = 24 keeps its squared condition number harmless for
 * the two components kept.
 *
 * Standardisation: each column is first turned into z-scores with
 * standardize.ts (population std, zero-variance columns only centred), the
 * same as scikit-learn's StandardScaler, because descriptor columns have
 * unrelated units (fractions, log-bytes, log-µs) and the largest unit would
 * otherwise own the first component. Explained variance uses n - 1 like
 * scikit-learn's PCA.explained_variance_.
 *
 * Signs: each component is flipped so that its largest-magnitude loading is
 * positive, so two fits on the same data give the same projection.
 */
import { PCA } from 'ml-pca';
import { ERR_ML_DEGENERATE } from '../errors.js';
import { assertFiniteVector } from '../features/descriptors.js';
import { fitScaler, standardize, type Scaler } from './standardize.js';

export interface PcaModel {
  scaler: Scaler;
  /** Column means of the standardised fit data (0 up to rounding; kept for exactness). */
  centre: number[];
  /** nComponents rows of D loadings each (unit vectors). */
  components: number[][];
  /** Variance along each component (eigenvalues of the covariance, ddof 1). */
  explainedVariance: number[];
  /** explainedVariance / total variance. */
  explainedVarianceRatio: number[];
}

export function fitPca(rows: readonly ArrayLike<number>[], nComponents = 2): PcaModel {
  if (rows.length < 2) throw ERR_ML_DEGENERATE(`PCA needs at least 2 windows, got ${rows.length}; use a longer trace or a smaller window`);
  const scaler = fitScaler(rows);
  const z = rows.map((r) => standardize(scaler, r));
  const d = z[0]!.length;
  if (nComponents < 1 || nComponents > d) throw ERR_ML_DEGENERATE(`cannot take ${nComponents} components of ${d}-dimensional vectors`);
  const pca = new PCA(z, { method: 'covarianceMatrix', center: true, scale: false });
  const ev = pca.getEigenvalues();
  const total = ev.reduce((a, b) => a + b, 0);
  if (!(total > 0))
    throw ERR_ML_DEGENERATE(`all ${rows.length} windows have identical descriptors; there is nothing to cluster (a trace of identical requests?)`);
  const vecs = pca.getEigenvectors(); // D x min(n, D), columns are components
  const components: number[][] = [];
  const explainedVariance: number[] = [];
  for (let c = 0; c < nComponents; c++) {
    const col = c < vecs.columns ? vecs.getColumn(c) : new Array<number>(d).fill(0);
    let big = 0;
    for (const x of col) if (Math.abs(x) > Math.abs(big)) big = x;
    components.push(big < 0 ? col.map((x) => -x) : col);
    explainedVariance.push(ev[c] ?? 0);
  }
  const model: PcaModel = {
    scaler,
    centre: (pca.toJSON() as { means: number[] }).means,
    components,
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((v) => v / total),
  };
  assertFiniteVector(model.explainedVarianceRatio, 'PCA explained variance');
  return model;
}

/** Coordinates of one raw descriptor vector in the PCA space. */
export function projectPca(m: PcaModel, row: ArrayLike<number>): number[] {
  const z = standardize(m.scaler, row);
  const out = m.components.map((comp) => {
    let s = 0;
    for (let j = 0; j < comp.length; j++) s += (z[j]! - m.centre[j]!) * comp[j]!;
    return s;
  });
  assertFiniteVector(out, 'PCA projection');
  return out;
}
