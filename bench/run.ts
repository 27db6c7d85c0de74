/**
 * `npm run bench [name...]`: runs every bench/<name>.bench.ts (compiled to
 * dist/bench) in turn, or only the named ones. Each prints its own figures,
 * side by side with the reference tool measured in the same run.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.js$/, '')))
  .sort();
if (files.length === 0) {
  console.error(
    `no benchmark matches ${wanted.join(' ')}; have: ${readdirSync(dir)
      .filter((f) => f.endsWith('.bench.js'))
      .join(' ')}`,
  );
  process.exit(2);
}
for (const f of files) {
  console.log(`\n=== ${f.replace(/\.bench\.js$/, '')} ===`);
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { run(): Promise<void> };
  await mod.run();
}
