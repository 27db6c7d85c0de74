/** The list of CLI commands: one import and one call per command. */
import type { Command } from 'commander';
import { register as registerApply } from './apply.js';
import { register as registerRevert } from './revert.js';

export function registerCommands(program: Command): void {
  registerApply(program);
  registerRevert(program);
}
