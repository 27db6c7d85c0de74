import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConstantKernel, RBF, RationalQuadratic, WhiteKernel, Sum, Product, autobloxKernel, thetaOf, namesOf, type Kernel } from '../src/gpr/kernels.js';
import { cholesky, choInverse, choSolve } from '../src/gpr/cholesky.js';
import { native } from '../src/native.js';
import { GaussianProcess, logNormalPrior } from '../src/gpr/gpr.js';
import { Rng } from '../src/space/rng.js';
import { isSsdtuneError } from '../src/errors.js';
import { bump } from '../src/util/at.js';

function points(rng: Rng, n: number, d: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n * d }, () => rng.next() * scale);
}

/** sum_ij W_ij K_ij(theta) */
function contraction(k: Kernel, X: Float64Array, n: number, d: number, W: Float64Array): number {
  const K = k.matrix(X, n, d);
  let s = 0;
  for (let i = 0; i < n * n; i++) s += W[i]! * K[i]!;
  return s;
}

test('every kernel gradient matches central finite differences in log space', () => {
  const rng = new Rng(11);
  const n = 9;
  const d = 3;
  const X = points(rng, n, d, 3);
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) W[i * n + j] = W[j * n + i] = rng.next() - 0.5;
  const kernels: Kernel[] = [
    new RBF(1.3),
    new RBF([0.7, 2, 1.1]),
    new RationalQuadratic(0.9, 1.7),
    new WhiteKernel(0.3),
    new ConstantKernel(2.5),
    new Product(new ConstantKernel(3), new RBF([1, 2, 0.5])),
    autobloxKernel(),
    new Product(new Sum(new RBF(1), new WhiteKernel(0.1)), new RationalQuadratic(2, 0.5)),
  ];
  for (const k of kernels) {
    const g = new Float64Array(k.nParams);
    k.gradDot(X, n, d, W, g, 0);
    const theta = thetaOf(k);
    for (let p = 0; p < k.nParams; p++) {
      const h = 1e-6;
      const a = k.clone();
      const b = k.clone();
      const tp = Float64Array.from(theta);
      bump(tp, p, h);
      a.setTheta(tp, 0);
      bump(tp, p, -(2 * h));
      b.setTheta(tp, 0);
      const fd = (contraction(a, X, n, d, W) - contraction(b, X, n, d, W)) / (2 * h);
      assert.ok(Math.abs(fd - g[p]!) <= 1e-6 * Math.max(1, Math.abs(fd)), `${k} param ${namesOf(k)[p]}: analytic ${g[p]} vs numeric ${fd}`);
    }
  }
  assert.deepEqual(namesOf(autobloxKernel()), [
    'k1__k1__k1__constant_value',
    'k1__k1__k2__length_scale',
    'k1__k2__k1__constant_value',
    'k1__k2__k2__length_scale',
    'k1__k2__k2__alpha',
    'k2__noise_level',
  ]);
});

test('Cholesky factor, solve and inverse are consistent', () => {
  const rng = new Rng(5);
  const n = 30;
  const X = points(rng, n, 2);
  const K = new Sum(new RBF(0.5), new WhiteKernel(1e-3)).matrix(X, n, 2);
  const L = cholesky(K, n)!;
  const inv = choInverse(L, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += K[i * n + k]! * inv[k * n + j]!;
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `K K^-1 [${i},${j}] = ${s}`);
    }
  }
  const b = Float64Array.from({ length: n }, () => rng.next());
  const x = choSolve(L, n, b);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += K[i * n + k]! * x[k]!;
    assert.ok(Math.abs(s - b[i]!) < 1e-8);
  }
  assert.equal(cholesky(Float64Array.from([1, 2, 2, 1]), 2), undefined, 'indefinite matrix is refused');
  // L is lower triangular with the upper triangle zero, and L L^T = K.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j > i) assert.equal(L[i * n + j], 0);
      let s = 0;
      for (let k = 0; k < n; k++) s += L[i * n + k]! * L[j * n + k]!;
      assert.ok(Math.abs(s - K[i * n + j]!) < 1e-12, `L L^T [${i},${j}]`);
    }
  }
});

