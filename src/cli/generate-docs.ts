/**
 * `npm run docs`: writes the generated reference files, docs/errors.md from
 * the error registry and man/ssdtune.1 from the command definitions.
 * test/docs.test.ts fails when either is stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildProgram, packageVersion } from './program.js';
import { manPage } from './reference.js';
import { PROJECT_ROOT } from '../native.js';
import { renderErrorsMd } from './errors-doc.js';

const errorsMd = path.join(PROJECT_ROOT, 'docs', 'errors.md');
writeFileSync(errorsMd, renderErrorsMd(readFileSync(path.join(PROJECT_ROOT, 'src', 'errors.ts'), 'utf8')));
mkdirSync(path.join(PROJECT_ROOT, 'man'), { recursive: true });
const man = path.join(PROJECT_ROOT, 'man', 'ssdtune.1');
writeFileSync(man, manPage(buildProgram(), packageVersion()));
process.stdout.write(`wrote ${path.relative(PROJECT_ROOT, errorsMd)}, ${path.relative(PROJECT_ROOT, man)}\n`);
