/**
 * The addon's window descriptors, the model's descriptor vectors and the
 * per-I/O features (native/src/descriptors.cc) against the numpy reference
 * (bench/descriptors_numpy.py, also run by the features bench), written from
 * the definitions in src/features/descriptors.ts and perio.ts. Every full
 * window of real traces, column by column:
 * - Tencent CBS, one stream: thousands of volumes interleaved, many devices per window;
 * - the Hadoop blkparse trace: measured completion times (queue depth from them);
 * - MQSim WebSearch split per device: windows that continue a stream (prevTimeNs set);
 * - fio OLTP (8 KiB 70/30 random on a loop device).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempDir } from '../src/util/temp-dir.js';
import { compareMatrices, numpyMissing, runNumpyDescriptors, writeColumns, type NumpyTrace } from '../bench/descriptors-numpy.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../src/features/descriptors.js';
import { PER_IO_FEATURES, Windower, type WindowOptions } from '../src/features/perio.js';
import { measureWindow, WINDOW_SLOTS } from '../src/features/window-native.js';
import { describeTrace } from '../src/ml/characterise.js';
import { openTrace } from '../src/readers/registry.js';
import { Rng } from '../src/space/rng.js';
import { collect, Op, TraceBuilder, type TraceBatch } from '../src/trace/model.js';

const skip = numpyMissing();

interface Ours {
  keys: string[];
  descriptors: Float64Array[];
  vectors: Float64Array[];
  perIo: Record<(typeof PER_IO_FEATURES)[number], number[]>[];
}

/** ssdtune's side: the production path (describeTrace) for the vectors, the addon's raw slots and per-I/O features beside it. */
async function ours(batch: TraceBatch, opts: WindowOptions): Promise<Ours> {
  const described = await describeTrace(
    (async function* () {
      yield batch;
    })(),
    opts,
  );
  const windows = new Windower(opts).push(batch);
  assert.deepEqual(
    windows.map((w) => `${w.stream}/${w.index}`),
    described.windows.map((w) => `${w.stream}/${w.index}`),
  );
  const perIo: Ours['perIo'] = [];
  const descriptors = windows.map((w) => {
    const f = {
      logIat: new Float64Array(w.length),
      logOffset: new Float64Array(w.length),
      logSize: new Float64Array(w.length),
      isRead: new Uint8Array(w.length),
      device: new Uint32Array(w.length),
    };
    const out = measureWindow(w, new Float64Array(WINDOW_SLOTS.length), `window ${w.index}`, f).slice();
    perIo.push({ logIat: [...f.logIat], logOffset: [...f.logOffset], logSize: [...f.logSize], isRead: [...f.isRead], device: [...f.device] });
    return out;
  });
  return { keys: windows.map((w) => `${w.stream}/${w.index}`), descriptors, vectors: described.windows.map((w) => w.vector), perIo };
}

/** The reference's side, on the same trace's columns, windowed by the reference itself. */
function numpy(batch: TraceBatch, opts: WindowOptions): NumpyTrace {
  const prefix = path.join(tempDir('ssdtune-numpy-'), 'trace.');
  writeColumns(prefix, batch);
  return runNumpyDescriptors(prefix, opts.size!, { splitByDevice: opts.splitByDevice ?? false, perIo: true });
}

/** Orders the reference's windows as ssdtune's (by stream and index), failing on any window one side lacks. */
function align(keys: string[], ref: NumpyTrace): NumpyTrace['windows'] {
  const byKey = new Map(ref.windows.map((w) => [`${w.stream}/${w.index}`, w]));
  const theirs = keys.map((k) => byKey.get(k));
  const lacking = keys.filter((_, i) => !theirs[i]);
  assert.equal(lacking.length, 0, `numpy has no window ${lacking.slice(0, 5).join(', ')} (stream/index)`);
  assert.equal(ref.windows.length, keys.length, 'numpy and ssdtune cut the same number of windows');
  return theirs as NumpyTrace['windows'];
}

const TRACES: { file: string; opts: WindowOptions; check: (d: Float64Array[], keys: string[]) => void }[] = [
  {
    file: 'traces/tencent_cbs_sample50k.csv.bz2',
    opts: { size: 3000 },
    check: (d) =>
      assert.ok(
        d.every((r) => r[WINDOW_SLOTS.indexOf('devices')]! > 10),
        'Tencent windows hold many volumes',
      ),
  },
  {
    file: 'traces/blkparse_hadoop_writeback_apress.txt',
    opts: { size: 3000 },
    check: (d) =>
      assert.ok(
        d.some((r) => r[WINDOW_SLOTS.indexOf('queueDepthMeasured')] === 1),
        'Hadoop windows use measured latencies',
      ),
  },
  {
    file: 'traces/mqsim_wsrch-small.trace',
    opts: { size: 2000, splitByDevice: true },
    check: (_d, keys) =>
      assert.ok(keys.some((k) => !k.endsWith('/0')) && new Set(keys.map((k) => k.split('/')[0])).size > 1, 'WebSearch windows continue several device streams'),
  },
  {
    file: 'traces/fio_oltp.trace.xz',
    opts: { size: 1024 },
    check: (d) =>
      assert.ok(
        d.some((r) => r[WINDOW_SLOTS.indexOf('reuseFraction')]! > 0),
        'fio OLTP windows re-use pages',
      ),
  },
];

