/**
 * Learned readahead (Lynx / KML line; docs/tuning.md): a small TensorFlow.js
 * classifier from a window's KML features to the best read_ahead_kb class.
 * It is the fast path before a search on the `host` space: one forward pass
 * per window instead of simulating every candidate.
 *
 * Labels come from the readahead model (chooseReadahead over the classes,
 * smallest within 2% of the best, so random windows get the small class as in
 * KML). The model lives in models/readahead/ (model.json, weights.bin,
 * meta.json) with a model card; src/evaluators/readahead/train-readahead.ts rebuilds it.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERR_NOT_FOUND } from '../../errors.js';
import { PROJECT_ROOT } from '../../native.js';
import type { TraceBatch } from '../../trace/model.js';
import { FEATURE_NAMES, windowFeatures } from './kml-features.js';

/** read_ahead_kb classes (KML used 4 classes too: 8/8/320/480 KiB). */
export const CLASSES = [16, 128, 512, 2048] as const;

export const DEFAULT_MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'readahead');

export interface Sample {
  features: number[];
  /** Index into CLASSES. */
  label: number;
}

export interface ModelMeta {
  features: readonly string[];
  classes: readonly number[];
  mean: number[];
  std: number[];
  windowRequests: number;
  trainedAt: string;
  metrics: Record<string, number>;
}

function standardiser(samples: Sample[]): { mean: number[]; std: number[] } {
  const d = FEATURE_NAMES.length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const s of samples) s.features.forEach((v, j) => (mean[j]! += v / samples.length));
  for (const s of samples) s.features.forEach((v, j) => (std[j]! += (v - mean[j]!) ** 2 / samples.length));
  return { mean, std: std.map((v) => Math.sqrt(v) || 1) };
}

function buildNetwork(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [FEATURE_NAMES.length], units: 24, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tf.layers.dense({ units: 24, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  m.add(tf.layers.dense({ units: CLASSES.length, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

export class LearnedReadahead {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly meta: ModelMeta,
  ) {}

  static async train(samples: Sample[], opts: { epochs?: number; windowRequests: number }): Promise<LearnedReadahead> {
    await tf.setBackend('cpu');
    const { mean, std } = standardiser(samples);
    const x = tf.tensor2d(samples.map((s) => s.features.map((v, j) => (v - mean[j]!) / std[j]!)));
    const y = tf.tensor1d(
      samples.map((s) => s.label),
      'float32',
    );
    const model = buildNetwork();
    // No shuffling here: the trainer passes samples in a seeded random order, so a retrain is reproducible.
    const h = await model.fit(x, y, { epochs: opts.epochs ?? 80, batchSize: 64, shuffle: false, verbose: 0 });
    x.dispose();
    y.dispose();
    const acc = h.history.acc ?? h.history.accuracy;
    const meta: ModelMeta = {
      features: FEATURE_NAMES,
      classes: CLASSES,
      mean,
      std,
      windowRequests: opts.windowRequests,
      trainedAt: new Date().toISOString(),
      metrics: { trainSamples: samples.length, trainAccuracy: Number(acc?.at(-1) ?? NaN) },
    };
    return new LearnedReadahead(model, meta);
  }

  static async load(dir: string = DEFAULT_MODEL_DIR): Promise<LearnedReadahead> {
    await tf.setBackend('cpu');
    let topo: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
    let weights: Buffer;
    let meta: ModelMeta;
    try {
      topo = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
      weights = readFileSync(path.join(dir, 'weights.bin'));
      meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
    } catch (e) {
      throw ERR_NOT_FOUND(`learned readahead model in ${dir}: ${(e as Error).message} (rebuild: node dist/src/evaluators/readahead/train-readahead.js)`);
    }
    const ab = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: topo.modelTopology,
        weightSpecs: topo.weightsManifest.flatMap((g) => g.weights),
        weightData: ab,
      }),
    );
    return new LearnedReadahead(model, meta);
  }

  async save(dir: string = DEFAULT_MODEL_DIR): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await this.model.save(
      tf.io.withSaveHandler(async (a) => {
        writeFileSync(
          path.join(dir, 'model.json'),
          JSON.stringify({
            format: 'layers-model',
            generatedBy: `tfjs ${tf.version.tfjs}`,
            modelTopology: a.modelTopology,
            weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
          }) + '\n',
        );
        writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(this.meta, null, 2) + '\n');
  }

  /** Class probabilities for feature vectors. */
  probabilities(features: number[][]): number[][] {
    const { mean, std } = this.meta;
    return tf.tidy(() => {
      const x = tf.tensor2d(features.map((f) => f.map((v, j) => (v - mean[j]!) / std[j]!)));
      return (this.model.predict(x) as tf.Tensor).arraySync() as number[][];
    });
  }

  classify(features: number[][]): number[] {
    return this.probabilities(features).map((p) => p.indexOf(Math.max(...p)));
  }

  /**
   * read_ahead_kb for a trace: classify each window of `windowRequests`
   * reads and take the class that wins most windows (ties: the larger, as a
   * stream's windows outweigh its random seeks).
   */
  suggest(batch: TraceBatch, currentReadAheadKb = 128): { readAheadKb: number; votes: number[] } {
    const w = this.meta.windowRequests;
    const feats: number[][] = [];
    for (let from = 0; from < batch.length; from += w) feats.push(windowFeatures(batch, from, Math.min(batch.length, from + w), currentReadAheadKb));
    const votes = new Array<number>(CLASSES.length).fill(0);
    for (const c of this.classify(feats)) votes[c]!++;
    let best = 0;
    votes.forEach((v, i) => {
      if (v >= votes[best]!) best = i;
    });
    return { readAheadKb: CLASSES[best]!, votes };
  }
}
