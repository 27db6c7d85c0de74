// The stamp of the native sources an addon was built from: a hash of
// binding.gyp, native/src and native/bpf (scripts/native-stamp.cjs, written
// to ssdtune_stamp.h by binding.gyp's native_stamp target whenever one of
// them changes). Every addon exports it as `sourceStamp`; src/native.ts
// refuses an addon whose stamp is not that of the sources beside it, which
// is what a build/ left from older sources looks like (`npm ci` keeps it).
#pragma once
#include <napi.h>

#include "ssdtune_stamp.h"

namespace ssdtune {
inline void ExportSourceStamp(Napi::Env env, Napi::Object exports) { exports.Set("sourceStamp", Napi::String::New(env, SSDTUNE_SOURCE_STAMP)); }
}  // namespace ssdtune
