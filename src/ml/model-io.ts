/**
 * Saving and loading the similarity model as files, in the standard tfjs
 * "layers-model" format (model.json + weights.bin, loadable by
 * tf.loadLayersModel in any tfjs), plus `similarity.json` beside it with
 * everything else identification needs (window size, standardisation,
 * calibrated thresholds, the PCA baseline).
 *
 * tfjs without tfjs-node has no file:// handler, so saving goes through
 * tf.io.withSaveHandler and loading through tf.io.fromMemory. Every file is
 * checked on load; anything inconsistent raises SSDTUNE_MODEL_CORRUPT naming
 * the file and what is wrong.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ERR_MODEL_CORRUPT, ERR_MODEL_MISSING, ERR_MODEL_WRITE } from '../errors.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import type { ConfidenceCurve } from './calibration.js';
import type { PcaModel } from './pca.js';
import type { Scaler } from './standardize.js';
import type { EmbedderShape } from './similarity.js';
import { initBackend } from './similarity.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const META_FILE = 'similarity.json';
/**
 * The pointer to the model's current set: `{"set": "set-<16 hex>"}`, a directory beside it holding the three files.
 * The set is written whole under a name of its own and the pointer replaced by a rename, so a reader sees the old
 * set or the new one, never three files from two trainings. A directory without it (the bundled model, a model
 * saved by an older ssdtune) holds the three files itself.
 */
export const SET_POINTER = 'current.json';
const SET_NAME = /^set-[0-9a-f]{16}$/;
/** 2: no per-workload radius; leave-one-source-out thresholds and confidence curves. */
export const META_VERSION = 2;

/** Everything about the model that is not weights. */
export interface SimilarityMeta {
  version: number;
  /** Requests per window the model was trained on; queries must use the same. */
  windowSize: number;
  /** Descriptor vector layout the model expects. */
  descriptorNames: string[];
  scaler: Scaler;
  shape: EmbedderShape;
  /** Windows per identification query the thresholds were calibrated for. */
  queryWindows: number;
  /** Embedding distance (0..2) at or below which a query chunk is its nearest known workload (calibration.ts). */
  threshold: number;
  /** P(the nearest workload is the query's own | distance), for the confidence of answers. */
  confidence: ConfidenceCurve;
  /** The plain-distance baseline: PCA fitted on the training windows, its calibrated threshold and confidence curve. */
  pca: PcaModel;
  pcaThreshold: number;
  pcaConfidence: ConfidenceCurve;
  /** Median spread of the training workloads (identify.ts embeddingSpread), the unit of a workload's spreadRatio. */
  typicalSpread: number;
  /**
   * The largest time scale training counts as another workload (train-defaults
   * timeScales: 4 for copies replayed 4x faster and slower): a query chunk whose
   * mean gap is more than this factor outside a stored workload's range cannot
   * be that workload (KnownWorkloads.rateFits). 0 or absent: no intensity test
   * (a model trained without time-scaled copies).
   */
  intensityFactor?: number;
  seed: number;
  /** Free-form training record (data, split, metrics) also shown in MODEL_CARD.md. */
  training: Record<string, unknown>;
}

/** What identification reads of a model besides its network: the metadata and the fingerprint. */
export interface SimilarityInfo {
  meta: SimilarityMeta;
  /**
   * Fingerprint of the saved model (its three files), set by loadSimilarityInfo.
   * Stored workload profiles record it: embeddings and radii from another
   * model live in another space and must not be compared with this one's.
   */
  id?: string;
}

export interface SimilarityModel extends SimilarityInfo {
  model: tf.LayersModel;
}

/**
 * Before training (minutes of it) `dir` is checked to be able to hold the model: a directory a file can be created
 * in, or a name a directory can be made under. Training found a file there, or a read-only place, only when it saved.
 */
