/** The list of CLI commands: one import and one call per command. */
import type { Command } from 'commander';
import { register as registerAnalyze } from './analyze.js';
import { register as registerDb } from './db.js';
import { register as registerModel } from './model.js';
import { register as registerServe } from './serve.js';
import { register as registerTune } from './tune.js';
import { register as registerApply } from './apply.js';
import { register as registerRevert } from './revert.js';
import { register as registerRetune } from './retune.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerCollect } from './collect.js';
import { register as registerIdentify } from './identify.js';
import { register as registerVerify } from './verify.js';
import { register as registerCompletion } from './completion.js';
import { register as registerWorker } from './worker.js';

export function registerCommands(program: Command): void {
  registerAnalyze(program);
  registerDb(program);
  registerModel(program);
  registerServe(program);
  registerTune(program);
  registerIdentify(program);
  registerApply(program);
  registerRevert(program);
  registerVerify(program);
  registerRetune(program);
  registerDoctor(program);
  registerCollect(program);
  registerWorker(program);
  registerCompletion(program);
}
