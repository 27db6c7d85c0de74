#!/usr/bin/env bash
# Build a libFuzzer harness and run it.
#   native/fuzz/run.sh [seconds=600] [extra libFuzzer flags...]           blktrace core
#   FUZZ=textscan native/fuzz/run.sh [seconds=600] [flags...]             text tokenizer (seeds corpus-textscan/, new inputs out/corpus-textscan-run/)
#   FUZZ=decompress native/fuzz/run.sh [seconds=600] [flags...]           gzip/bz2/xz/zstd decoders (seeds corpus-decompress/, new inputs out/corpus-decompress-run/)
# Needs clang (14+) with libclang-rt (-fsanitize=fuzzer,address). Runs niced:
# the machine is shared. New inputs go to native/fuzz/corpus-run/, crashes to
# native/fuzz/out/ (both gitignored); the checked-in seeds are native/fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
CXX="${CXX:-$(command -v clang++-14 || command -v clang++)}"
FLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I../src)
mkdir -p out
if [ "${FUZZ:-blktrace}" = textscan ]; then
  mkdir -p out/corpus-textscan-run
  "$CXX" "${FLAGS[@]}" textscan_fuzz.cc -o out/textscan_fuzz
  exec nice -n 10 out/textscan_fuzz out/corpus-textscan-run corpus-textscan -max_total_time="$secs" -artifact_prefix=out/ -print_final_stats=1 "$@"
fi
if [ "${FUZZ:-blktrace}" = decompress ]; then
  mkdir -p out/corpus-decompress-run
  "$CXX" "${FLAGS[@]}" decompress_fuzz.cc -o out/decompress_fuzz -lz -lbz2 -llzma -lzstd
  exec nice -n 10 out/decompress_fuzz out/corpus-decompress-run corpus-decompress -max_total_time="$secs" -artifact_prefix=out/ -print_final_stats=1 -rss_limit_mb=1024 "$@"
fi
mkdir -p corpus-run
"$CXX" "${FLAGS[@]}" blktrace_fuzz.cc ../src/blktrace_parser.cc -o out/blktrace_fuzz
exec nice -n 10 out/blktrace_fuzz corpus-run corpus -max_total_time="$secs" -artifact_prefix=out/ -print_final_stats=1 "$@"
