#!/usr/bin/env node
// The native addons' source stamp: a hash of the sources they are built from
// (binding.gyp, native/src, native/bpf). The build compiles it into every
// addon (binding.gyp, target native_stamp: `--header OUT` writes
// ssdtune_stamp.h); src/native.ts hashes the sources beside it the same way
// at load and refuses an addon whose stamp differs. That catches a build/
// left from older sources, which `npm ci` keeps (node-gyp-build loads any
// existing build) and which would otherwise fail later on a missing export.
//
// Plain CommonJS, no dependencies: it runs at install time, before dist/ exists.
//   node scripts/native-stamp.cjs              prints the stamp
//   node scripts/native-stamp.cjs --inputs     prints the hashed files (gyp's action inputs)
//   node scripts/native-stamp.cjs --header OUT writes the header
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** The hashed files, relative to root, sorted: what the compiler reads, not what the build generates (*.skel.h). */
function sourceFiles(root) {
  const out = ['binding.gyp'];
  const walk = (rel, re) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue; // editor lock and swap files
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r, re);
      else if (re.test(e.name) && !e.name.endsWith('.skel.h')) out.push(r);
    }
  };
  walk('native/src', /\.(cc|h)$/);
  walk('native/bpf', /\.(c|h)$/);
  return out.sort();
}

/** 16 hex digits of the SHA-256 of each file's path, length and bytes, in order. */
function sourceStamp(root) {
  const h = crypto.createHash('sha256');
  for (const f of sourceFiles(root)) {
    const bytes = fs.readFileSync(path.join(root, f));
    h.update(`${f}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex').slice(0, 16);
}

module.exports = { sourceFiles, sourceStamp };

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const [flag, out] = process.argv.slice(2);
  if (flag === '--inputs') process.stdout.write(sourceFiles(root).join('\n') + '\n');
  else if (flag === '--header' && out) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `/* written by scripts/native-stamp.cjs: the sources' stamp, checked by src/native.ts */\n#define SSDTUNE_SOURCE_STAMP "${sourceStamp(root)}"\n`);
  } else if (!flag) process.stdout.write(sourceStamp(root) + '\n');
  else {
    process.stderr.write('usage: native-stamp.cjs [--inputs | --header OUT]\n');
    process.exit(2);
  }
}
