#!/usr/bin/env bash
# Builds the prebuilt binaries the npm package ships, the way classic-level
# does: prebuildify compiles the N-API addon once for every Node version
# (--napi) into prebuilds/<platform>-<arch>/, where node-gyp-build (the
# package's install script) finds it and skips compiling. Where no prebuild
# fits, or one fails to load, node-gyp-build compiles from the shipped
# sources instead.
#
# Beside the main addon, the optional-feature addons (features/ssdtune_ebpf.node,
# features/ssdtune_uring.node: see binding.gyp) go to
# prebuilds/<platform>-<arch>/features/, and the generated eBPF skeleton to
# native/bpf/biotrace.skel.h, so that compiling on a machine without clang
# still embeds the BPF program.
#
# The build runs in a staging copy, so the working tree's build/ (what the
# tests load) is never rebuilt under them. Run by `npm pack` (prepack).
set -euo pipefail
exec >&2 # build chatter: stdout stays clean for `npm pack --json`
root="$(cd "$(dirname "$0")/.." && pwd)"
stage="$(mktemp -d "${TMPDIR:-/tmp}/ssdtune-prebuild-XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp -a "$root/package.json" "$root/binding.gyp" "$stage/"
mkdir -p "$stage/scripts"
cp -a "$root/scripts/build-bpf.sh" "$root/scripts/native-stamp.cjs" "$stage/scripts/"
cp -a "$root/native" "$stage/native"
ln -s "$root/node_modules" "$stage/node_modules"
rm -f "$stage/native/bpf/biotrace.skel.h" # build it afresh where the toolchain is here
# N-API: one binary serves every Node version, so build against the running
# Node's headers (the ones `npm run build:native` uses; npm's nodedir when
# set), never downloading any.
nodedir="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
case "$nodedir" in "" | undefined | null) ;; *) export npm_config_nodedir="$nodedir" ;; esac
# gyp also copies every addon into build/Release, and prebuildify packs the
# first *.node it finds there: keep only the main addon there (the features
# stay in build/Release/features/).
cat >"$stage/node-gyp" <<EOF
#!/bin/sh
"$root/node_modules/.bin/node-gyp" "\$@" || exit \$?
rm -f build/Release/ssdtune_ebpf.node build/Release/ssdtune_uring.node
EOF
chmod +x "$stage/node-gyp"
(cd "$stage" && JOBS="${JOBS:-2}" "$root/node_modules/.bin/prebuildify" --napi --strip --tag-libc \
  --target "node@$(node -p 'process.versions.node')" --node-gyp "$stage/node-gyp")
plat="$(node -p 'process.platform + "-" + process.arch')"
mkdir -p "$stage/prebuilds/$plat/features"
for f in "$stage"/build/Release/features/*.node; do
  strip --strip-all -o "$stage/prebuilds/$plat/features/$(basename "$f")" "$f"
done
skel="$stage/build/Release/obj/gen/bpf/biotrace.skel.h"
if grep -q BIOTRACE_SKEL_BUILT_WITH "$skel"; then cp "$skel" "$root/native/bpf/biotrace.skel.h"; fi
rm -rf "$root/prebuilds"
cp -a "$stage/prebuilds" "$root/prebuilds"
echo "prebuild: $(cd "$root" && find prebuilds -name '*.node' | sort | tr '\n' ' ')"
