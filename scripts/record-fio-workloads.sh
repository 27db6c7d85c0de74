#!/usr/bin/env bash
# Records the project's own training workloads for the similarity model
# (issue 4): each fio job in scripts/fio-workloads/*.fio runs against a scratch
# loop device (a sparse file in /dev/shm, created and torn down here) while
# `ssdtune collect` captures the device's requests with eBPF. Each capture is
# written as MQSim text and xz-compressed to traces/fio_<job>.trace.xz.
#
# Usage (root, after `npm run build`):
#   bash scripts/record-fio-workloads.sh [job ...]     (default: every job)
# Environment: RUNTIME seconds per job (default 20), OUT directory (default traces).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS_DIR="$ROOT/scripts/fio-workloads"
RUNTIME=${RUNTIME:-20}
OUT=${OUT:-$ROOT/traces}
SSDTUNE=(node "$ROOT/dist/src/cli/main.js")

die() { echo "record-fio-workloads: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (loop devices and eBPF)"
for t in fio losetup xz; do command -v "$t" >/dev/null || die "$t is not installed (bash scripts/install-deps.sh)"; done
[[ -f "$ROOT/dist/src/cli/main.js" ]] || die "build first: npm run build"
[[ "$RUNTIME" =~ ^[0-9]+$ && "$RUNTIME" -ge 5 ]] || die "RUNTIME must be a whole number of seconds >= 5, got '$RUNTIME'"

if [[ $# -gt 0 ]]; then jobs=("$@"); else jobs=(); for f in "$JOBS_DIR"/*.fio; do jobs+=("$(basename "$f" .fio)"); done; fi
for j in "${jobs[@]}"; do [[ -f "$JOBS_DIR/$j.fio" ]] || die "no job file $JOBS_DIR/$j.fio"; done

# One cleanup path for every exit: stop the capture, detach the loop device, remove the backing file.
backing=$(mktemp /dev/shm/ssdtune-fio-XXXXXX)
dev=""
collector=""
cleanup() {
  [[ -n "$collector" ]] && kill "$collector" 2>/dev/null && wait "$collector" 2>/dev/null || true
  [[ -n "$dev" ]] && losetup -d "$dev" 2>/dev/null || true
  rm -f "$backing"
}
trap cleanup EXIT INT TERM

truncate -s 4G "$backing"
dev=$(losetup --find --show "$backing")
echo "scratch device $dev (4 GiB, backed by $backing)"

for j in "${jobs[@]}"; do
  trace="$OUT/fio_$j.trace"
  # Capture a little longer than fio runs so that its last requests (and writeback) are kept.
  "${SSDTUNE[@]}" collect --device "$dev" --backend ebpf --format mqsim -o "$trace" --duration "$((RUNTIME + 4))s" --json > "$trace.summary.json" &
  collector=$!
  sleep 2
  echo 3 > /proc/sys/vm/drop_caches   # buffered jobs start from a cold page cache
  fio --filename="$dev" --time_based --runtime="$RUNTIME" --output-format=terse "$JOBS_DIR/$j.fio" > /dev/null
  wait "$collector"
  collector=""
  requests=$(wc -l < "$trace")
  echo "$j: $requests requests"
  rm -f "$trace.summary.json"
  xz -9 -f "$trace"
done
