#!/usr/bin/env bash
# Builds the eBPF collector's skeleton header OUT_DIR/biotrace.skel.h
# (`bpftool gen skeleton`: the compiled program embedded as bytes, with typed
# access to its maps, programs and read-only variables), which the
# ssdtune_ebpf addon compiles in. Needs clang, bpftool, libbpf headers and
# the running kernel's BTF (for vmlinux.h; CO-RE relocations make the program
# portable to other kernels with BTF).
#
# Never fails the surrounding build. Without the toolchain it uses the
# skeleton shipped in the npm package (native/bpf/biotrace.skel.h, made by
# scripts/prebuild.sh), else writes a header defining
# BIOTRACE_SKEL_UNAVAILABLE with the reason, which the addon reports at run
# time (`ssdtune doctor`).
# Run by binding.gyp (so `npm ci` / `npm run build:native` run it) or by hand:
#   scripts/build-bpf.sh OUT_DIR
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="${1:?usage: build-bpf.sh OUT_DIR}"
mkdir -p "$out_dir"
src="$root/native/bpf/biotrace.bpf.c"
skel="$out_dir/biotrace.skel.h"
shipped="$root/native/bpf/biotrace.skel.h"
btf="${SSDTUNE_BTF:-/sys/kernel/btf/vmlinux}"

unavailable() { # reason
  if [ -f "$shipped" ] && [ "$shipped" != "$skel" ]; then
    cp "$shipped" "$skel"
    echo "build-bpf: $1; using the shipped skeleton $shipped" >&2
    exit 0
  fi
  {
    echo "/* written by scripts/build-bpf.sh: no eBPF skeleton could be built */"
    printf '#define BIOTRACE_SKEL_UNAVAILABLE "%s"\n' "$(printf '%s' "$1" | tr '"\n\\' "' /")"
  } >"$skel"
  echo "build-bpf: $1" >&2
  exit 0
}

command -v clang >/dev/null || unavailable "clang was not installed when the addon was built (apt-get install clang)"
command -v bpftool >/dev/null || unavailable "bpftool was not installed when the addon was built (apt-get install bpftool)"
[ -f /usr/include/bpf/bpf_helpers.h ] || [ -f /usr/local/include/bpf/bpf_helpers.h ] ||
  unavailable "libbpf headers were not installed when the addon was built (apt-get install libbpf-dev)"
[ -r "$btf" ] || unavailable "kernel BTF $btf was not readable when the addon was built (kernel without CONFIG_DEBUG_INFO_BTF)"

case "$(uname -m)" in
  x86_64) arch=x86 ;; aarch64) arch=arm64 ;; armv7*) arch=arm ;; ppc64le) arch=powerpc ;;
  s390x) arch=s390 ;; riscv64) arch=riscv ;; *) arch="$(uname -m)" ;;
esac

gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
if ! err="$(bpftool btf dump file "$btf" format c 2>&1 >"$gen/vmlinux.h")"; then
  unavailable "bpftool btf dump failed: $err"
fi
if ! err="$(clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$arch -I"$gen" -I"$root/native/bpf" \
  -c "$src" -o "$gen/biotrace.bpf.o" 2>&1)"; then
  unavailable "clang failed on biotrace.bpf.c: $err"
fi
# Strip DWARF (the skeleton embeds the object; BTF stays, CO-RE needs it).
llvm-strip -g "$gen/biotrace.bpf.o" 2>/dev/null || true
if ! bpftool gen skeleton "$gen/biotrace.bpf.o" name biotrace >"$gen/biotrace.skel.h" 2>"$gen/err"; then
  unavailable "bpftool gen skeleton failed: $(cat "$gen/err")"
fi
{
  echo "/* built by scripts/build-bpf.sh with $(clang --version | head -1) */"
  printf '#define BIOTRACE_SKEL_BUILT_WITH "%s"\n' "$(clang --version | head -1 | tr '"\\' "' ")"
  cat "$gen/biotrace.skel.h"
} >"$skel.tmp" && mv "$skel.tmp" "$skel"
echo "build-bpf: $skel built" >&2
