/**
 * Rebuilds models/readahead: windows of synthetic access patterns (the
 * shapes KML distinguishes, at several request sizes and strides) and of the
 * repository's real MQSim trace, labelled by the readahead model's best class,
 * split 80/20; trains, reports held-out accuracy and the predicted-time cost
 * of its mistakes, saves the model and its metrics.
 *
 *   node dist/src/evaluators/readahead/train-readahead.js [--out DIR]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTrace } from '../../readers/registry.js';
import { PROJECT_ROOT } from '../../native.js';
import { collect, type TraceBatch } from '../../trace/model.js';
import { windowFeatures } from './kml-features.js';
import { CLASSES, DEFAULT_MODEL_DIR, LearnedReadahead, type Sample } from './learned-readahead.js';
import { chooseReadahead } from './readahead-search.js';
import { patternTrace, type Pattern } from './workloads.js';
import type { DeviceCost } from './readahead-model.js';
import { Rng } from '../../space/rng.js';

/** Labels are for an NVMe-class device: 40 us per request, 2 GB/s, 2 us per cached read. */
export const TRAINING_COST: DeviceCost = { requestUs: 40, bytesPerSec: 2e9, appRequestUs: 2 };
export const WINDOW = 256;

export function sliceBatch(b: TraceBatch, from: number, to: number): TraceBatch {
  return {
    length: to - from,
    timeNs: b.timeNs.slice(from, to),
    sector: b.sector.slice(from, to),
    bytes: b.bytes.slice(from, to),
    op: b.op.slice(from, to),
    device: b.device.slice(from, to),
    pid: b.pid.slice(from, to),
  };
}

/**
 * Features from the window, label from `steady` (the same access pattern
 * continued): the best readahead for a workload that looks like this window,
 * not for 256 requests from a cold start, where the ramp-up and the unused
 * tail of the last window dominate.
 */
function labelled(window: TraceBatch, currentRa: number, steady: TraceBatch = window): Sample & { seconds: number[] } {
  const choice = chooseReadahead(steady, { readAheadValues: CLASSES, cost: TRAINING_COST, tolerance: 0.02 });
  const seconds = CLASSES.map((c) => choice.table.find((r) => r.readAheadKb === c)!.seconds);
  return { features: windowFeatures(window, 0, window.length, currentRa), label: CLASSES.indexOf(choice.readAheadKb as (typeof CLASSES)[number]), seconds };
}

export async function buildDataset(seed = 42): Promise<(Sample & { seconds: number[]; source: string })[]> {
  const rng = new Rng(seed);
  const currents = [0, 16, 128, 512, 2048, 4096];
  const out: (Sample & { seconds: number[]; source: string })[] = [];
  const patterns: Pattern[] = ['sequential', 'strided', 'random', 'reverse'];
  const sizes = [4096, 16384, 65536, 262144];
  for (let rep = 0; rep < 12; rep++) {
    for (const pattern of patterns) {
      for (const size of sizes) {
        const stride = size * rng.pick([1.25, 2, 4, 16, 64]);
        const t = patternTrace({ pattern, count: 16 * WINDOW, requestBytes: size, strideBytes: stride, spanBytes: 4 * 2 ** 30, seed: 1 + rng.int(1e6) });
        out.push({ ...labelled(sliceBatch(t, 0, WINDOW), rng.pick(currents), t), source: `${pattern}/${size}` });
      }
    }
  }
  // Windows of a real trace (web search, MQSim format): reads only.
  const real = await collect(await openTrace(path.join(PROJECT_ROOT, 'traces', 'mqsim_wsrch-small.trace')));
  for (let from = 0; from + WINDOW <= real.length; from += WINDOW) {
    out.push({ ...labelled(sliceBatch(real, from, from + WINDOW), rng.pick(currents)), source: 'mqsim_wsrch' });
  }
  return rng.shuffle(out);
}

export async function trainAndSave(dir = DEFAULT_MODEL_DIR): Promise<LearnedReadahead> {
  const data = await buildDataset();
  const cut = Math.floor(data.length * 0.8);
  const train = data.slice(0, cut);
  const test = data.slice(cut);
  const model = await LearnedReadahead.train(train, { windowRequests: WINDOW });
  const pred = model.classify(test.map((s) => s.features));
  let correct = 0;
  let regret = 0;
  pred.forEach((c, i) => {
    const s = test[i]!;
    if (c === s.label) correct++;
    regret += s.seconds[c]! / s.seconds[s.label]! - 1;
  });
  const counts = CLASSES.map((_, k) => data.filter((s) => s.label === k).length);
  Object.assign(model.meta.metrics, {
    testSamples: test.length,
    testAccuracy: correct / test.length,
    testMeanExtraTime: regret / test.length,
    ...Object.fromEntries(CLASSES.map((c, k) => [`labels_${c}KiB`, counts[k]!])),
  });
  await model.save(dir);
  return model;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const dir = i > 0 ? path.resolve(process.argv[i + 1]!) : DEFAULT_MODEL_DIR;
  const m = await trainAndSave(dir);
  console.log(JSON.stringify(m.meta.metrics, null, 2));
  console.log(`saved to ${dir}`);
}
