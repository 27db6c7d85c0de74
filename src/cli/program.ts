/**
 * The `ssdtune` command tree, built without running it: main.ts parses
 * argv with it, and the man page and shell completion are generated from it
 * (reference.ts), so they describe exactly the commands that run.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, EXIT_MEANING } from '../errors.js';
import { PROJECT_ROOT } from '../native.js';
import { registerCommands } from './commands/index.js';

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const exitCodes = Object.entries(EXIT)
    .map(([k, v]) => `${v} ${EXIT_MEANING[k as keyof typeof EXIT].split(':')[0]}`)
    .join(', ');
  const program = new Command('ssdtune')
    .description('Learn storage configurations from block I/O traces and apply them safely.')
    .version(packageVersion())
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Exit codes: ${exitCodes} (docs/errors.md lists every error code).

Examples:
  ssdtune analyze traces/msr_hm_0_sample1000.csv
  ssdtune analyze --json --report out.html traces/blktrace_centos7_vm_small/sda.blktrace.0`,
    );
  registerCommands(program);
  return program;
}
