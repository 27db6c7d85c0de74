import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { describeWindow, descriptorVector, DESCRIPTOR_DIM, NOMINAL_LATENCY_NS } from '../src/features/descriptors.js';
import { perIoFeatures, Windower, type RequestWindow } from '../src/features/perio.js';
import { WINDOW_SLOTS } from '../src/features/window-native.js';
import { isSsdtuneError } from '../src/errors.js';
import { native } from '../src/native.js';
import { batchRows, collect, Op, TraceBuilder, type TraceBatch } from '../src/trace/model.js';
import { openTrace } from '../src/readers/registry.js';
import { describeTrace } from '../src/ml/characterise.js';

type Row = [timeNs: number, sector: number, bytes: number, op: number, device?: number, completeNs?: number];

function batch(rows: Row[], timing = false): TraceBatch {
  const b = new TraceBuilder({ timing });
  for (const [t, s, by, op, dev = 0, c = NaN] of rows) b.push(t, s, by, op, dev, 0, NaN, c);
  return b.take();
}

function oneWindow(rows: Row[], timing = false): RequestWindow {
  const w = new Windower({ size: rows.length });
  const out = w.push(batch(rows, timing));
  assert.equal(out.length, 1);
  return out[0]!;
}

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

const R = Op.READ;
const W = Op.WRITE;
const HAND: Row[] = [
  [0, 100, 4096, R],
  [1000, 108, 4096, R],
  [3000, 116, 8192, W],
  [6000, 100, 4096, R],
];

/** A window built straight from columns (the Windower needs >= 2 requests; the addon takes 1). */
function columns(sector: number[], bytes: number[], timeNs = sector.map((_, i) => i * 1000)): RequestWindow {
  const n = sector.length;
  return {
    stream: -1,
    index: 0,
    firstRequest: 0,
    endRequest: n,
    length: n,
    timeNs: Float64Array.from(timeNs),
    sector: Float64Array.from(sector),
    bytes: Uint32Array.from(bytes),
    op: new Uint16Array(n).fill(R),
    device: new Uint32Array(n),
    prevTimeNs: NaN,
  };
}

/** Reference percentile: full sort, then numpy's linear interpolation (written here independently of the addon). */
function sortedPercentile(x: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(x).sort();
  const h = p * (s.length - 1);
  const f = Math.floor(h);
  return f + 1 >= s.length ? s[f]! : s[f]! + (s[f + 1]! - s[f]!) * (h - f);
}

test('percentiles: numpy linear interpolation, a single request', () => {
  // Gaps 0, 1, 2, 3 µs: 10/50/90th percentiles 0.3, 1.5, 2.7 (numpy.percentile).
  const d = describeWindow(columns([0, 8, 16, 24], [512, 512, 512, 512], [0, 1000, 3000, 6000]));
  close(d.iatP10, 0.3);
  close(d.iatP50, 1.5);
  close(d.iatP90, 2.7);
  const one = describeWindow(columns([7], [4096]));
  assert.equal(one.requests, 1);
  assert.equal(one.offsetP90, 7 * 512);
  assert.equal(one.sizeP10, 4096);
  assert.equal(one.sequentialFraction, 0);
  assert.equal(one.reuseIntervalMedian, 0);
});

test('selection percentiles equal sorted percentiles (random, duplicates, tiny)', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const n of [1, 2, 3, 10, 101, 3000]) {
    for (const dupes of [false, true]) {
      const sector = Array.from({ length: n }, () => (dupes ? Math.floor(rnd() * 5) * 8 : Math.floor(rnd() * 1e9)));
      const bytes = Array.from({ length: n }, () => (dupes ? 512 << Math.floor(rnd() * 4) : Math.floor(rnd() * 1e6)));
      const d = describeWindow(columns(sector, bytes));
      const offsets = sector.map((s) => s * 512);
      for (const [p, off, size] of [
        [0.1, d.offsetP10, d.sizeP10],
        [0.5, d.offsetP50, d.sizeP50],
        [0.9, d.offsetP90, d.sizeP90],
      ] as const) {
        assert.equal(off, sortedPercentile(offsets, p), `offset n=${n} p=${p}`);
        assert.equal(size, sortedPercentile(bytes, p), `size n=${n} p=${p}`);
      }
    }
  }
});

test('per-I/O features of a hand-built window', () => {
  const f = perIoFeatures(oneWindow(HAND));
  assert.deepEqual([...f.logIat], [0, 1, 2, 3].map(Math.log1p));
  assert.deepEqual([...f.logOffset], [0, 8, 16, 0].map(Math.log1p));
  assert.deepEqual([...f.logSize], [4096, 4096, 8192, 4096].map(Math.log1p));
  assert.deepEqual([...f.isRead], [1, 1, 0, 1]);
  assert.deepEqual([...f.device], [0, 0, 0, 0]);
});

