import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defineSpace,
  validateConfig,
  validateSpace,
  Encoder,
  neighbours,
  sampleFeasible,
  isFeasible,
  configKey,
  Rng,
  complete,
  levelCount,
} from '../src/space/space.js';
import { isSsdtuneError } from '../src/errors.js';
import type { ConfigSpace, ParamSpec } from '../src/space/types.js';

const params: ParamSpec[] = [
  { name: 'channels', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 4, group: 'geometry' },
  { name: 'chips', kind: 'ordinal', values: [1, 2, 4, 8, 16], default: 4, group: 'geometry' },
  { name: 'cacheMiB', kind: 'int', min: 16, max: 1024, step: 16, log: true, default: 256, group: 'cache' },
  { name: 'gc', kind: 'categorical', values: ['GREEDY', 'RGA', 'FIFO'], default: 'GREEDY', group: 'gc' },
  { name: 'writeCache', kind: 'bool', default: true, group: 'cache' },
];
const budget = {
  name: 'chip-budget',
  description: 'channels x chips <= 64',
  check: (c: Record<string, unknown>) => (c.channels as number) * (c.chips as number) <= 64,
};
const space = defineSpace({ name: 'toy', params, constraints: [budget] });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isSsdtuneError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

test('validateConfig names the bad parameter and what was expected', () => {
  assert.deepEqual(validateConfig(space, space.baseline), space.baseline);
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, channels: 3 })),
    /SSDTUNE_CONFIG_INVALID: .*parameter channels: got 3, expected one of 1, 2, 4, 8, 16/,
  );
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, cacheMiB: 20 })),
    /parameter cacheMiB: .*steps of 16/,
  );
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, gc: 'LRU' })),
    /parameter gc: got "LRU"/,
  );
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, writeCache: 1 })),
    /parameter writeCache: got 1, expected true or false/,
  );
  const { gc: _gc, ...missing } = space.baseline;
  assert.match(
    code(() => validateConfig(space, missing)),
    /parameter gc: missing/,
  );
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, bogus: 1 })),
    /parameter bogus: unknown parameter/,
  );
  assert.match(
    code(() => validateConfig(space, { ...space.baseline, channels: 16, chips: 16 })),
    /violates chip-budget \(channels x chips <= 64\)/,
  );
  assert.match(
    code(() => validateConfig(space, [1, 2])),
    /expected an object/,
  );
  assert.deepEqual(complete(space, { gc: 'RGA' }), { ...space.baseline, gc: 'RGA' });
  // Fixed, non-tunable settings beside the parameters may be ignored on request (a baseline carrying them).
  assert.deepEqual(validateConfig(space, { ...space.baseline, flashReadNs: 3000 }, { unknown: 'ignore' }), space.baseline);
  assert.doesNotThrow(() => validateSpace({ ...space, baseline: { ...space.baseline, flashReadNs: 3000 } }));
});

test('bad space definitions are refused with the parameter named', () => {
  const mk = (p: ParamSpec): string => code(() => defineSpace({ name: 's', params: [p] }));
  assert.match(mk({ name: 'a', kind: 'int', min: 5, max: 1, default: 3 }), /SSDTUNE_SPACE_INVALID: space s: parameter a: max 1 is below min 5/);
  assert.match(mk({ name: 'a', kind: 'int', min: 0, max: 10, step: 0, default: 0 }), /step must be positive/);
  assert.match(mk({ name: 'a', kind: 'int', min: 0, max: 10, log: true, default: 1 }), /log-scaled range needs min > 0/);
  assert.match(mk({ name: 'a', kind: 'ordinal', values: [4, 2], default: 4 }), /strictly increasing/);
  assert.match(mk({ name: 'a', kind: 'categorical', values: [], default: 'x' }), /has no values/);
  assert.match(mk({ name: 'a', kind: 'int', min: 0, max: 10, default: 11 }), /default 11 is not an integer in 0..10/);
  assert.match(
    code(() => defineSpace({ name: 'empty', params: [] })),
    /the space has no parameters/,
  );
  assert.match(
    code(() => validateSpace({ name: 'd', params: [params[0]!, params[0]!], constraints: [], baseline: {} })),
    /parameter channels: defined twice/,
  );
});

test('encoding: index for numeric, log for log ranges, one-hot for categorical, 0/1 for bool; decode inverts it', () => {
  const enc = new Encoder(space);
  assert.equal(enc.dims, 1 + 1 + 1 + 3 + 1);
  const x = enc.encode({ channels: 1, chips: 16, cacheMiB: 16, gc: 'RGA', writeCache: false });
  assert.deepEqual([...x], [0, 1, 0, 0, 1, 0, 0]);
  const y = enc.encode(space.baseline);
  assert.equal(y[0], 0.5);
  assert.ok(Math.abs(y[2]! - Math.log(256 / 16) / Math.log(1024 / 16)) < 1e-12);
  assert.deepEqual([...y.slice(3)], [1, 0, 0, 1]);
  const rng = new Rng(7);
  for (const c of sampleFeasible(space, rng, 50)) assert.deepEqual(enc.decode(enc.encode(c)), c);
  // Decoding rounds to the nearest level.
  const d = enc.decode([0.49, 0.13, 0.999, 0.2, 0.1, 0.7, 0.7]);
  assert.deepEqual(d, { channels: 4, chips: 2, cacheMiB: 1024, gc: 'FIFO', writeCache: true });
  assert.throws(() => enc.decode([0, 1]), /length 2, expected 7/);
});

