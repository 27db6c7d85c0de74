#!/usr/bin/env node
/**
 * ssdtune command-line entry. Each command lives in src/cli/commands/<name>.ts
 * and only parses arguments and formats output; the work is done by the
 * service layer (src/service), which the REST API shares. The tree itself is
 * built in program.ts.
 */
import { buildProgram } from './program.js';
import { runMain } from './run.js';

await runMain(buildProgram(), process.argv);
