// Live block I/O collector: the native half of the kernel blktrace backend
// (the tracefs backend needs no native code; the eBPF backend is the
// separate ssdtune_ebpf addon, ebpf_session.cc).
#pragma once
#include <napi.h>

namespace ssdtune {
void InitBlktraceIoctl(Napi::Env env, Napi::Object exports);
}  // namespace ssdtune
