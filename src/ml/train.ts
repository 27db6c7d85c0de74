/**
 * Training, calibration and evaluation of the similarity model
 * (`ssdtune model train`). The steps live in their own modules:
 * - data.ts: every readable trace of a directory as per-device streams of windows;
 * - split.ts: the leave-one-source-out protocol;
 * - evaluation.ts: asking each held-out source, scoring with cross-fitted thresholds;
 * - calibration.ts: the known/new threshold and the confidence curve;
 * - model-card.ts: MODEL_CARD.md, from this run's figures only.
 *
 * One network per source (trained without it) is evaluated, then the shipped
 * network is trained on every source; its threshold and confidence curve are
 * calibrated on all the held-out outcomes (the shipped network has seen every
 * source, so only networks that had not can say how unseen workloads fall).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuUsage } from 'node:process';
import { ERR_ML_DEGENERATE } from '../errors.js';
import { DESCRIPTOR_DIM, DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import { calibrateThreshold, fitConfidence } from './calibration.js';
import { loadStreams, type Stream } from './data.js';
import { askFold, calibrationData, crossFittedThreshold, profiles, scoreFold, totals, type FoldOutcome } from './evaluation.js';
import { embeddingSpread, embedWindows, METHODS, type Method } from './identify.js';
import { readHandWritten, modelCard } from './model-card.js';
import { META_VERSION, probeModelDir, saveSimilarityModel, type SimilarityMeta, type SimilarityModel } from './model-io.js';
import { fitPca } from './pca.js';
import { Reservoir, seededRng } from './rng.js';
import { buildEmbedder, initBackend, trainEmbedder } from './similarity.js';
import { byWorkload, sourcesOf } from './split.js';
import { fitScaler, standardize } from './standardize.js';
import { intensityFactorOf, type TrainConfig } from './train-defaults.js';
import type { MethodFigures, TrainResult } from './train-result.js';

export { DEFAULT_TRAIN, intensityFactorOf, type TrainConfig } from './train-defaults.js';
export type { MethodFigures, TrainResult } from './train-result.js';

/** The network, scaler and PCA baseline fitted on some streams (thresholds not yet calibrated). */
export async function fitModel(streams: readonly Stream[], cfg: TrainConfig): Promise<{ model: SimilarityModel; losses: number[]; seconds: number }> {
  const workloads = [...byWorkload(streams).keys()];
  if (workloads.length < 2) throw ERR_ML_DEGENERATE(`need at least 2 workloads with windows of ${cfg.windowSize} requests, found ${workloads.length}`);
  const rows = streams.flatMap((s) => s.windows);
  const scaler = fitScaler(rows);
  const pcaSample = new Reservoir<Float64Array>(2000, seededRng(cfg.seed));
  for (const r of rows) pcaSample.offer(r);
  const shape = { inputDim: DESCRIPTOR_DIM, hidden: cfg.hidden, embedding: cfg.embedding };
  const net = buildEmbedder(shape, cfg.seed);
  const t0 = performance.now();
  const losses = trainEmbedder(
    net,
    streams.map((s) => ({ label: workloads.indexOf(s.workload), rows: s.windows.map((w) => standardize(scaler, w)) })),
    {
      seed: cfg.seed,
      steps: cfg.steps,
      classesPerBatch: cfg.classesPerBatch,
      windowsPerClass: cfg.samplesPerClass,
      run: cfg.trainRun,
      margin: cfg.margin,
      learningRate: cfg.learningRate,
      every: 100,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const flat = { intercept: 0, slope: 0 };
  const meta: SimilarityMeta = {
    version: META_VERSION,
    windowSize: cfg.windowSize,
    descriptorNames: [...DESCRIPTOR_VECTOR_NAMES],
    scaler,
    shape,
    queryWindows: cfg.queryWindows,
    threshold: 1,
    confidence: flat,
    pca: fitPca(pcaSample.items, 2),
    pcaThreshold: 1,
    pcaConfidence: flat,
    typicalSpread: 0,
    intensityFactor: intensityFactorOf(cfg.timeScales),
    seed: cfg.seed,
    training: {},
  };
  const model: SimilarityModel = { model: net, meta };
  // The typical spread: the median over workloads with enough runs to measure it on.
  const spreads = [...byWorkload(streams).values()]
    .map((ss) =>
      embeddingSpread(
        ss.map((s) => embedWindows(model, s.windows)),
        cfg.queryWindows,
      ),
    )
    .filter((x) => x.n >= 8)
    .map((x) => x.p90)
    .sort((a, b) => a - b);
  meta.typicalSpread = spreads.length ? spreads[Math.floor((spreads.length - 1) / 2)]! : 0;
  return { model, losses, seconds };
}

export async function trainSimilarity(cfg: TrainConfig): Promise<TrainResult> {
  const log = cfg.log ?? (() => {});
  const cpu0 = cpuUsage();
  const backend = await initBackend();
  log(`tfjs backend: ${backend}`);
  const data = await loadStreams(cfg.tracesDir, cfg.windowSize, { mergeDevicesOf: cfg.mergeDevicesOf, timeScales: cfg.timeScales }, log);
  // A triplet needs two windows of a workload; single-window streams can only be asked about.
  const streams = data.streams.filter((s) => s.windows.length >= 2);
  const real = (s: Stream) => s.timeScale === undefined;
  const sources = sourcesOf(streams);
  if (sources.length < 3)
    throw ERR_ML_DEGENERATE(
      `leave-one-source-out calibration needs at least 3 trace files with windows of ${cfg.windowSize} requests in ${cfg.tracesDir}, found ${sources.length}`,
    );

  const folds: FoldOutcome[] = [];
  for (const source of sources) {
    const rest = streams.filter((s) => s.source !== source);
    const { model } = await fitModel(rest, cfg);
    folds.push(
      askFold(
        model,
        source,
        data.streams.filter((s) => s.source === source && real(s)),
        profiles(model, rest.filter(real)),
        cfg.minWindows,
      ),
    );
    model.model.dispose();
    log(`held out ${source}: asked ${folds.at(-1)!.streams.length} stream(s)`);
  }

  const figures = {} as Record<Method, MethodFigures>;
  for (const method of METHODS) {
    const rows = folds.map((f, i) => scoreFold(f, method, crossFittedThreshold(folds, i, method, cfg.minRejection).threshold));
    const d = calibrationData(folds, method);
    figures[method] = {
      sources: rows,
      totals: totals(rows),
      shipped: calibrateThreshold(d.positives, d.negatives, cfg.minRejection),
      curve: fitConfidence(d.positives, d.negatives),
    };
  }

  log('training the shipped network on every source');
  const { model, losses, seconds } = await fitModel(streams, cfg);
  const meta = model.meta;
  meta.threshold = figures.network.shipped.threshold;
  meta.confidence = figures.network.curve;
  meta.pcaThreshold = figures.pca.shipped.threshold;
  meta.pcaConfidence = figures.pca.curve;
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  meta.training = {
    config: { ...cfg, tracesDir: rel(cfg.tracesDir), outDir: rel(cfg.outDir), log: undefined },
    sources,
    totals: Object.fromEntries(METHODS.map((m) => [m, figures[m].totals])),
  };
  return {
    model,
    figures,
    data,
    streams: streams.filter(real).map((s) => ({ name: s.name, source: s.source, windows: s.windows.length })),
    backend,
    trainSeconds: seconds,
    losses,
    cpuSeconds: (cpuUsage(cpu0).user + cpuUsage(cpu0).system) / 1e6,
  };
}

export async function trainAndSave(cfg: TrainConfig, command: string): Promise<TrainResult> {
  probeModelDir(cfg.outDir);
  const r = await trainSimilarity(cfg);
  await saveSimilarityModel(cfg.outDir, r.model);
  const cardFile = path.join(cfg.outDir, 'MODEL_CARD.md');
  writeFileSync(cardFile, modelCard(r, cfg, command, readHandWritten(cardFile)));
  return r;
}

/** What `ssdtune model train` prints: where the model went and its leave-one-source-out totals. */
export function trainSummary(r: TrainResult, cfg: TrainConfig): string {
  const t = r.figures.network.totals;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return (
    `model saved to ${cfg.outDir} (${r.streams.length} streams of ${new Set(r.streams.map((s) => s.source)).size} sources, ${r.cpuSeconds.toFixed(0)} CPU-s on ${r.backend})\n` +
    `leave one source out: new-workload detection ${pct(t.detection)} (${t.falseKnown} false "known" of ${t.detectionQueries}), whole held-out traces answered "known" ${t.wholeTracesFalseKnown}, ` +
    `same-workload match ${pct(t.match)} of ${t.matchQueries} (${t.wrongKnown} another workload, ${t.missed} "new"); per source in ${path.join(cfg.outDir, 'MODEL_CARD.md')}\n`
  );
}
