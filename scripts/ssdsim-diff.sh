#!/usr/bin/env bash
# Differential check of the native SSD simulator: builds the addon of REF (default main) in a temporary
# worktree and replays the same (trace, configuration) pairs on it and on this checkout's build
# (bench/ssdsim-diff.ts says which and what is compared). Run `npm run build:native && npm run build` first.
#   bash scripts/ssdsim-diff.sh [REF] [-- harness arguments, e.g. --quick /work/shared/traces]
set -euo pipefail
cd "$(dirname "$0")/.."
ref=main
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ref=$1; shift; fi
[ "${1:-}" = "--" ] && shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssdsim-diff-XXXXXX")
cleanup() {
  git worktree remove --force "$tmp/src" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/src" "$ref" >/dev/null
ln -s "$PWD/node_modules" "$tmp/src/node_modules" # node-addon-api's headers; the old addon needs nothing else
(cd "$tmp/src" && npx node-gyp rebuild >"$tmp/build.log" 2>&1) || {
  tail -20 "$tmp/build.log" >&2
  exit 1
}
echo "old: $ref ($(git rev-parse --short "$ref")), new: this checkout ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- native || echo ', modified'))"
node dist/bench/ssdsim-diff.js --old "$tmp/src/build/Release/ssdtune_native.node" "$@"
