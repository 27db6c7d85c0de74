/**
 * The packed nearest-workload scan (src/ml/known-workloads.ts) against the
 * per-workload scan it replaced, on real stored workloads: the same answers
 * (kind, nearest, distances, votes, candidates, confidence). And the fleet's
 * cache that keeps them packed while it follows the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfDB } from '../src/confdb/db.js';
import { describeTrace, windowStreams } from '../src/ml/characterise.js';
import { sameWorkloadProbability } from '../src/ml/calibration.js';
import {
  chunkRanges,
  embedWindows,
  identify,
  knownByVote,
  profileWorkload,
  signatureOf,
  thresholdOf,
  type Candidate,
  type EmbeddedStreams,
  type Identification,
  type KnownWorkload,
  type Method,
  type WindowStreams,
} from '../src/ml/identify.js';
import { KnownWorkloads } from '../src/ml/known-workloads.js';
import { loadSimilarityModel, type SimilarityInfo, type SimilarityModel } from '../src/ml/model-io.js';
import { distance } from '../src/ml/similarity.js';
import { profileSplit } from '../src/ml/split.js';
import { openTrace } from '../src/readers/registry.js';
import { FollowingWorkloadStore, workloadRecord } from '../src/service/workload-store.js';
import { tempDir } from '../src/util/temp-dir.js';

/**
 * The decision as src/ml/identify.ts made it before the packed scan (main at
 * 9845e7f): every stored workload's distance to every chunk, in order, one
 * array per chunk, the median per workload over the chunks. Kept here as the
 * oracle the packed scan must agree with.
 */
/** Chunk-workload pairs the oracle's intensity rule kept from being a chunk's nearest: the rule must bite in these tests. */
let rateExcluded = 0;