test('Manhattan distance: one full-range move of any parameter costs 1', () => {
  const enc = new Encoder(space);
  const a = enc.encode(space.baseline);
  assert.equal(enc.distance(a, enc.encode({ ...space.baseline, gc: 'FIFO' })), 1);
  assert.equal(enc.distance(a, enc.encode({ ...space.baseline, writeCache: false })), 1);
  assert.equal(enc.distance(a, enc.encode({ ...space.baseline, channels: 1, chips: 16 })), 1);
  assert.equal(enc.distance(a, a), 0);
});

test('neighbours change one parameter, or two of the same group, and respect constraints', () => {
  const ns = neighbours(space, space.baseline);
  const keys = new Set(ns.map((c) => configKey(space, c)));
  assert.equal(keys.size, ns.length, 'no duplicates');
  assert.ok(!keys.has(configKey(space, space.baseline)));
  const groupOf = new Map(params.map((p) => [p.name, p.group]));
  for (const n of ns) {
    const changed = params.filter((p) => n[p.name] !== space.baseline[p.name]).map((p) => p.name);
    assert.ok(changed.length === 1 || changed.length === 2, `changed ${changed}`);
    if (changed.length === 2) assert.equal(groupOf.get(changed[0]!), groupOf.get(changed[1]!));
    assert.ok(isFeasible(space, n));
  }
  // All four other channel values appear as single moves; 16x16 is infeasible and absent.
  assert.deepEqual(
    ns
      .filter((n) => n.chips === 4 && n.cacheMiB === 256 && n.gc === 'GREEDY' && n.writeCache)
      .map((n) => n.channels)
      .sort((a, b) => (a as number) - (b as number)),
    [1, 2, 8, 16],
  );
  assert.ok(!ns.some((n) => n.channels === 16 && n.chips === 16));
  // A long int range uses geometric steps plus both ends.
  const only = neighbours(space, space.baseline, { params: ['cacheMiB'], pairs: false });
  const vals = only.map((n) => n.cacheMiB as number).sort((a, b) => a - b);
  assert.ok(vals.includes(16) && vals.includes(1024) && vals.includes(240) && vals.includes(272), `${vals}`);
  assert.ok(vals.length <= 16);
});

test('sampling: distinct feasible configurations; walk when constraints are tight; contradictions reported', () => {
  const rng = new Rng(3);
  const s = sampleFeasible(space, rng, 100);
  assert.equal(s.length, 100);
  assert.equal(new Set(s.map((c) => configKey(space, c))).size, 100);
  assert.ok(s.every((c) => isFeasible(space, c)));
  // Fixed total: channels x chips == 16 exactly. Uniform draws hit 1/5 of the time; with a wide int it gets rarer.
  const fixed: ConfigSpace = defineSpace({
    name: 'fixed',
    params: [
      { name: 'a', kind: 'int', min: 1, max: 4096, default: 64 },
      { name: 'b', kind: 'int', min: 1, max: 4096, default: 64 },
      { name: 'c', kind: 'int', min: 1, max: 4096, default: 1 },
    ],
    constraints: [{ name: 'total', description: 'a*b*c == 4096', check: (c) => (c.a as number) * (c.b as number) * (c.c as number) === 4096 }],
  });
  const f = sampleFeasible(fixed, new Rng(1), 20);
  assert.ok(f.length >= 10, `found ${f.length}`);
  assert.ok(f.every((c) => isFeasible(fixed, c)));
  const contradiction = defineSpace({
    name: 'contra',
    params: [{ name: 'x', kind: 'int', min: 0, max: 10, default: 5 }],
    constraints: [
      { name: 'low', description: 'x < 3', check: (c) => (c.x as number) < 3 },
      { name: 'high', description: 'x > 7', check: (c) => (c.x as number) > 7 },
    ],
  });
  assert.match(
    code(() => sampleFeasible(contradiction, new Rng(1), 5)),
    /SSDTUNE_NOTHING_FEASIBLE: space contra: nothing feasible: .*baseline violates low, high/,
  );
  // A constraint that throws is a violation, not a crash.
  const throwing = defineSpace({
    name: 't',
    params: [{ name: 'x', kind: 'bool', default: true }],
    constraints: [
      {
        name: 'boom',
        description: '',
        check: () => {
          throw new Error('x');
        },
      },
    ],
  });
  assert.equal(isFeasible(throwing, throwing.baseline), false);
  assert.equal(levelCount({ name: 'q', kind: 'int', min: 0, max: 10, step: 3, default: 0 }), 4);
});
