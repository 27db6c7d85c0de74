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
  hidden: 64,
  embedding: 16,
  steps: 800,
  classesPerBatch: 8,
  windowsPerClass: 8,
  margin: 0.5,
  learningRate: 0.003,
  // The MQSim trace's devices are ASUs of ONE WebSearch application (UMass/SPC trace):
  // the same workload as far as configuration reuse goes, and statistically twins.
  mergeDevicesOf: ['mqsim_wsrch-small.trace'],
  // Reusing a wrong workload's configuration costs more than learning anew: the threshold
  // answers "new" to 99% of the held-out sources' queries (the goal is 95%).
  minRejection: 0.99,
  seed: 42,
};
