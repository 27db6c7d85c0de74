// Live block I/O collector: the native halves of the eBPF and kernel
// blktrace backends (the tracefs backend needs no native code).
#pragma once
#include <napi.h>

namespace ssdtune {
void InitEbpfSession(Napi::Env env, Napi::Object exports);
void InitBlktraceIoctl(Napi::Env env, Napi::Object exports);
}  // namespace ssdtune