test('native Cholesky and inverse check their arguments', () => {
  const a = native() as { choleskyInto: (...x: unknown[]) => boolean; choInverseInto: (...x: unknown[]) => void };
  const I = Float64Array.from([1, 0, 0, 1]);
  assert.throws(() => a.choleskyInto([1, 0, 0, 1], 2, new Float64Array(4)), /matrix must be a Float64Array/);
  assert.throws(() => a.choleskyInto(I, 3, new Float64Array(9)), /matrix has 4 elements, expected n\*n = 9/);
  assert.throws(() => a.choleskyInto(I, 2, new Float64Array(3)), /output has 3 elements/);
  assert.throws(() => a.choleskyInto(I, 1.5, new Float64Array(4)), /n must be an integer/);
  assert.throws(() => a.choleskyInto(I, 2, I), /output must not be the input/);
  assert.throws(() => a.choInverseInto(I, 2), /expected 3 arguments/);
  assert.ok(a.choleskyInto(I, 2, new Float64Array(4)));
  assert.equal(a.choleskyInto(Float64Array.from([0, 0, 0, 0]), 2, new Float64Array(4)), false, 'singular: not positive definite');
  assert.equal(a.choleskyInto(Float64Array.from([NaN, 0, 0, 1]), 2, new Float64Array(4)), false, 'NaN: refused, not propagated');
});

const f = (x: number[]): number => 20 * Math.sin(x[0]!) + 10 * Math.cos(x[1]! / 2) + x[0]! * x[1]!;

test('log marginal likelihood gradient matches finite differences, with and without the constant mean', () => {
  const rng = new Rng(2);
  const X = Array.from({ length: 25 }, () => [rng.next() * 10, rng.next() * 10]);
  const y = X.map(f);
  for (const mean of ['zero', 'constant'] as const) {
    const gp = new GaussianProcess({ optimize: false, mean, normalizeY: true }).fit(X, y);
    const theta = Float64Array.from([0.3, 1.2, -0.5, 0.4, 0.2, -2]);
    const { grad } = gp.logMarginalLikelihood(theta);
    for (let p = 0; p < theta.length; p++) {
      const h = 1e-5;
      const a = Float64Array.from(theta);
      bump(a, p, h);
      const b = Float64Array.from(theta);
      bump(b, p, -h);
      const fd = (gp.logMarginalLikelihood(a).lml - gp.logMarginalLikelihood(b).lml) / (2 * h);
      assert.ok(Math.abs(fd - grad[p]!) < 1e-4 * Math.max(1, Math.abs(fd)), `${mean} p${p}: ${grad[p]} vs ${fd}`);
    }
  }
});

test('the trainable constant mean never lowers the likelihood and recovers an offset', () => {
  const rng = new Rng(8);
  const X = Array.from({ length: 30 }, () => [rng.next() * 10, rng.next() * 10]);
  const y = X.map((x) => 500 + f(x));
  const zero = new GaussianProcess({ mean: 'zero', restarts: 2 }).fit(X, y);
  const cst = new GaussianProcess({ mean: 'constant', restarts: 2 }).fit(X, y);
  assert.ok(cst.lml >= zero.lml - 1e-6, `constant ${cst.lml} vs zero ${zero.lml}`);
  assert.ok(Math.abs(cst.meanValue - 500) < 100, `mean ${cst.meanValue}`);
  // Far from the data the prediction reverts to the mean.
  const far = cst.predict([[1e4, 1e4]]);
  assert.ok(Math.abs(far.mean[0]! - cst.meanValue) < 1e-6);
});