test('descriptors of a hand-built window are exact', () => {
  const d = describeWindow(oneWindow(HAND));
  assert.equal(d.requests, 4);
  close(d.readRatio, 0.75);
  close(d.sizeP10, 4096);
  close(d.sizeP50, 4096);
  close(d.sizeP90, 4096 + 4096 * 0.7);
  assert.equal(d.sizeMode, 4096);
  // Absolute start offsets 100, 100, 108, 116 sectors (sorted) -> bytes, numpy linear percentiles.
  close(d.offsetP10, 100 * 512);
  close(d.offsetP50, 104 * 512);
  close(d.offsetP90, (108 + 8 * 0.7) * 512);
  close(d.iatP10, 0.3);
  close(d.iatP50, 1.5);
  close(d.iatP90, 2.7);
  close(d.iatMean, 1.5);
  close(d.iatCv, Math.sqrt(1.25) / 1.5);
  close(d.sequentialFraction, 2 / 3);
  close(d.lbaSpanBytes, 32 * 512);
  close(d.reuseFraction, 0.25);
  close(d.reuseIntervalMedian, 3);
  close(d.queueDepth, (4 * NOMINAL_LATENCY_NS) / (6000 + NOMINAL_LATENCY_NS));
  assert.equal(d.queueDepthMeasured, false);
  assert.equal(d.devices, 1);
  close(d.meanLogIat, (Math.log1p(0) + Math.log1p(1) + Math.log1p(2) + Math.log1p(3)) / 4);
  const v = descriptorVector(d);
  assert.equal(v.length, DESCRIPTOR_DIM);
});

test("queue depth uses measured latencies (Little's law) when the trace has completions", () => {
  // Two requests overlapping: [0, 10 µs) and [5 µs, 25 µs): busy 30 µs over 25 µs -> 1.2 outstanding.
  const d = describeWindow(
    oneWindow(
      [
        [0, 0, 4096, R, 0, 10_000],
        [5_000, 800, 4096, R, 0, 25_000],
      ],
      true,
    ),
  );
  close(d.queueDepth, 30_000 / 25_000);
  assert.equal(d.queueDepthMeasured, true);
});

test('devices are counted and sequentiality needs the same device', () => {
  const d = describeWindow(
    oneWindow([
      [0, 0, 4096, R, 7],
      [10, 8, 4096, R, 9],
      [20, 16, 4096, R, 9],
    ]),
  );
  assert.equal(d.devices, 2);
  close(d.sequentialFraction, 0.5);
  const f = perIoFeatures(
    oneWindow([
      [0, 0, 512, R, 7],
      [1, 0, 512, R, 9],
      [2, 0, 512, R, 7],
    ]),
  );
  assert.deepEqual([...f.device], [0, 1, 0]);
});

test('size mode: the most frequent size, the smallest of equally frequent ones', () => {
  const d = describeWindow(
    oneWindow([
      [0, 0, 8192, R],
      [1, 16, 512, R],
      [2, 32, 8192, R],
      [3, 48, 512, R],
      [4, 64, 65536, R],
    ]),
  );
  assert.equal(d.sizeMode, 512);
  const e = describeWindow(
    oneWindow([
      [0, 0, 8192, R],
      [1, 16, 512, R],
      [2, 32, 8192, R],
    ]),
  );
  assert.equal(e.sizeMode, 8192);
});

test('all-identical requests give finite descriptors', () => {
  const rows: Row[] = Array.from({ length: 10 }, () => [5000, 64, 4096, R] as Row);
  const d = describeWindow(oneWindow(rows));
  assert.equal(d.iatCv, 0);
  assert.equal(d.iatMean, 0);
  assert.equal(d.sequentialFraction, 0);
  close(d.reuseFraction, 0.9);
  assert.equal(d.reuseIntervalMedian, 1);
  close(d.lbaSpanBytes, 4096);
  for (const x of descriptorVector(d)) assert.ok(Number.isFinite(x));
});

