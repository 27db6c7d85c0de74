/**
 * Training defaults, apart from train.ts so that the CLI can show them in
 * `--help` without loading TensorFlow.js at start-up.
 */
import type { TrainConfig } from './train.js';

export const DEFAULT_TRAIN: Omit<TrainConfig, 'tracesDir' | 'outDir'> = {
  windowSize: 64,
  minWindows: 10,
  maxTrainWindowsPerStream: 400,
  queryWindows: 4,
  hidden: 32,
  embedding: 8,
  steps: 800,
  classesPerBatch: 8,
  windowsPerClass: 8,
  margin: 0.5,
  learningRate: 0.003,
  radiusPriorWeight: 4,
  // A workload's radius may shrink below the typical one (tight workloads) but not grow past it:
  // broad ones otherwise swallow unseen workloads (see shrunkRadius in identify.ts).
  radiusCap: 1,
  // The MQSim trace's devices are ASUs of ONE WebSearch application (UMass/SPC trace):
  // the same workload as far as configuration reuse goes, and statistically twins.
  mergeDevicesOf: ['mqsim_wsrch-small.trace'],
  looNegatives: true,
  // The detection goal is 90%; ask 95% of validation to leave room for the shift to unseen workloads.
  minRejection: 0.95,
  compareUnmerged: true,
  robustnessSeeds: [1, 2, 3, 4, 5],
  seed: 42,
};