/** Every full window of `batch`: descriptors, model vectors and per-I/O features, ssdtune's against numpy's; `what` names the trace. */
async function compareTrace(what: string, batch: TraceBatch, opts: WindowOptions): Promise<Ours> {
  const a = await ours(batch, opts);
  const ref = numpy(batch, opts);
  assert.ok(a.keys.length >= 2, `${what} gives ${a.keys.length} windows`);
  const theirs = align(a.keys, ref);
  const rowName = (r: number) => `window ${a.keys[r]} (stream/index)`;
  const raw = compareMatrices({ names: WINDOW_SLOTS, rows: a.descriptors }, { names: ref.descriptors, rows: theirs.map((w) => w.descriptors) }, rowName);
  assert.deepEqual(raw.problems, [], `descriptors of ${what}`);
  const vec = compareMatrices({ names: DESCRIPTOR_VECTOR_NAMES, rows: a.vectors }, { names: ref.vector, rows: theirs.map((w) => w.vector) }, rowName);
  assert.deepEqual(vec.problems, [], `model vectors of ${what}`);
  for (const name of PER_IO_FEATURES) {
    const problems = a.perIo.flatMap((f, r) => {
      const want = theirs[r]!.perIo![name];
      return compareMatrices(
        { names: [name], rows: f[name].map((x) => [x]) },
        { names: [name], rows: want.map((x) => [x]) },
        (i) => `${rowName(r)} request ${i}`,
      ).problems;
    });
    assert.deepEqual(problems, [], `per-I/O ${name} of ${what}`);
  }
  return a;
}

for (const { file, opts, check } of TRACES) {
  test(`${path.basename(file)}: descriptors, model vectors and per-I/O features equal numpy's, column by column`, { skip }, async () => {
    const a = await compareTrace(file, await collect(await openTrace(file)), opts);
    check(a.descriptors, a.keys);
  });
}

/**
 * A seeded trace built to hit the definitions' edge cases, which real traces reach rarely: contiguous
 * requests on another device, out-of-order and equal arrival times, tied size counts (small windows),
 * re-used pages on two devices, unaligned and odd sizes, completions missing or before arrival.
 */
function edgeTrace(n: number, seed: number): TraceBatch {
  const rng = new Rng(seed);
  const out = new TraceBuilder({ timing: true });
  const sizes = [512, 4096, 4096, 8192, 12288, 16384, 16385, 65536, 65537, 1 << 20, 3 << 20];
  const sector: number[] = [];
  let t = 1e9;
  let device = 7;
  let end = 0; // where the previous request ended
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    t += r < 0.1 ? -rng.int(50_000) : r < 0.2 ? 0 : rng.int(2_000_000);
    const kind = rng.int(6);
    if (rng.next() < 0.3) device = rng.pick([3, 7, 1 << 20]);
    sector[i] =
      kind === 0 || kind === 1
        ? end // contiguous (on another device when it just changed)
        : kind === 2
          ? end + rng.pick([1, 7, 8, 2048, 2049, 32768]) // near, or just past a threshold
          : kind === 3 && i >= 8
            ? sector[i - 1 - rng.int(8)]! // a page again
            : rng.int(1 << 30);
    const bytes = rng.pick(sizes);
    end = sector[i]! + bytes / 512;
    const q = rng.next();
    const complete = q < 0.1 ? NaN : q < 0.15 ? t - 1 : t + rng.int(500_000);
    out.push(t, sector[i]!, bytes, rng.next() < 0.6 ? Op.READ : Op.WRITE, device, 0, t, complete);
  }
  return out.take();
}

for (const [size, splitByDevice] of [
  [8, false],
  [64, false],
  [16, true],
] as const) {
  test(`edge-case trace, windows of ${size}${splitByDevice ? ' per device' : ''}: ssdtune equals numpy, column by column`, { skip }, async () => {
    await compareTrace('the edge-case trace', edgeTrace(4096, size), { size, splitByDevice });
  });
}

test('the column comparison names the column that disagrees, and fails on NaN and on a missing column', () => {
  const names = ['a', 'b', 'c'];
  const rows = [Float64Array.of(1, 2, 3), Float64Array.of(4, 5, 6)];
  assert.deepEqual(compareMatrices({ names, rows }, { names, rows: rows.map((r) => [...r]) }).problems, []);
  const off = compareMatrices(
    { names, rows },
    {
      names,
      rows: [
        [1, 2, 3],
        [4, 5 + 1e-6, 6],
      ],
    },
  );
  assert.equal(off.problems.length, 1);
  assert.match(off.problems[0]!, /^b: 1 of 2 rows differ .* row 1: ssdtune 5, numpy 5\.000001/);
  const nan = compareMatrices(
    { names, rows },
    {
      names,
      rows: [
        [1, 2, NaN],
        [4, 5, 6],
      ],
    },
  );
  assert.match(nan.problems.join(), /^c: 1 of 2 rows .* numpy NaN/);
  assert.match(
    compareMatrices(
      { names, rows },
      {
        names: ['a', 'b'],
        rows: [
          [1, 2],
          [4, 5],
        ],
      },
    ).problems.join(),
    /ssdtune has 3, numpy 2; numpy lacks c/,
  );
  assert.match(compareMatrices({ names, rows }, { names: ['a', 'c', 'b'], rows }).problems.join(), /order differs from column 1 \(b vs c\)/);
  assert.match(compareMatrices({ names, rows }, { names, rows: rows.slice(1) }).problems.join(), /rows differ: ssdtune has 2, numpy 1/);
});