export function probeModelDir(dir: string): void {
  const fail = (why: string) => ERR_MODEL_WRITE(dir, why);
  let st: Stats | undefined;
  try {
    st = statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    throw fail((e as Error).message); // ENOTDIR: a file on the way
  }
  if (st && !st.isDirectory()) throw fail('it exists and is not a directory');
  let parent = path.resolve(dir);
  while (!existsSync(parent)) parent = path.dirname(parent);
  if (!statSync(parent).isDirectory()) throw fail(`${parent} is not a directory`);
  // Made and removed again: nothing is left if training then fails.
  const probe = path.join(st ? dir : parent, `.ssdtune-model-probe.${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** Writes `data` to `file` and syncs it: a set is complete on disk before the pointer names it. */
function writeSynced(file: string, data: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The set `dir`'s pointer names, or undefined where there is no pointer (the files are in `dir` itself). */
function currentSet(dir: string): string | undefined {
  const file = path.join(dir, SET_POINTER);
  if (!existsSync(file)) return undefined;
  const set = (readJson(file) as { set?: unknown } | null)?.set;
  if (typeof set !== 'string' || !SET_NAME.test(set))
    throw ERR_MODEL_CORRUPT(file, 'expected {"set": "set-<16 hex digits>"}, the directory of the current model');
  return set;
}

/** The directory holding the model's three files: the set `dir`'s pointer names, or `dir` itself. */
export function modelSetDir(dir: string): string {
  const set = currentSet(dir);
  return set === undefined ? dir : path.join(dir, set);
}

/**
 * Saves the model as a new set beside the current one (`set-<random>`, written as `.set-<random>.partial` and
 * renamed when whole), then points `current.json` at it (a rename) and removes what it replaced: the previous set,
 * or an older layout's files in `dir` itself. A failure or a kill at any point leaves the previous model loadable
 * (and a failure removes its partial set).
 */
export async function saveSimilarityModel(dir: string, m: SimilarityModel): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const before = currentSet(dir);
  const set = `set-${randomBytes(8).toString('hex')}`;
  const partial = path.join(dir, `.${set}.partial`);
  const pointerTmp = path.join(dir, `.${SET_POINTER}.${set}`);
  try {
    mkdirSync(partial);
    await m.model.save(
      tf.io.withSaveHandler(async (art) => {
        const weights =
          art.weightData instanceof ArrayBuffer
            ? new Uint8Array(art.weightData)
            : new Uint8Array(tf.io.concatenateArrayBuffers(art.weightData as ArrayBuffer[]));
        writeSynced(path.join(partial, WEIGHTS_FILE), weights);
        const json = {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          modelTopology: art.modelTopology,
          weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: art.weightSpecs }],
        };
        writeSynced(path.join(partial, MODEL_FILE), JSON.stringify(json) + '\n');
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(art) };
      }),
    );
    writeSynced(path.join(partial, META_FILE), JSON.stringify(m.meta, null, 1) + '\n');
    syncDir(partial);
    renameSync(partial, path.join(dir, set));
    writeSynced(pointerTmp, JSON.stringify({ set }) + '\n');
    renameSync(pointerTmp, path.join(dir, SET_POINTER));
    syncDir(dir);
  } catch (e) {
    for (const p of [partial, path.join(dir, set), pointerTmp]) rmSync(p, { recursive: true, force: true });
    // The pointer may have been replaced before the failure (syncing the directory): the new set then stays.
    if (currentSet(dir) === set) return;
    throw ERR_MODEL_WRITE(dir, (e as Error).message);
  }
  // Replaced: a reader that read the old pointer just before reads again (loadSimilarityModel).
  if (before !== undefined) rmSync(path.join(dir, before), { recursive: true, force: true });
  else for (const f of [MODEL_FILE, WEIGHTS_FILE, META_FILE]) rmSync(path.join(dir, f), { force: true });
}

function readJson(file: string, text = readFileSync(file, 'utf8')): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw ERR_MODEL_CORRUPT(file, `not valid JSON (${(e as Error).message})`);
  }
}

// The embedder only has float32 weights; anything else means the files do not belong together.
const DTYPE_BYTES: Record<string, number> = { float32: 4 };

function checkMeta(file: string, x: unknown): SimilarityMeta {
  const m = x as Partial<SimilarityMeta>;
  const bad = (what: string) => ERR_MODEL_CORRUPT(file, what);
  if (typeof m !== 'object' || m === null) throw bad('expected a JSON object');
  if (m.version !== META_VERSION)
    throw bad(`version is ${String(m.version)}, expected ${META_VERSION} (a model of another ssdtune version: retrain it with 'ssdtune model train')`);
  if (!Number.isInteger(m.windowSize) || m.windowSize! < 2) throw bad(`windowSize ${String(m.windowSize)} is not an integer >= 2`);
  if (JSON.stringify(m.descriptorNames) !== JSON.stringify(DESCRIPTOR_VECTOR_NAMES))
    throw bad('descriptorNames differ from this version of ssdtune; retrain the model');
  const d = DESCRIPTOR_VECTOR_NAMES.length;
  const finiteArray = (a: unknown, n: number) => Array.isArray(a) && a.length === n && a.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!m.scaler || !finiteArray(m.scaler.mean, d) || !finiteArray(m.scaler.std, d) || m.scaler.std.some((s) => s <= 0))
    throw bad(`scaler must hold ${d} finite means and positive stds`);
  if (!m.shape || m.shape.inputDim !== d || !(m.shape.hidden >= 1) || !(m.shape.embedding >= 1))
    throw bad('shape is missing or does not match the descriptor size');
  for (const k of ['threshold', 'pcaThreshold', 'queryWindows'] as const) {
    if (typeof m[k] !== 'number' || !Number.isFinite(m[k]) || m[k]! <= 0) throw bad(`${k} must be a positive number, got ${String(m[k])}`);
  }
  if (typeof m.typicalSpread !== 'number' || !Number.isFinite(m.typicalSpread) || m.typicalSpread < 0)
    throw bad(`typicalSpread must be a number >= 0, got ${String(m.typicalSpread)}`);
  const f = m.intensityFactor;
  if (f !== undefined && (typeof f !== 'number' || !Number.isFinite(f) || (f !== 0 && f < 1)))
    throw bad(`intensityFactor must be 0 or a number >= 1, got ${String(f)}`);
  for (const k of ['confidence', 'pcaConfidence'] as const) {
    const c = m[k];
    if (!c || !Number.isFinite(c.intercept) || !Number.isFinite(c.slope)) throw bad(`${k} must hold a finite intercept and slope`);
  }
  const p = m.pca;
  if (
    !p ||
    !finiteArray(p.centre, d) ||
    !Array.isArray(p.components) ||
    !p.components.every((c) => finiteArray(c, d)) ||
    !p.scaler ||
    !finiteArray(p.scaler.mean, d) ||
    !finiteArray(p.scaler.std, d)
  ) {
    throw bad('pca baseline is missing or malformed');
  }
  return m as SimilarityMeta;
}

/**
 * The model's metadata (checked) and fingerprint, without building the
 * network: what a process that embeds on the ML worker (src/ml/worker.ts)
 * needs on its event loop. The network's files are checked where it is loaded.
 */
export function loadSimilarityInfo(dir: string): SimilarityInfo {
  return infoOf(readSet(dir));
}

const SET_FILES = [MODEL_FILE, WEIGHTS_FILE, META_FILE] as const;

/** The three files of the current set, read whole, all from one set. */
function readSet(dir: string): { at: string; bytes: Record<(typeof SET_FILES)[number], Buffer> } {
  for (let attempt = 0; ; attempt++) {
    const set = currentSet(dir);
    const at = set === undefined ? dir : path.join(dir, set);
    const bytes = {} as Record<(typeof SET_FILES)[number], Buffer>;
    for (const f of SET_FILES) {
      try {
        bytes[f] = readFileSync(path.join(at, f));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // A save replaced the set while this read it (and removed the old one): read the new one.
        if (attempt === 0 && currentSet(dir) !== set) break;
        throw ERR_MODEL_MISSING(dir, `${path.relative(dir, path.join(at, f))} not found`);
      }
    }
    if (Object.keys(bytes).length === SET_FILES.length) return { at, bytes };
  }
}

function infoOf(s: ReturnType<typeof readSet>): SimilarityInfo {
  const metaFile = path.join(s.at, META_FILE);
  const meta = checkMeta(metaFile, readJson(metaFile, s.bytes[META_FILE].toString('utf8')));
  const h = createHash('sha256');
  for (const f of SET_FILES) h.update(s.bytes[f]);
  return { meta, id: h.digest('hex').slice(0, 16) };
}

export async function loadSimilarityModel(dir: string): Promise<SimilarityModel> {
  const set = readSet(dir);
  const modelFile = path.join(set.at, MODEL_FILE);
  const info = infoOf(set);
  const meta = info.meta;
  const json = readJson(modelFile, set.bytes[MODEL_FILE].toString('utf8')) as {
    modelTopology?: unknown;
    weightsManifest?: { weights?: tf.io.WeightsManifestEntry[] }[];
  };
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw ERR_MODEL_CORRUPT(modelFile, 'expected a tfjs layers-model JSON with modelTopology and weightsManifest');
  }
  const specs = json.weightsManifest.flatMap((g) => g.weights ?? []);
  let expected = 0;
  for (const s of specs) {
    const per = DTYPE_BYTES[s.dtype];
    if (!per || !Array.isArray(s.shape)) throw ERR_MODEL_CORRUPT(modelFile, `weight ${s.name}: unsupported dtype ${s.dtype} or missing shape`);
    expected += per * s.shape.reduce((a, b) => a * b, 1);
  }
  const weightsFile = path.join(set.at, WEIGHTS_FILE);
  const buf = set.bytes[WEIGHTS_FILE];
  if (buf.length !== expected) throw ERR_MODEL_CORRUPT(weightsFile, `${buf.length} bytes, model.json describes ${expected}`);
  const weights = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  for (let i = 0; i < weights.length; i++) if (!Number.isFinite(weights[i])) throw ERR_MODEL_CORRUPT(weightsFile, `weight ${i} is ${weights[i]}`);
  await initBackend();
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: weights.buffer as ArrayBuffer }),
    );
  } catch (e) {
    throw ERR_MODEL_CORRUPT(modelFile, `tfjs cannot build the model (${(e as Error).message})`);
  }
  const inShape = model.inputs[0]?.shape;
  const outShape = model.outputs[0]?.shape;
  if (inShape?.[1] !== meta.shape.inputDim || outShape?.[1] !== meta.shape.embedding) {
    throw ERR_MODEL_CORRUPT(modelFile, `network maps ${inShape?.[1]} -> ${outShape?.[1]}, ${META_FILE} says ${meta.shape.inputDim} -> ${meta.shape.embedding}`);
  }
  return { model, ...info };
}