test('windower: streams per device, carry-over of the previous arrival, leftover', () => {
  const w = new Windower({ size: 2, splitByDevice: true });
  const first = w.push(
    batch([
      [0, 0, 512, R, 1],
      [10, 0, 512, R, 2],
      [20, 0, 512, R, 1],
    ]),
  );
  assert.equal(first.length, 1);
  assert.equal(first[0]!.stream, 1);
  // It ends with the trace's third request (device 2's came between).
  assert.equal(first[0]!.endRequest, 3);
  assert.ok(Number.isNaN(first[0]!.prevTimeNs));
  const second = w.push(
    batch([
      [40, 0, 512, R, 1],
      [2040, 0, 512, R, 1],
    ]),
  );
  assert.equal(second.length, 1);
  assert.equal(second[0]!.index, 1);
  assert.equal(second[0]!.firstRequest, 2);
  assert.equal(second[0]!.endRequest, 5);
  assert.equal(second[0]!.prevTimeNs, 20);
  assert.deepEqual([...perIoFeatures(second[0]!).logIat], [Math.log1p(0.02), Math.log1p(2)]);
  assert.equal(w.leftover, 1); // device 2's single request
  assert.equal(w.streamCount, 2);
});

test('out-of-order arrivals count as simultaneous, never negative', () => {
  const f = perIoFeatures(
    oneWindow([
      [5000, 0, 512, R],
      [4000, 0, 512, R],
    ]),
  );
  assert.deepEqual([...f.logIat], [0, 0]);
});

test('NaN or infinite input raises a coded error naming the trace and the request', () => {
  const w = new Windower({ size: 4, source: 'x.trace' });
  assert.throws(
    () =>
      w.push(
        batch([
          [0, 0, 512, R],
          [NaN, 0, 512, R],
        ]),
      ),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_INPUT') && /x\.trace: request 1: time is NaN/.test((e as Error).message),
  );
  assert.throws(
    () => new Windower({ size: 4 }).push(batch([[0, Infinity, 512, R]])),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_FEATURES_INPUT') && /sector is Infinity/.test((e as Error).message),
  );
  assert.throws(
    () => new Windower({ size: 1 }),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_USAGE'),
  );
  const d = describeWindow(oneWindow(HAND));
  d.iatMean = NaN;
  assert.throws(
    () => descriptorVector(d, 'w0'),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE') && /w0: non-finite value NaN in ln1p\(iatMean\)/.test((e as Error).message),
  );
});

test('real MQSim trace: one stream per device, every vector finite', async () => {
  const file = path.resolve('traces/mqsim_wsrch-small.trace');
  const src = await openTrace(file);
  const t = await describeTrace(src, { size: 500, splitByDevice: true, source: file });
  assert.equal(t.requests, 24783);
  const streams = new Set(t.windows.map((w) => w.stream));
  assert.deepEqual([...streams].sort(), [0, 1, 2]); // devices 3..5 have < 10 requests each
  assert.equal(t.windows.length * 500 + t.leftover, 24783);
  for (const w of t.windows) for (const x of w.vector) assert.ok(Number.isFinite(x));
  // WebSearch is almost read-only (>99% reads): readRatio is component 0.
  for (const w of t.windows) assert.ok(w.vector[0]! > 0.95);
});

test('describeWindow: malformed columns are TypeErrors naming the field and what was expected', () => {
  const good = () => columns([0, 8, 16, 24], [512, 512, 512, 512]);
  const bad = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () => describeWindow({ ...good(), ...patch } as unknown as RequestWindow),
      (e: unknown) => e instanceof TypeError && re.test(e.message),
      String(re),
    );
  bad({ sector: [0, 8, 16, 24] }, /window\.sector must be a Float64Array, got an Array/);
  bad({ timeNs: new Float32Array(4) }, /window\.timeNs must be a Float64Array, got a Float32Array/);
  bad({ bytes: new Float64Array(4) }, /window\.bytes must be a Uint32Array, got a Float64Array/);
  bad({ op: new Uint8Array(4) }, /window\.op must be a Uint16Array, got a Uint8Array/);
  bad({ device: undefined }, /window\.device must be a Uint32Array, got undefined/);
  bad({ bytes: new Uint32Array(3) }, /window\.bytes has 3 elements, expected 4 \(the length of window\.timeNs\)/);
  bad({ completeNs: new Float64Array(5) }, /window\.completeNs has 5 elements, expected 4/);
  bad({ completeNs: [1, 2, 3, 4] }, /window\.completeNs must be a Float64Array, got an Array/);
  bad({ prevTimeNs: undefined }, /window\.prevTimeNs must be a number \(NaN at the stream start\), got undefined/);
  bad({ timeNs: new Float64Array(0) }, /the window is empty/);
  const addon = native();
  assert.throws(
    () => addon.describeWindow(good(), new Float64Array(3)),
    (e: unknown) => e instanceof TypeError && new RegExp(`out has 3 elements, needs ${WINDOW_SLOTS.length}`).test(e.message),
  );
  assert.throws(
    () => addon.describeWindow(good(), [0]),
    (e: unknown) => e instanceof TypeError && /out must be a Float64Array, got an Array/.test(e.message),
  );
  assert.throws(
    () => addon.describeWindow(42, new Float64Array(WINDOW_SLOTS.length)),
    (e: unknown) => e instanceof TypeError && /window must be an object, got a number/.test(e.message),
  );
  const perIo = {
    logIat: new Float64Array(4),
    logOffset: new Float64Array(4),
    logSize: new Float64Array(4),
    isRead: new Uint8Array(4),
    device: new Uint32Array(2),
  };
  assert.throws(
    () => addon.describeWindow(good(), new Float64Array(WINDOW_SLOTS.length), perIo),
    (e: unknown) => e instanceof TypeError && /perIo\.device has 2 elements, expected 4/.test(e.message),
  );
});

