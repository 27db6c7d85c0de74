// Every native subsystem registers its exports through one Init function.
// addon.cc calls them in order; keep one line per subsystem.
#pragma once
#include <napi.h>

namespace ssdtune {
void InitDecompress(Napi::Env env, Napi::Object exports);  // decompress.cc: bz2/xz/zstd streams
void InitBlktrace(Napi::Env env, Napi::Object exports);
void InitSsdSim(Napi::Env env, Napi::Object exports);
void InitCollector(Napi::Env env, Napi::Object exports);
void InitTextScan(Napi::Env env, Napi::Object exports);     // textscan.cc: numeric text line tokenizer
void InitLinalg(Napi::Env env, Napi::Object exports);       // linalg.cc: Cholesky and inverse for the GP fit
void InitDescriptors(Napi::Env env, Napi::Object exports);  // descriptors.cc: window descriptors + per-I/O features
void InitFileLock(Napi::Env env, Napi::Object exports);     // file_lock.cc: flock for lock files
}  // namespace ssdtune
