/**
 * The training configuration and its defaults, apart from train.ts so that
 * the CLI can show them in `--help` without loading TensorFlow.js at start-up.
 */

export interface TrainConfig {
  tracesDir: string;
  outDir: string;
  windowSize: number;
  minWindows: number;
  maxTrainWindowsPerStream: number;
  queryWindows: number;
  hidden: number;
  embedding: number;
  steps: number;
  classesPerBatch: number;
  windowsPerClass: number;
  margin: number;
  learningRate: number;
  /** Weight of the typical radius in every workload's radius (see shrunkRadius in identify.ts), in runs of queryWindows windows. */
  radiusPriorWeight: number;
  /** Largest workload radius as a multiple of the typical radius (see shrunkRadius in identify.ts); Infinity: no cap. */
  radiusCap: number;
  /**
   * Trace files whose devices count as ONE workload (e.g. the ASUs of one
   * application). Each device is still split in time on its own; the parts
   * are pooled under the file's name.
   */
  mergeDevicesOf: string[];
  /** Calibrate the threshold with leave-one-workload-out negatives too (see evaluateMethod). */
  looNegatives: boolean;
  /** Fraction of validation negatives the threshold must reject (0: plain balanced accuracy). */
  minRejection: number;
  /** Other seeds (other held-out draws, other initialisations) trained and evaluated for the model card's robustness table (not saved). */
  robustnessSeeds: number[];
  /** With mergeDevicesOf: also train and evaluate once with every device a workload of its own, for the model card (not saved). */
  compareUnmerged: boolean;
  seed: number;
  log?: (msg: string) => void;
}

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
