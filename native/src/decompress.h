// Streaming bz2 / xz / zstd decompression for trace input (Node's zlib has
// only gzip and brotli). Exposed to JS as `Decompressor`; see
// src/readers/decompress.ts for the Transform stream built on it.
#pragma once
#include <napi.h>

namespace ssdtune {
void InitDecompress(Napi::Env env, Napi::Object exports);
}  // namespace ssdtune
