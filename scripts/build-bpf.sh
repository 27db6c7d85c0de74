#!/usr/bin/env bash
# Builds native/bpf/biotrace.bpf.o (the eBPF collector) when the toolchain is
# here: clang, bpftool, libbpf headers and the running kernel's BTF. Never
# fails the surrounding build: without the toolchain it records why in
# native/bpf/build-status.json, which `ssdtune doctor` reports.
# Run by binding.gyp (so `npm ci` / `npm run build:native` build it) or by hand.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/native/bpf/biotrace.bpf.c"
out="$root/native/bpf/biotrace.bpf.o"
status="$root/native/bpf/build-status.json"
btf="${SSDTUNE_BTF:-/sys/kernel/btf/vmlinux}"

report() { # built(true|false) reason
  [ "$1" = true ] || rm -f "$out" # never leave a stale object that looks current
  printf '{"built":%s,"reason":"%s","object":"%s","time":"%s"}\n' \
    "$1" "$(printf '%s' "$2" | tr '"\n\\' "' /")" "$out" "$(date -u +%FT%TZ)" >"$status"
  echo "build-bpf: $2" >&2
  exit 0
}

command -v clang >/dev/null || report false "clang not found (apt-get install clang)"
command -v bpftool >/dev/null || report false "bpftool not found (apt-get install bpftool)"
[ -f /usr/include/bpf/bpf_helpers.h ] || [ -f /usr/local/include/bpf/bpf_helpers.h ] ||
  report false "libbpf headers not found (apt-get install libbpf-dev)"
[ -r "$btf" ] || report false "kernel BTF $btf not readable (kernel built without CONFIG_DEBUG_INFO_BTF)"

case "$(uname -m)" in
  x86_64) arch=x86 ;; aarch64) arch=arm64 ;; armv7*) arch=arm ;; ppc64le) arch=powerpc ;;
  s390x) arch=s390 ;; riscv64) arch=riscv ;; *) arch="$(uname -m)" ;;
esac

# vmlinux.h comes from the running kernel's BTF at build time; CO-RE
# relocations make the object portable to other kernels with BTF anyway.
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
if ! err="$(bpftool btf dump file "$btf" format c 2>&1 >"$gen/vmlinux.h")"; then
  report false "bpftool btf dump failed: $err"
fi
if ! err="$(clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$arch -I"$gen" -I"$root/native/bpf" \
  -c "$src" -o "$out.tmp" 2>&1)"; then
  rm -f "$out.tmp"
  report false "clang failed: $err"
fi
mv "$out.tmp" "$out"
report true "built with $(clang --version | head -1)"
