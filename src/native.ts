/**
 * Loads the native addons. One place, so a missing build gives one clear error.
 *
 * - `ssdtune_native` (readers, simulator, features, linalg, blktrace ioctls)
 *   needs only libraries every Linux system has; without it nothing runs.
 * - Features whose library is optional are addons of their own in a
 *   `features/` directory beside it, so a machine without that library still
 *   runs everything else: `nativeFeature()` loads one or throws a coded error
 *   saying why it is missing and what to do, and `featureStatus()` tells
 *   `ssdtune doctor` the same without throwing.
 *
 * Where they come from (as node-gyp-build resolves them): a local build
 * (build/Release, made by `npm run build:native` or by the install script
 * when no prebuild fits), else the prebuilt binaries of this platform that
 * the npm package ships (prebuilds/<platform>-<arch>/, scripts/prebuild.sh).
 *
 * Every addon carries the stamp of the native sources it was built from
 * (scripts/native-stamp.cjs, compiled in by binding.gyp), and `loadAddon()`
 * refuses one whose stamp is not that of the sources beside this code: a
 * build/ left from older sources, which `npm ci` keeps (node-gyp-build loads
 * any existing build), would otherwise fail later and obscurely, on an
 * export it lacks.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { ERR_FEATURE_MISSING, ERR_NATIVE, ERR_NATIVE_STALE, isSsdtuneError, type SsdtuneError } from './errors.js';

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

const require = createRequire(import.meta.url);

/** The main addon's file: the local build first, else this platform's prebuild (node-gyp-build's rules). */
export function mainAddonPath(): string {
  const local = path.join(PROJECT_ROOT, 'build', 'Release', 'ssdtune_native.node');
  if (existsSync(local)) return local;
  try {
    const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    return gypBuild.resolve(PROJECT_ROOT);
  } catch (e) {
    throw ERR_NATIVE(
      `${local} is missing and no prebuilt binary fits this machine (${(e as Error).message.split('\n')[0]}): run \`npm run build:native\` (needs g++ and make)`,
    );
  }
}

let sourcesStamp: string | undefined;

/** The stamp of the native sources beside this code, as the build computes it (scripts/native-stamp.cjs). */
function expectedStamp(): string {
  if (sourcesStamp === undefined) {
    try {
      const script = require(path.join(PROJECT_ROOT, 'scripts', 'native-stamp.cjs')) as { sourceStamp(root: string): string };
      sourcesStamp = script.sourceStamp(PROJECT_ROOT);
    } catch (e) {
      throw ERR_NATIVE(`cannot hash the native sources under ${PROJECT_ROOT} to check the addon against them: ${(e as Error).message}`);
    }
  }
  return sourcesStamp;
}

/** Loads one addon file (node's errors pass through) and refuses it, coded, when built from other sources. */
function loadAddon(file: string): NativeAddon {
  const addon = require(file) as NativeAddon;
  const stamp = addon.sourceStamp as unknown;
  if (stamp !== expectedStamp()) throw ERR_NATIVE_STALE(file, typeof stamp === 'string' ? stamp : 'none', expectedStamp());
  return addon;
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const file = mainAddonPath();
  try {
    cached = loadAddon(file);
  } catch (e) {
    if (isSsdtuneError(e)) throw e;
    throw ERR_NATIVE(`cannot load ${file}: ${(e as Error).message}; rebuild with \`npm run build:native\``);
  }
  return cached;
}

export type NativeFeature = 'ebpf' | 'uring';

/** What each optional feature gives, and the run-time library it links. */
export const NATIVE_FEATURES: Record<NativeFeature, { what: string; library: string; runtimePackages: string; buildPackages: string }> = {
  ebpf: {
    what: 'live capture with eBPF (collect --backend ebpf)',
    library: 'libbpf',
    runtimePackages: 'libbpf1 libelf1',
    buildPackages: 'libbpf-dev libelf-dev zlib1g-dev clang bpftool',
  },
  uring: { what: 'live replay on a device (the live evaluator, io_uring)', library: 'liburing', runtimePackages: 'liburing2', buildPackages: 'liburing-dev' },
};

export interface FeatureStatus {
  feature: NativeFeature;
  what: string;
  available: boolean;
  /** The library version when available, else why not. */
  detail: string;
  /** What to do (empty when available). */
  fix: string;
  file: string;
}

/** A feature's addon when it loads and works, else why not; `stale`: the addon was refused, built from other sources. */
interface LoadedFeature {
  addon?: NativeAddon;
  status: FeatureStatus;
  stale?: SsdtuneError;
}

const features = new Map<NativeFeature, LoadedFeature>();

function loadFeature(f: NativeFeature): LoadedFeature {
  const known = features.get(f);
  if (known) return known;
  const info = NATIVE_FEATURES[f];
  let file = path.join(PROJECT_ROOT, 'build', 'Release', 'features', `ssdtune_${f}.node`);
  const base = { feature: f, what: info.what, file };
  let out: LoadedFeature;
  try {
    file = path.join(path.dirname(mainAddonPath()), 'features', `ssdtune_${f}.node`);
    base.file = file;
    if (!existsSync(file)) {
      out = { status: { ...base, available: false, detail: `${file} was not built`, fix: `npm run build:native (with ${info.buildPackages} installed)` } };
    } else {
      const addon = loadAddon(file);
      out = addon.available
        ? {
            addon,
            status: {
              ...base,
              available: true,
              detail: [addon.library, addon.program && `BPF program built with ${String(addon.program)}`].filter(Boolean).join(', '),
              fix: '',
            },
          }
        : { status: { ...base, available: false, detail: String(addon.reason), fix: String(addon.fix) } };
    }
  } catch (e) {
    if (isSsdtuneError(e, 'SSDTUNE_NATIVE_STALE')) {
      out = { stale: e, status: { ...base, available: false, detail: e.message, fix: 'npm run build:native' } };
      features.set(f, out);
      return out;
    }
    const msg = (e as Error).message.split('\n')[0]!;
    const missingLib = /cannot open shared object file/.test(msg);
    out = {
      status: {
        ...base,
        available: false,
        detail: `cannot load ${path.basename(file)}: ${msg}`,
        fix: missingLib ? `apt-get install ${info.runtimePackages}` : `npm run build:native (with ${info.buildPackages} installed)`,
      },
    };
  }
  features.set(f, out);
  return out;
}

/** Whether an optional native feature works here, why not, and what to do. */
export function featureStatus(f: NativeFeature): FeatureStatus {
  return loadFeature(f).status;
}

/** The feature's addon, or a coded error that says why it is missing (or out of date). */
export function nativeFeature(f: NativeFeature): NativeAddon {
  const { addon, status, stale } = loadFeature(f);
  if (stale) throw stale;
  if (!addon) throw ERR_FEATURE_MISSING(status.what, status.detail, status.fix);
  return addon;
}
