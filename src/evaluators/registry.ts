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
import type { Evaluator } from './types.js';

export const EVALUATORS = ['ssdsim', 'mqsim'] as const;

export function makeEvaluator(name: string, settings: Pick<Settings, 'mqsimPath'>, opts: { totalRequests?: number } = {}): Evaluator {
  switch (name) {
    case 'ssdsim':
      return createSsdsimEvaluator(opts.totalRequests ? { totalRequests: opts.totalRequests } : {});
    case 'mqsim':
      if (!settings.mqsimPath) throw ERR_USAGE('the mqsim evaluator needs the path of an MQSim binary: set SSDTUNE_MQSIM or "mqsimPath" in config.json');
      return createMqsimEvaluator({ binary: settings.mqsimPath });
    default:
      throw ERR_USAGE(`unknown evaluator "${name}"; known: ${EVALUATORS.join(', ')}`);
  }
}

export function spaceFor(evaluator: Evaluator): ConfigSpace {
  switch (evaluator.space) {
    case 'ssd':
      return ssdSpace;
    default:
      throw ERR_USAGE(`no configuration space "${evaluator.space}" for evaluator ${evaluator.name}`);
  }
}
