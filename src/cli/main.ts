#!/usr/bin/env node
/**
 * ssdtune command-line entry. Each command lives in src/cli/commands/<name>.ts
 * and only parses arguments and formats output; the work is done by the
 * service layer (src/service), which the REST API shares.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../native.js';
import { runMain } from './run.js';
import { registerCommands } from './commands/index.js';

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };

const program = new Command('ssdtune')
  .description('Learn storage configurations from block I/O traces and apply them safely.')
  .version(pkg.version)
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 failure, 2 usage, 3 bad input, 4 not found, 5 permission, 6 unsupported here, 7 conflict.

Examples:
  ssdtune analyze traces/msr_hm_0_sample1000.csv
  ssdtune analyze --json --report out.html traces/blktrace_centos7_vm_small/sda.blktrace.0`,
  );

registerCommands(program);
await runMain(program, process.argv);