function identifyBefore(
  m: SimilarityInfo,
  streams: WindowStreams,
  embedded: EmbeddedStreams,
  known: readonly KnownWorkload[],
  method: Method,
  maxCandidates = 5,
): Identification {
  const windows = streams.reduce((n, s) => n + s.length, 0);
  const nStreams = streams.filter((s) => s.length > 0).length;
  const all = streams.flat();
  const mean = Array.from(all[0]!, (_, j) => all.reduce((a, w) => a + w[j]! / all.length, 0));
  const same = known.find(
    (k) => k.descriptors.length === mean.length && k.descriptors.every((v, j) => Math.abs(v - mean[j]!) <= 1e-9 * Math.max(1, Math.abs(v))),
  );
  if (same) {
    const hit = { id: same.id, name: same.name, distance: 0 };
    const threshold = thresholdOf(m, method);
    return {
      kind: 'known',
      method,
      nearest: hit,
      distance: 0,
      threshold,
      confidence: 1,
      windows,
      streams: nStreams,
      chunks: 0,
      votes: {},
      candidates: [hit],
      exact: true,
    };
  }
  const sig = (s: number, a: number, b: number) => signatureOf(m, streams[s]!.slice(a, b), embedded[s]!.slice(a, b));
  const workloadDistance = (g: ReturnType<typeof sig>, k: KnownWorkload) => {
    if (method === 'pca') return distance(g.pcaCentre, k.pcaCentre);
    let d = distance(g.centroidEmbedding, k.centroidEmbedding);
    for (const c of k.modes ?? []) d = Math.min(d, distance(g.centroidEmbedding, c));
    return d;
  };
  // The intensity rule (added after 9845e7f): a chunk's nearest is among the workloads whose gap range, widened by the
  // model's factor either way, holds the chunk's mean gap; the medians and candidates are over every workload.
  const factor = m.meta.intensityFactor ?? 0;
  const rateFits = (g: ReturnType<typeof sig>, k: KnownWorkload) =>
    !(factor > 0) || !k.arrivalGapUs || (g.gapUs >= k.arrivalGapUs[0] / factor && g.gapUs <= k.arrivalGapUs[1] * factor);
  const nearestOf = (g: ReturnType<typeof sig>) => {
    let nearest: KnownWorkload | undefined;
    let best = Infinity;
    const all = new Float64Array(known.length).fill(NaN);
    known.forEach((k, i) => {
      if (k.comparable === false) return;
      const d = workloadDistance(g, k);
      all[i] = d;
      if (!rateFits(g, k)) {
        rateExcluded++;
        return;
      }
      if (d < best) {
        best = d;
        nearest = k;
      }
    });
    return { nearest, distance: best, all };
  };
  const median = (x: readonly number[]) => {
    const s = x.slice().sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const decide = (outcomes: ReturnType<typeof nearestOf>[]): Identification => {
    const threshold = thresholdOf(m, method);
    const curve = method === 'network' ? m.meta.confidence : m.meta.pcaConfidence;
    const votes: Record<string, number> = {};
    for (const o of outcomes) {
      const key = o.nearest && o.distance <= threshold ? o.nearest.id : 'new';
      votes[key] = (votes[key] ?? 0) + 1;
    }
    const [top, topVotes] = Object.entries(votes).sort((a, b) => b[1] - a[1])[0]!;
    const isKnown = top !== 'new' && knownByVote(topVotes, outcomes.length);
    const med = known.map((_, i) => (outcomes.length ? median(outcomes.map((o) => o.all[i]!)) : NaN));
    const order = known
      .map((_, i) => i)
      .filter((i) => !Number.isNaN(med[i]!))
      .sort((a, b) => med[a]! - med[b]! || a - b);
    const candidate = (i: number): Candidate => ({ id: known[i]!.id, name: known[i]!.name, distance: med[i]! });
    const ranked = order.slice(0, Math.max(1, maxCandidates)).map(candidate);
    const voted = isKnown ? known.findIndex((k) => k.id === top) : -1;
    const nearest = isKnown ? candidate(voted) : ranked[0];
    const p = outcomes.map((o) => sameWorkloadProbability(curve, o.distance));
    const confidence = isKnown
      ? outcomes.reduce((s, o, i) => s + (o.nearest?.id === top ? p[i]! : 0), 0) / outcomes.length
      : p.reduce((s, x) => s + (1 - x), 0) / outcomes.length;
    return {
      kind: isKnown ? 'known' : 'new',
      method,
      ...(nearest ? { nearest } : {}),
      distance: nearest?.distance ?? Infinity,
      threshold,
      confidence,
      windows,
      streams: nStreams,
      chunks: outcomes.length,
      votes,
      candidates: ranked.slice(0, maxCandidates),
    };
  };
  const ranges = chunkRanges(
    streams.map((s) => s.length),
    m.meta.queryWindows,
  );
  if (ranges.length === 0) {
    const r = decide(streams.flatMap((w, s) => (w.length > 0 ? [nearestOf(sig(s, 0, w.length))] : [])));
    const { nearest: _answer, ...rest } = r;
    const nearest = r.candidates[0];
    return { ...rest, kind: 'new', ...(nearest ? { nearest } : {}), distance: nearest?.distance ?? Infinity, confidence: 0, chunks: 0, votes: {}, short: true };
  }
  return decide(ranges.map(([s, a, b]) => nearestOf(sig(s, a, b))));
}

/** Deterministic draws. */
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return { u, normal: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) };
}
const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

const TRACES = [
  'fio_oltp.trace.xz',
  'fio_log-append.trace.xz',
  'fio_backup-seqread.trace.xz',
  'fio_webcache-randread.trace.xz',
  'fio_fileserver.trace.xz',
  'fio_mixed-size-randread.trace.xz',
  'msr_hm_0_sample1000.csv',
  'mqsim_wsrch-small.trace',
  'msps_msnfs_30s.trace',
  'cloudphysics_vscsi_sample.csv',
];

interface RealStream {
  name: string;
  windows: Float64Array[];
  emb: number[][];
}

let model: SimilarityModel;
const real: RealStream[] = [];
async function loadReal(): Promise<void> {
  if (real.length) return;
  model = await loadSimilarityModel(path.resolve('models/similarity'));
  for (const t of TRACES) {
    const d = await describeTrace(await openTrace(path.resolve('traces', t)), { size: model.meta.windowSize, splitByDevice: true });
    windowStreams(d).forEach((s, i) => {
      if (s.windows.length >= 2 * model.meta.queryWindows) real.push({ name: `${t}#${i}`, windows: s.windows, emb: embedWindows(model, s.windows) });
    });
  }
}

