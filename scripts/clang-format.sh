#!/usr/bin/env bash
# clang-format over the C++ and BPF C of native/ and the C of bench/ (the tracked sources; vmlinux.h and generated
# skeletons are not ours). --check: list the files that differ from .clang-format and fail;
# otherwise rewrite them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed (apt-get install clang-format; scripts/install-deps.sh does)" >&2; exit 1; }
mapfile -t files < <(git ls-files 'native/*.cc' 'native/*.h' 'native/*.c' 'bench/*.c' | grep -v -E '(^|/)vmlinux\.h$|\.skel\.h$')
if [ "${1:-}" = --check ]; then
  clang-format --dry-run -Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
