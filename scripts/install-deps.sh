#!/usr/bin/env bash
# Installs the Debian packages ssdtune builds and tests with (run as root).
# Used by .ci/run and by the README quick start. PostgreSQL and Redis are for
# the fleet tests, which start their own servers on loopback ports (nothing
# here starts the system services).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential python3 make g++ pkg-config patch time \
  libbz2-dev liblzma-dev libzstd-dev zlib1g-dev liburing-dev \
  clang llvm libbpf-dev libelf-dev bpftool linux-libc-dev libfuse3-dev \
  fio blktrace bpftrace util-linux kmod strace gzip bzip2 xz-utils zstd \
  python3-sklearn python3-numpy \
  chromium fonts-dejavu-core zsh groff-base clang-format \
  postgresql redis-server
