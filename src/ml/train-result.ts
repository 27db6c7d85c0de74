/**
 * What a training run produced: the shipped model and the figures of its
 * leave-one-source-out evaluation (train.ts fills it, model-card.ts prints it).
 */
import type { ConfidenceCurve, Threshold } from './calibration.js';
import type { LoadedTraces } from './data.js';
import type { SourceFigures, Totals } from './evaluation.js';
import type { Method } from './identify.js';
import type { SimilarityModel } from './model-io.js';

export interface MethodFigures {
  /** Per held-out source, with the threshold cross-fitted on the other sources. */
  sources: SourceFigures[];
  totals: Totals;
  /** The shipped threshold (calibrated on every source's outcomes) and its rates on them. */
  shipped: Threshold;
  curve: ConfidenceCurve;
}

export interface TrainResult {
  model: SimilarityModel;
  figures: Record<Method, MethodFigures>;
  data: LoadedTraces;
  /** Streams used (at least 2 windows each): name, source, windows. */
  streams: { name: string; source: string; windows: number }[];
  backend: string;
  /** Wall seconds of the shipped network's training, its loss curve, and the CPU seconds of the whole run (every fold). */
  trainSeconds: number;
  losses: number[];
  cpuSeconds: number;
}
