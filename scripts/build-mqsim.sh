#!/usr/bin/env bash
# Builds MQSim (the reference SSD simulator, ../shared/mqsim/) outside the repository, with the small
# ssdtune patch in scripts/mqsim/ssdtune.patch applied:
#   - exact figures in ns in the IO_Flow element of the result XML (last completion time, simulated end
#     time, sums of device response time and end-to-end delay, read/write serviced counts): upstream
#     reports whole seconds for IOPS (inf below one simulated second) and whole microseconds for delays;
#   - MQSIM_NO_WAIT=1 skips the final key press.
# Nothing in the simulation changes. MQSim's code is never committed here.
#
# Usage: scripts/build-mqsim.sh [dir]   (default ${SSDTUNE_MQSIM_DIR:-/tmp/mqsim}); prints the binary path.
# Idempotent: a binary built from the same tarball and patch is reused (stamp file).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-${SSDTUNE_MQSIM_DIR:-/tmp/mqsim}}"
src="${SSDTUNE_MQSIM_SRC:-$here/../../shared/mqsim/MQSim-src.tar.gz}"
patchfile="$here/mqsim/ssdtune.patch"
jobs="${SSDTUNE_MQSIM_JOBS:-2}"

[ -f "$src" ] || { echo "build-mqsim: MQSim source not found at $src (set SSDTUNE_MQSIM_SRC)" >&2; exit 2; }
command -v g++ >/dev/null && command -v make >/dev/null && command -v patch >/dev/null || {
  echo "build-mqsim: needs g++, make and patch" >&2; exit 2; }

stamp="$(sha256sum "$src" "$patchfile" | sha256sum | cut -c1-16)"
bin="$dir/MQSim/MQSim"
if [ -x "$bin" ] && [ "$(cat "$dir/.ssdtune-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"; exit 0
fi

mkdir -p "$dir"
lock="$dir/.build.lock"
exec 9>"$lock"
flock 9   # two tests or benches building at once wait for one build
if [ -x "$bin" ] && [ "$(cat "$dir/.ssdtune-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"; exit 0
fi
rm -rf "$dir/MQSim"
tar -xzf "$src" -C "$dir"
patch -s -p1 -d "$dir/MQSim" < "$patchfile"
# -g dropped from upstream's flags: same code, a faster build.
make -s -C "$dir/MQSim" -j"$jobs" CC_FLAGS="-std=c++11 -O3" >&2
echo "$stamp" > "$dir/.ssdtune-stamp"
echo "$bin"
