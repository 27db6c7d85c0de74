/** The list of CLI commands: one import and one call per command. */
import type { Command } from 'commander';
import { register as registerModel } from './model.js';

export function registerCommands(program: Command): void {
  registerModel(program);
}
