/** The list of CLI commands: one import and one call per command. */
import type { Command } from 'commander';
import { register as registerDoctor } from './doctor.js';

export function registerCommands(program: Command): void {
  void program;
  registerDoctor(program);
}
