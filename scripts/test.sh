#!/usr/bin/env bash
# `npm test`: the whole suite, with a private TMPDIR that is removed
# afterwards, whatever the outcome. Tests remove the directories they make;
# this catches what one forgets (or leaves when it is killed), names it so
# it gets fixed, and keeps /tmp clean on developers' machines and in CI.
# Extra arguments go to node's test runner (e.g. a file: dist/test/x.test.js).
set -uo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ssdtune-test-XXXXXX")"
chmod 1777 "$tmp" # as /tmp: tests run servers as other users (PostgreSQL runs as postgres)
cleanup() {
  local left
  left="$(find "$tmp" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null)"
  [ -z "$left" ] || echo "test.sh: tests left these in their temp dir (removed now): $left" >&2
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ $# -eq 0 ]; then set -- dist/test/; fi
# A test that hangs fails after 10 minutes (the slowest takes about one) and
# the run ends when its tests have, whatever handles they leave open: a hang
# must fail CI with the test's name, never run into CI's own time limit.
TMPDIR="$tmp" node --test --test-concurrency=1 --test-timeout=600000 --test-force-exit "$@"