test("requests beyond the reuse table's range raise SSDTUNE_ML_NONFINITE naming the request", async () => {
  // floor(sector / 8) must stay below 2^41 (sector < 2^44).
  const far = columns([0, 2 ** 44, 8], [512, 512, 512]);
  assert.throws(
    () => describeWindow(far),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE') && /^window 0: .*reuse key of request 1: sector 17592186044416/.test((e as Error).message),
  );
  assert.equal(describeWindow(columns([0, 2 ** 44 - 1], [512, 512])).requests, 2);
  // Through describeTrace the error names the trace, the window and the request within its stream.
  await assert.rejects(
    describeTrace(
      (async function* () {
        yield batch([
          [0, 0, 512, R],
          [1, 8, 512, R],
          [2, 2 ** 44, 512, R],
          [3, 0, 512, R],
        ]);
      })(),
      { size: 2, source: 'far.trace' },
    ),
    (e: unknown) =>
      isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE') &&
      /^far\.trace: window 1 \(request 2\): .*reuse key of request 2: sector 17592186044416/.test((e as Error).message),
  );
  // 4096 distinct devices in one window.
  const many = columns(
    Array.from({ length: 4097 }, () => 0),
    Array.from({ length: 4097 }, () => 512),
  );
  many.device.forEach((_, i) => (many.device[i] = i));
  assert.throws(
    () => describeWindow(many),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_ML_NONFINITE') && /request 4096: .*device count 4097/.test((e as Error).message),
  );
});

test("windower: every window holds exactly its stream's requests (real traces, block and per-request copies)", async () => {
  for (const [file, size, splitByDevice] of [
    ['traces/mqsim_wsrch-small.trace', 700, true],
    ['traces/mqsim_wsrch-small.trace', 3000, false],
    ['traces/blkparse_hadoop_writeback_apress.txt', 1000, false],
    ['traces/tencent_cbs_sample50k.csv.bz2', 50, true],
  ] as const) {
    const all = await collect(await openTrace(path.resolve(file)));
    const byStream = new Map<number, number[]>();
    for (let i = 0; i < all.length; i++) {
      const key = splitByDevice ? all.device[i]! : -1;
      if (!byStream.has(key)) byStream.set(key, []);
      byStream.get(key)!.push(i);
    }
    const w = new Windower({ size, splitByDevice });
    let windows = 0;
    // Uneven batches, so that windows straddle batch boundaries.
    for (let o = 0, b = 777; o < all.length; o += b, b = ((b * 7) % 5003) + 1) {
      const e = Math.min(all.length, o + b);
      const part = batchRows(all, o, e);
      w.feed(part, (win) => {
        windows++;
        const idx = byStream.get(win.stream)!.slice(win.index * size, (win.index + 1) * size);
        assert.equal(win.firstRequest, win.index * size);
        assert.equal(win.prevTimeNs, win.index === 0 ? NaN : all.timeNs[byStream.get(win.stream)![win.index * size - 1]!]);
        const cols = [
          ['timeNs', all.timeNs],
          ['sector', all.sector],
          ['bytes', all.bytes],
          ['op', all.op],
          ['device', all.device],
          ...(all.completeNs ? [['completeNs', all.completeNs] as const] : []),
        ] as const;
        for (const [name, src] of cols)
          assert.deepEqual(
            [...win[name]!],
            idx.map((i) => src[i]!),
            `${file} stream ${win.stream} window ${win.index} ${name}`,
          );
      });
    }
    let expected = 0;
    for (const idx of byStream.values()) expected += Math.floor(idx.length / size);
    assert.equal(windows, expected, file);
    assert.equal(w.leftover, all.length - expected * size);
  }
});
