/**
 * Evaluators and configuration spaces by name, so front ends and stored jobs
 * can name them in plain strings.
 */
import type { Settings } from '../config.js';
import { ERR_USAGE } from '../errors.js';
import { createMqsimEvaluator } from '../sim/mqsim.js';
import { ssdSpace } from '../sim/ssd-space.js';
import { createSsdsimEvaluator } from '../sim/ssdsim.js';
import type { ConfigSpace } from '../space/types.js';
import { buildHostSpace, readaheadModelSpace } from '../host/host-space.js';
import { LiveEvaluator } from './live/live-evaluator.js';
import { ReadaheadModelEvaluator } from './readahead/readahead-model.js';
import type { Evaluator } from './types.js';
import type { StateStore } from '../host/state.js';

export const EVALUATORS = ['ssdsim', 'mqsim', 'readahead-model', 'live'] as const;

export interface EvaluatorOptions {
  totalRequests?: number;
  /** The block device a `live` evaluator replays on (read-only unless scratch). */
  device?: string;
  scratch?: boolean;
}

/** What is known once the trace has been read, and where device changes are recorded. */
export interface EvaluatorRun {
  totalRequests?: number;
  /** The way back of any device an evaluator changes (the ConfDB's device records). */
  deviceState?: StateStore;
}

/**
 * Checks an evaluator's name and what it needs (MQSim binary, device) and
 * returns its constructor. Two steps because the ssdsim evaluator needs the
 * trace's request count, known only after the trace has been read: a wrong
 * name must fail before that read, not after minutes of it.
 */
export function evaluatorFactory(name: string, settings: Pick<Settings, 'mqsimPath' | 'ssdsim'>, opts: Omit<EvaluatorOptions, 'totalRequests'> = {}): (run: EvaluatorRun) => Evaluator {
  switch (name) {
    case 'ssdsim':
      return (run) => createSsdsimEvaluator({ ...settings.ssdsim, ...(run.totalRequests ? { totalRequests: run.totalRequests } : {}) });
    case 'mqsim': {
      const binary = settings.mqsimPath;
      if (!binary) throw ERR_USAGE('the mqsim evaluator needs the path of an MQSim binary: set SSDTUNE_MQSIM or "mqsimPath" in config.json');
      return () => createMqsimEvaluator({ binary });
    }
    case 'readahead-model':
      return () => new ReadaheadModelEvaluator();
    case 'live': {
      const device = opts.device;
      if (!device) throw ERR_USAGE('the live evaluator replays on a block device: give --device (read-only unless --scratch)');
      return (run) => {
        if (!run.deviceState) throw ERR_USAGE('the live evaluator needs a store for the way back to the device (the ConfDB)');
        return new LiveEvaluator({ device, store: run.deviceState, ...(opts.scratch ? { scratch: true } : {}) });
      };
    }
    default:
      throw ERR_USAGE(`unknown evaluator "${name}"; known: ${EVALUATORS.join(', ')}`);
  }
}

/** The space an evaluator searches: `host` is built from the device's sysfs when there is one. */
export function spaceFor(evaluator: Evaluator, device?: string): ConfigSpace {
  switch (evaluator.space) {
    case 'ssd':
      return ssdSpace;
    case 'host':
      return evaluator.name === 'live' && device ? buildHostSpace(device) : readaheadModelSpace();
    default:
      throw ERR_USAGE(`no configuration space "${evaluator.space}" for evaluator ${evaluator.name}`);
  }
}