/**
 * A store of real workloads (profiled from the beginnings of the bundled
 * traces' streams, phases included) among near copies of them (the same
 * workload reported again with noise, some exact duplicates: ties), foreign
 * profiles and random points, 3,000 in all, in a shuffled order.
 */
function realStore(): KnownWorkload[] {
  const r = rng(7);
  const base = real.map((s) => {
    const p = profileSplit(s.windows.map((w, i) => ({ w, e: s.emb[i]! }))).profile;
    return profileWorkload(model, s.name, s.name, [p.map((x) => x.w)], [p.map((x) => x.e)]);
  });
  assert.ok(
    base.some((k) => k.modes && k.modes.length >= 2),
    'some real profiles have phases',
  );
  const jitter = (v: number[], sd: number) => unit(v.map((x) => x + sd * r.normal()));
  const out: KnownWorkload[] = [...base];
  base.forEach((k, i) => {
    for (let c = 0; c < 12; c++) {
      const sd = [0.005, 0.02, 0.05, 0.1][c % 4]!;
      // A third seen at the workload's rates, a third 30x slower, a third 30x faster (the intensity rule bites).
      const pace = [1, 30, 1 / 30][Math.floor(c / 4)]!;
      out.push({
        ...k,
        id: `${k.id}~${c}`,
        ...(k.arrivalGapUs ? { arrivalGapUs: [k.arrivalGapUs[0] * pace, k.arrivalGapUs[1] * pace] } : {}),
        centroidEmbedding: jitter(k.centroidEmbedding, sd),
        ...(k.modes ? { modes: k.modes.map((e) => jitter(e, sd)) } : {}),
        pcaCentre: k.pcaCentre.map((x) => x + sd * r.normal()),
        descriptors: k.descriptors.map((x) => x * (1 + sd)),
      });
    }
    out.push({ ...k, id: `${k.id}=dup`, descriptors: k.descriptors.map((x) => x + 1) });
    if (i % 3 === 0) out.push({ ...k, id: `${k.id}=foreign`, comparable: false, descriptors: k.descriptors.map((x) => x + 2) });
  });
  const dim = model.meta.shape.embedding;
  while (out.length < 3000) {
    out.push({
      id: `random${out.length}`,
      name: `random${out.length}`,
      centroidEmbedding: unit(Array.from({ length: dim }, () => r.normal())),
      pcaCentre: [r.normal(), r.normal()],
      descriptors: Array.from({ length: base[0]!.descriptors.length }, () => r.u()),
      // Half with a range of gaps somewhere between 1 µs and 10 s, half without (a profile of an earlier version).
      ...(out.length % 2 ? { arrivalGapUs: ((lo: number): [number, number] => [lo, 10 * lo])(10 ** (6 * r.u())) } : {}),
    });
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r.u() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Two answers agree: the same decision and nearest, the same distances (to 1e-9), votes, candidates and confidence. */
function assertSame(got: Identification, want: Identification, what: string): void {
  const near = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9;
  assert.equal(got.kind, want.kind, what);
  assert.equal(got.nearest?.id, want.nearest?.id, what);
  assert.ok(near(got.distance, want.distance), `${what}: distance ${got.distance} vs ${want.distance}`);
  assert.deepEqual(got.votes, want.votes, what);
  assert.deepEqual(
    got.candidates.map((c) => c.id),
    want.candidates.map((c) => c.id),
    what,
  );
  got.candidates.forEach((c, i) => assert.ok(near(c.distance, want.candidates[i]!.distance), `${what}: candidate ${c.id}`));
  assert.ok(near(got.confidence, want.confidence), `${what}: confidence ${got.confidence} vs ${want.confidence}`);
  assert.equal(got.chunks, want.chunks, what);
  assert.equal(got.short, want.short, what);
  assert.equal(got.exact, want.exact, what);
}

test('the packed scan answers exactly as the per-workload scan did, on real stored workloads', async () => {
  await loadReal();
  const stored = realStore();
  const store = { known: async () => KnownWorkloads.of(stored) };
  const q = model.meta.queryWindows;
  let asked = 0;
  let known = 0;
  let identical = 0;
  for (const s of real) {
    const later = profileSplit(s.windows.map((w, i) => ({ w, e: s.emb[i]! }))).later;
    // A fleet report (2 chunks), one chunk, many chunks (an odd and an even count), and fewer windows than a chunk.
    for (const n of [2 * q, q, 7 * q, 10 * q, q - 1]) {
      for (let at = 0; at + n <= later.length; at += Math.max(n, Math.floor(later.length / 3))) {
        const part = later.slice(at, at + n);
        const streams = [part.map((x) => x.w)];
        const embedded = [part.map((x) => x.e)];
        for (const method of ['network', 'pca'] as const) {
          for (const candidates of [5, 1]) {
            const want = identifyBefore(model, streams, embedded, stored, method, candidates);
            const got = await identify(model, streams, store, { method, candidates, embedded });
            assertSame(got, want, `${s.name} windows ${at}+${n} ${method} candidates ${candidates}`);
            asked++;
            if (got.kind === 'known') known++;
            if (got.distance === want.distance && got.candidates.every((c, i) => c.distance === want.candidates[i]!.distance)) identical++;
          }
        }
      }
    }
  }
  // The very windows a stored workload was profiled from: known outright, whatever model stored it.
  for (const s of [real[1]!, real[4]!]) {
    const p = profileSplit(s.windows.map((w, i) => ({ w, e: s.emb[i]! }))).profile;
    const streams = [p.map((x) => x.w)];
    const embedded = [p.map((x) => x.e)];
    const got = await identify(model, streams, store, { embedded });
    assertSame(got, identifyBefore(model, streams, embedded, stored, 'network'), `${s.name} exact`);
    assert.equal(got.exact, true);
  }
  // A query spanning two streams (as identify asks of a whole trace).
  const two = [real[0]!, real[3]!].map((s) => ({ w: s.windows.slice(-3 * q), e: s.emb.slice(-3 * q) }));
  const want = identifyBefore(
    model,
    two.map((x) => x.w),
    two.map((x) => x.e),
    stored,
    'network',
  );
  assertSame(
    await identify(
      model,
      two.map((x) => x.w),
      store,
      { embedded: two.map((x) => x.e) },
    ),
    want,
    'two streams',
  );
  assert.ok(asked > 300 && known > asked / 10, `${asked} queries, ${known} known: both answers asked`);
  assert.ok((model.meta.intensityFactor ?? 0) > 0 && rateExcluded > 1000, `the intensity rule kept ${rateExcluded} chunk-workload pairs apart`);
  // Not only within 1e-9: the scan sums in the same order, so the distances are the very same numbers.
  assert.equal(identical, asked);
});

test('a crowd of workloads at nearly equal distances from a 2-chunk report: the same answers', async () => {
  // The pruning bounds are tested where they bite: hundreds of workloads whose medians and per-chunk
  // distances differ in the last digits, exact duplicates among them, the candidates decided among them.
  await loadReal();
  const r = rng(11);
  const q = model.meta.queryWindows;
  const excludedBefore = rateExcluded;
  for (const s of [real[0]!, real[2]!, real[6]!]) {
    const streams = [s.windows.slice(0, 2 * q)];
    const embedded = [s.emb.slice(0, 2 * q)];
    const c = [0, 1].map((k) => signatureOf(model, streams[0]!.slice(k * q, (k + 1) * q), embedded[0]!.slice(k * q, (k + 1) * q)));
    const stored: KnownWorkload[] = [];
    for (let i = 0; i < 1500; i++) {
      const a = r.u();
      const eps = [0, 1e-12, 1e-6, 0.01, 0.05][i % 5]!;
      const e = unit(c[0]!.centroidEmbedding.map((x, j) => a * x + (1 - a) * c[1]!.centroidEmbedding[j]! + eps * r.normal()));
      const w: KnownWorkload = {
        id: `crowd${i}`,
        name: `crowd${i}`,
        centroidEmbedding: e,
        pcaCentre: c[0]!.pcaCentre.map((x, j) => a * x + (1 - a) * c[1]!.pcaCentre[j]! + eps * r.normal()),
        descriptors: [i],
        // A quarter seen far slower than either chunk, a quarter at chunk 0's gap exactly, half with no range.
        ...(i % 4 === 1
          ? { arrivalGapUs: [1e12, 1e12] as [number, number] }
          : i % 4 === 2
            ? { arrivalGapUs: [c[0]!.gapUs, c[0]!.gapUs] as [number, number] }
            : {}),
      };
      stored.push(w);
      if (i % 7 === 0) stored.push({ ...w, id: `crowd${i}=dup` });
    }
    // A ring around chunk 0's centroid at nearly one distance, turned away from chunk 1's (large medians,
    // out of the candidates, competing for chunk 0's nearest) and, stored last (scanned first), towards it;
    // asked alone too (in the crowd, rows nearer chunk 0 decide its nearest).
    const ring: KnownWorkload[] = [];
    const dot = (a: number[], b: number[]) => a.reduce((t, x, j) => t + x * b[j]!, 0);
    const minus = (a: number[], b: number[], k: number) => a.map((x, j) => x - k * b[j]!);
    for (const [at, other] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const c0 = c[at]!.centroidEmbedding;
      const c1 = c[other]!.centroidEmbedding;
      const v = unit(minus(c1, c0, dot(c1, c0)));
      const perp = unit(((g: number[]) => minus(minus(g, c0, dot(g, c0)), v, dot(g, v)))(c0.map(() => r.normal())));
      for (const toward of [false, true]) {
        for (let i = 0; i < 200; i++) {
          const d = 0.05 * (1 + 1e-4 * r.u());
          const phi = (toward ? 1 : -1) * (Math.PI / 2) * r.u();
          const e = unit(c0.map((x, j) => x + d * (Math.cos(phi) * perp[j]! + Math.sin(phi) * v[j]!)));
          ring.push({
            id: `ring${at}${toward ? '+' : '-'}${i}`,
            name: 'ring',
            // A third with phases: one far, one the ring point itself (the workload's distance is its nearest row's).
            centroidEmbedding: i % 3 ? e : unit(e.map(() => r.normal())),
            ...(i % 3 ? {} : { modes: [unit(e.map(() => r.normal())), e] }),
            pcaCentre: c[at]!.pcaCentre.map((x) => x + d * r.normal()),
            descriptors: [-1 - i - 1000 * at],
            ...(i % 5 === 0 ? { arrivalGapUs: [1e-3, 1e-3] as [number, number] } : {}),
          });
        }
      }
    }
    for (const [what, set] of [
      ['crowd', [...stored, ...ring]],
      ['ring', ring],
      ['ring without phases', ring.map(({ modes: _phases, ...w }) => w)],
    ] as const) {
      for (const method of ['network', 'pca'] as const) {
        // The report's 2 chunks, and its first chunk alone.
        for (const [w, e] of [
          [streams, embedded],
          [[streams[0]!.slice(0, q)], [embedded[0]!.slice(0, q)]],
        ] as const) {
          for (const candidates of [1, 5, 40]) {
            const got = await identify(model, w, { known: async () => KnownWorkloads.of(set) }, { method, candidates, embedded: e });
            assertSame(
              got,
              identifyBefore(model, w, e, set, method, candidates),
              `${s.name} ${what} ${method} ${w[0]!.length} windows, candidates ${candidates}`,
            );
          }
        }
      }
    }
  }
  assert.ok(rateExcluded > excludedBefore, "the intensity rule kept some of the crowd from being a chunk's nearest");
});

test('ties go to the earlier stored workload, whatever order the scan runs in', async () => {
  await loadReal();
  const s = real[0]!;
  const k = profileWorkload(model, 'a', 'a', [s.windows], [s.emb]);
  const stored = ['first', 'second', 'third'].map((id, i) => ({ ...k, id, name: id, descriptors: k.descriptors.map((x) => x + i + 1) }));
  const streams = [s.windows.slice(0, 8)];
  const embedded = [s.emb.slice(0, 8)];
  for (const method of ['network', 'pca'] as const) {
    const got = await identify(model, streams, { known: async () => KnownWorkloads.of(stored) }, { method, embedded, candidates: 2 });
    assertSame(got, identifyBefore(model, streams, embedded, stored, method, 2), method);
    assert.deepEqual(
      got.candidates.map((c) => c.id),
      ['first', 'second'],
    );
  }
});

test("the fleet's cache keeps the stored workloads packed as it follows the store, and takes in its own writes", async () => {
  await loadReal();
  const db = await ConfDB.open(tempDir('ssdtune-scan-follow-'));
  try {
    const ws = model.meta.windowSize;
    const cache = new FollowingWorkloadStore(ws, model.id);
    const rec = (k: KnownWorkload) =>
      workloadRecord(k, { name: k.name, source: { paths: [], format: 'test', requests: 0 }, windowSize: ws, ...(model.id ? { modelId: model.id } : {}) });
    const all = realStore().slice(0, 400);
    const same = async (what: string) => {
      const packed = await cache.known(db);
      const fresh = KnownWorkloads.of((await db.workloadsWithWindow(ws)).map((w) => all.find((k) => k.id === w.id)!));
      assert.deepEqual(new Set(packed.items.map((k) => k.id)), new Set(fresh.items.map((k) => k.id)), what);
      const s = real[5]!;
      const streams = [s.windows.slice(0, 8)];
      const embedded = [s.emb.slice(0, 8)];
      const a = await identify(model, streams, { known: async () => packed }, { embedded });
      assertSame(a, identifyBefore(model, streams, embedded, packed.items, 'network'), what);
    };
    // Added in batches: appended to what is packed.
    for (let i = 0; i < all.length; i += 150) {
      await db.batch(all.slice(i, i + 150).map((k) => ({ kind: 'workloads' as const, type: 'put' as const, value: rec(k) })));
      await same(`after ${i + 150}`);
    }
    const before = await cache.known(db);
    const more = { ...all[1]!, id: 'one-more', name: 'one-more' };
    all.push(more);
    await db.put('workloads', rec(more));
    assert.equal(await cache.known(db), before, 'a new workload is appended to the same packing');
    assert.equal(before.items.at(-1)!.id, 'one-more');
    await same('one more');
    // Its own conditional write (a registration) is taken in without a read; one at a generation it does not hold is not.
    const g = cache.held()!.generation;
    const own = { ...all[2]!, id: 'own', name: 'own' };
    all.push(own);
    const to = await db.batchIfUnchanged('workloads', g, [{ kind: 'workloads', type: 'put', value: rec(own) }]);
    cache.wrote(rec(own), g, to!);
    assert.equal(cache.held()!.generation, to);
    assert.equal(cache.held()!.known.items.at(-1)!.id, 'own');
    await same('its own write');
    const other = { ...all[4]!, id: 'other', name: 'other' };
    const late = { ...all[6]!, id: 'late', name: 'late' };
    all.push(other, late);
    await db.put('workloads', rec(other));
    const g2 = await db.generation('workloads');
    cache.wrote(rec(late), g2, (await db.batchIfUnchanged('workloads', g2, [{ kind: 'workloads', type: 'put', value: rec(late) }]))!);
    assert.equal(cache.held()!.generation, to, "not taken in: the cache had not followed another process's write before it");
    await same('after another writer');
    // Rewritten (a workload moved far away) and deleted: packed again.
    const { modes: _phases, ...rest } = all[3]!;
    const moved = { ...rest, centroidEmbedding: rest.centroidEmbedding.map((x) => -x) };
    all[3] = moved;
    await db.put('workloads', rec(moved));
    await same('rewritten');
    assert.notEqual(await cache.known(db), before);
    await db.batch([{ kind: 'workloads', type: 'del', key: all[7]!.id }]);
    all.splice(7, 1);
    await same('deleted');
  } finally {
    await db.close();
  }
});
