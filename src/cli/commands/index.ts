/** The list of CLI commands: one import and one call per command. */
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
