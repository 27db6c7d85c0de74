// Every native subsystem registers its exports through one Init function.
// addon.cc calls them in order; keep one line per subsystem.
#pragma once
#include <napi.h>

namespace ssdtune {
void InitCollector(Napi::Env env, Napi::Object exports);
}  // namespace ssdtune
