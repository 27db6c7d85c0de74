/**
 * The similarity network (LearnedSSD part 5): a small Siamese embedding
 * network in TensorFlow.js over standardised window descriptor vectors.
 * Two windows are "the same kind of workload" when their embeddings are
 * close. Both branches of the Siamese pair share the one network below, so
 * only it is stored.
 *
 * Architecture: Dense(h, relu) -> Dense(e); the output is L2-normalised
 * outside the model (tfjs has no serialisable Lambda layer), so embedding
 * distances lie in [0, 2].
 *
 * Training: batch-hard triplet loss (Hermans et al. 2017): each batch holds
 * P workloads x K samples (a sample: the renormalised mean embedding of a run
 * of consecutive windows, as a query is embedded); for every anchor the
 * farthest same-workload sample and the nearest other-workload sample form the triplet,
 * loss = mean(max(0, d(a,p) - d(a,n) + margin)). All randomness (initial
 * weights, batch draws) comes from the seed.
 *
 * Backend: WebAssembly (tfjs-backend-wasm, binaries loaded from
 * node_modules); the plain JS 'cpu' backend only if wasm cannot start.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ERR_ML_DEGENERATE } from '../errors.js';
import { assertFiniteVector } from '../features/descriptors.js';
import { randInt, seededRng } from './rng.js';

let backendReady: Promise<string> | undefined;

/** Select the wasm backend once per process; returns the backend in use. */
export function initBackend(): Promise<string> {
  backendReady ??= (async () => {
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return tf.getBackend();
      }
      throw new Error('setBackend returned false');
    } catch (e) {
      process.emitWarning(`tfjs wasm backend could not start (${(e as Error).message}); using the slower 'cpu' backend`, { code: 'SSDTUNE_TF_BACKEND' });
      await tf.setBackend('cpu');
      await tf.ready();
      return tf.getBackend();
    }
  })();
  return backendReady;
}

export interface EmbedderShape {
  inputDim: number;
  hidden: number;
  embedding: number;
}

export function buildEmbedder(shape: EmbedderShape, seed: number): tf.Sequential {
  const m = tf.sequential({ name: 'workload_embedder' });
  m.add(
    tf.layers.dense({
      inputShape: [shape.inputDim],
      units: shape.hidden,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      name: 'hidden',
    }),
  );
  m.add(tf.layers.dense({ units: shape.embedding, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), name: 'embedding' }));
  return m;
}

/** L2-normalised embeddings of standardised rows. */
export function embed(model: tf.LayersModel, rows: readonly number[][]): number[][] {
  if (rows.length === 0) return [];
  const out = tf.tidy(() => {
    const e = model.predict(tf.tensor2d(rows as number[][], undefined, 'float32')) as tf.Tensor2D;
    return tf.div(e, tf.maximum(tf.norm(e, 'euclidean', 1, true), 1e-12));
  });
  const arr = out.arraySync() as number[][];
  out.dispose();
  for (const r of arr) assertFiniteVector(r, 'similarity embedding');
  return arr;
}

export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s);
}

/** Mean of embeddings, renormalised to unit length: a workload's centre on the sphere. */
export function centroid(embeddings: readonly number[][]): number[] {
  if (embeddings.length === 0) throw ERR_ML_DEGENERATE('centroid of no windows');
  const c = new Array<number>(embeddings[0]!.length).fill(0);
  for (const e of embeddings) for (let j = 0; j < c.length; j++) c[j]! += e[j]!;
  const n = Math.hypot(...c);
  return n > 1e-12 ? c.map((x) => x / n) : c.map((x) => x / embeddings.length);
}

export interface TrainOptions {
  seed: number;
  /** Optimisation steps. */
  steps: number;
  /** Workloads per batch (P) and samples per workload (K). */
  classesPerBatch: number;
  windowsPerClass: number;
  /**
   * Windows per sample: a sample is `run` consecutive windows of one stream,
   * embedded, averaged and renormalised, the way identification embeds a
   * query (identify.ts). 1: single windows.
   */
  run: number;
  margin: number;
  learningRate: number;
  /** Called every `every` steps with the mean loss since the last call. */
  onLoss?: (step: number, loss: number) => void;
  every?: number;
}

/** Standardised windows of one stream, in time order, and its workload label (0..C-1). */
export interface LabelledStream {
  label: number;
  rows: readonly number[][];
}