test('fit and predict refuse bad input with a coded error', () => {
  const gp = new GaussianProcess();
  const msg = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(isSsdtuneError(e, 'SSDTUNE_GPR'));
      return e.message;
    }
    return 'no error';
  };
  assert.match(
    msg(() => gp.predict([[1]])),
    /predict before fit/,
  );
  assert.match(
    msg(() => gp.fit([], [])),
    /no points/,
  );
  assert.match(
    msg(() => gp.fit([[1, 2], [3]], [1, 2])),
    /row 1 has 1 values, expected 2/,
  );
  assert.match(
    msg(() => gp.fit([[1], [NaN]], [1, 2])),
    /row 1 column 0 is NaN/,
  );
  assert.match(
    msg(() => gp.fit([[1], [2]], [1, Infinity])),
    /value 1 is Infinity/,
  );
  gp.fit([[1], [2]], [1, 2]);
  assert.match(
    msg(() => gp.predict([[1, 2]])),
    /2 dimensions, the model was fitted on 1/,
  );
});

test('duplicate points with no noise need jitter and still fit', () => {
  const X = [
    [1, 1],
    [1, 1],
    [2, 2],
    [2, 2],
  ];
  const gp = new GaussianProcess({ kernel: new RBF(1), alpha: 0, optimize: false }).fit(X, [1, 1, 2, 2]);
  assert.ok(gp.jitter > 0);
  const p = gp.predict([[1, 1]]);
  assert.ok(Math.abs(p.mean[0]! - 1) < 1e-3);
});

test('leave-one-out predictions equal refitting without each point; a log-normal prior pulls the fitted scale', () => {
  const rng = new Rng(31);
  const rows = Array.from({ length: 15 }, () => [rng.next(), rng.next()]);
  const y = rows.map(([a, b]) => Math.sin(4 * a!) + b! * b! + 0.01 * rng.next());
  const kernel = new Sum(new Product(new ConstantKernel(1.2), new RBF([0.4, 0.7])), new WhiteKernel(1e-3));
  const gp = new GaussianProcess({ kernel, optimize: false, normalizeY: true }).fit(rows, y);
  const loo = gp.leaveOneOut();
  const plain = new GaussianProcess({ kernel, optimize: false }).fit(rows, y);
  const looPlain = plain.leaveOneOut();
  for (const i of [0, 6, 14]) {
    const rest = new GaussianProcess({ kernel, optimize: false }).fit(
      rows.filter((_, j) => j !== i),
      y.filter((_, j) => j !== i),
    );
    const p = rest.predict([rows[i]!]);
    // Both variances include the white-noise term (predict's prior diagonal carries it, as scikit-learn's does).
    assert.ok(Math.abs(looPlain.mean[i]! - p.mean[0]!) < 1e-8, `mean ${looPlain.mean[i]} vs ${p.mean[0]}`);
    assert.ok(Math.abs(looPlain.std[i]! - p.std[0]!) < 1e-8, `std ${looPlain.std[i]} vs ${p.std[0]}`);
  }
  assert.equal(loo.mean.length, 15);
  // MAP with a tight prior at length scale 5 keeps the scale near 5; maximum likelihood does not.
  const iso = () => new Sum(new Product(new ConstantKernel(1), new RBF(1)), new WhiteKernel(1e-3));
  const ml = new GaussianProcess({ kernel: iso() }).fit(rows, y);
  const map = new GaussianProcess({ kernel: iso(), prior: logNormalPrior(new Map([[1, [Math.log(5), 0.05]]])) }).fit(rows, y);
  const lsOf = (g: GaussianProcess) => Math.exp(thetaOf(g.kernel)[1]!);
  assert.ok(Math.abs(lsOf(map) - 5) < 0.5, `MAP length scale ${lsOf(map)}`);
  assert.ok(Math.abs(lsOf(ml) - 5) > 1, `ML length scale ${lsOf(ml)}`);
  assert.ok(ml.lml >= map.lml, 'the likelihood alone is highest at the maximum-likelihood fit');
});
