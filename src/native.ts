/**
 * Loads the native addon (built by node-gyp into build/Release during
 * `npm ci`). One place, so a missing build gives one clear error.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { ERR_NATIVE } from './errors.js';

/** Project root: dist/src/native.js -> ../.. ; src/native.ts (ts-node) -> .. */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('ssdtune: cannot find the project root from ' + fileURLToPath(import.meta.url));
})();

// The addon's exports are typed by each subsystem's TypeScript wrapper.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any>;

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const file = path.join(PROJECT_ROOT, 'build', 'Release', 'ssdtune_native.node');
  if (!existsSync(file)) throw ERR_NATIVE(`${file} is missing: run \`npm run build:native\` (needs g++ and make)`);
  cached = createRequire(import.meta.url)(file) as NativeAddon;
  return cached;
}