function batchHardLoss(emb: tf.Tensor2D, labels: tf.Tensor1D, margin: number): tf.Scalar {
  const n = emb.shape[0];
  // Squared distances via the Gram matrix; clamp at a small positive value so sqrt has a gradient.
  const sqn = tf.sum(tf.square(emb), 1, true);
  const d2 = tf.add(tf.sub(sqn, tf.mul(2, tf.matMul(emb, emb, false, true))), tf.transpose(sqn));
  const d = tf.sqrt(tf.maximum(d2, 1e-12));
  const same = tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0));
  const eye = tf.cast(tf.eye(n), 'bool');
  const pos = tf.cast(tf.logicalAnd(same, tf.logicalNot(eye)), 'float32');
  const neg = tf.cast(tf.logicalNot(same), 'float32');
  const hardestPos = tf.max(tf.mul(d, pos), 1);
  const hardestNeg = tf.min(tf.add(d, tf.mul(tf.sub(1, neg), 1e3)), 1);
  return tf.mean(tf.relu(tf.add(tf.sub(hardestPos, hardestNeg), margin))) as tf.Scalar;
}

const normalise = (e: tf.Tensor) => tf.div(e, tf.maximum(tf.norm(e, 'euclidean', -1, true), 1e-12));

/**
 * Train `model` on labelled streams. Each step draws P workloads and K
 * samples of each (a stream of the workload drawn in proportion to its
 * windows, then `run` consecutive windows of it; a stream shorter than `run`
 * gives its windows drawn with replacement). Needs at least two workloads
 * with at least two windows each.
 */
export function trainEmbedder(model: tf.Sequential, streams: readonly LabelledStream[], o: TrainOptions): number[] {
  const byClass = new Map<number, LabelledStream[]>();
  for (const s of streams) {
    if (s.rows.length === 0) continue;
    const g = byClass.get(s.label) ?? [];
    g.push(s);
    byClass.set(s.label, g);
  }
  const size = (c: number) => byClass.get(c)!.reduce((n, s) => n + s.rows.length, 0);
  const classes = [...byClass.keys()].filter((c) => size(c) >= 2).sort((a, b) => a - b);
  if (classes.length < 2) throw ERR_ML_DEGENERATE(`triplet training needs >= 2 workloads with >= 2 windows each, got ${classes.length}`);
  const rng = seededRng(o.seed);
  const opt = tf.train.adam(o.learningRate);
  const P = Math.min(o.classesPerBatch, classes.length);
  const run = Math.max(1, o.run);
  const losses: number[] = [];
  let acc = 0;
  let accN = 0;
  const every = o.every ?? 50;
  const sample = (c: number, xb: number[][]) => {
    const ss = byClass.get(c)!;
    let k = randInt(rng, size(c));
    let s = ss[0]!;
    for (const x of ss) {
      if (k < x.rows.length) {
        s = x;
        break;
      }
      k -= x.rows.length;
    }
    if (s.rows.length >= run) {
      const start = randInt(rng, s.rows.length - run + 1);
      for (let i = 0; i < run; i++) xb.push(s.rows[start + i]!);
    } else for (let i = 0; i < run; i++) xb.push(s.rows[randInt(rng, s.rows.length)]!);
  };
  for (let step = 1; step <= o.steps; step++) {
    // Draw P distinct workloads, K samples of `run` windows each.
    const pool = classes.slice();
    const xb: number[][] = [];
    const yb: number[] = [];
    for (let p = 0; p < P; p++) {
      const c = pool.splice(randInt(rng, pool.length), 1)[0]!;
      for (let k = 0; k < o.windowsPerClass; k++) {
        sample(c, xb);
        yb.push(c);
      }
    }
    const lossT = opt.minimize(
      () =>
        tf.tidy(() => {
          const e = normalise(model.apply(tf.tensor2d(xb, undefined, 'float32'), { training: true }) as tf.Tensor2D);
          const samples = normalise(tf.mean(tf.reshape(e, [yb.length, run, -1]), 1)) as tf.Tensor2D;
          return batchHardLoss(samples, tf.tensor1d(yb, 'int32'), o.margin);
        }),
      true,
    )!;
    const loss = lossT.dataSync()[0]!;
    lossT.dispose();
    if (!Number.isFinite(loss)) throw ERR_ML_DEGENERATE(`training diverged: loss ${loss} at step ${step}`);
    acc += loss;
    accN++;
    if (step % every === 0 || step === o.steps) {
      losses.push(acc / accN);
      o.onLoss?.(step, acc / accN);
      acc = 0;
      accN = 0;
    }
  }
  opt.dispose();
  return losses;
}
