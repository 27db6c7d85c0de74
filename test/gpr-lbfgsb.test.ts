import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimizeBounded } from '../src/gpr/lbfgsb.js';
import { bump } from '../src/util/at.js';

/** n-dimensional Rosenbrock with gradient. */
function rosen(x: Float64Array, g?: Float64Array): number {
  let f = 0;
  g?.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1]! - x[i]! * x[i]!;
    const b = 1 - x[i]!;
    f += 100 * a * a + b * b;
    if (g) {
      bump(g, i, -400 * x[i]! * a - 2 * b);
      bump(g, i + 1, 200 * a);
    }
  }
  return f;
}

test('unbounded 10-D Rosenbrock reaches the minimum at all ones', () => {
  const x0 = new Float64Array(10).fill(-1.2);
  const r = minimizeBounded(
    rosen,
    x0,
    Array.from({ length: 10 }, () => [-Infinity, Infinity] as const),
    { pgtol: 1e-8, factr: 10 },
  );
  assert.ok(r.converged, r.message);
  assert.ok(r.f < 1e-10, `f = ${r.f}`);
  for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-4);
});

test('bounded Rosenbrock stops on the active bound at the constrained minimum', () => {
  // x0 <= 0.5 cuts off (1,1); on x0 = 0.5 the best x1 is 0.25, and the gradient pushes x0 outwards there.
  const r = minimizeBounded(
    rosen,
    [-1.5, 1.8],
    [
      [-2, 0.5],
      [-1, 2],
    ],
  );
  assert.ok(r.converged, r.message);
  assert.equal(r.x[0], 0.5);
  assert.ok(Math.abs(r.x[1]! - 0.25) < 1e-4, `x1 = ${r.x[1]}`);
  assert.ok(Math.abs(r.f - 0.25) < 1e-7);
  assert.ok(r.g[0]! < 0, 'the gradient at the solution points out of the box');
  // A start outside the box is projected in; bounds on both sides active.
  const r2 = minimizeBounded(
    rosen,
    [5, -5, 5],
    [
      [1.5, 3],
      [-1, 0.5],
      [0, 1],
    ],
  );
  for (let i = 0; i < 3; i++) assert.ok(r2.x[i]! >= [1.5, -1, 0][i]! && r2.x[i]! <= [3, 0.5, 1][i]!);
  assert.equal(r2.x[0], 1.5);
  assert.equal(r2.x[1], 0.5);
});

test('an objective that is undefined in part of the box is handled by backing off', () => {
  // f = x^2 - log(1 - x) only exists for x < 1; the start is at the bound's edge region.
  const fg = (x: Float64Array, g?: Float64Array): number => {
    if (x[0]! >= 1) return Infinity;
    if (g) g[0] = 2 * x[0]! + 1 / (1 - x[0]!);
    return x[0]! * x[0]! - Math.log(1 - x[0]!);
  };
  const r = minimizeBounded(fg, [0.99], [[-10, 10]]);
  assert.ok(r.converged, r.message);
  // minimum where 2x = -1/(1-x) -> 2x - 2x^2 = -1 -> x = (1 - sqrt(3))/2
  assert.ok(Math.abs(r.x[0]! - (1 - Math.sqrt(3)) / 2) < 1e-5);
});
