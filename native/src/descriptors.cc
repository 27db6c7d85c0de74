// Window descriptors and per-I/O features of ONE window of requests, the hot
// loop of the characterisation pipeline (src/ml/characterise.ts). The
// definitions are the ones documented in src/features/descriptors.ts (the
// descriptors) and src/features/perio.ts (the per-I/O features); this file
// is their only implementation.
//
//   describeWindow(window, out: Float64Array, perIo?): undefined | {request, sector, devices}
//
// window: {timeNs: Float64Array, sector: Float64Array, bytes: Uint32Array,
//          op: Uint16Array, device: Uint32Array, completeNs?: Float64Array,
//          prevTimeNs: number}  (a RequestWindow; all columns of equal length n >= 1)
// out:    receives the descriptors in the order of descriptorFields (exported
//         next to the function so the TypeScript side can check the order).
// perIo:  optional {logIat, logOffset, logSize: Float64Array, isRead: Uint8Array,
//         device: Uint32Array} of length n, filled with the per-I/O features.
// Returns undefined, or, when a request lies beyond what the reuse table can
// key (sector >= 2^44, i.e. page >= 2^41, or a NaN/negative sector, or
// >= 4096 devices in the window), the offending request so that the caller
// raises its coded error. Bad argument types or lengths throw TypeError.
//
// Typed arrays in and out: no JS object per request or per descriptor.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "modules.h"

namespace ssdtune {
namespace {

constexpr double kSectorBytes = 512;
constexpr double kNominalLatencyNs = 100000;  // NOMINAL_LATENCY_NS in descriptors.ts
constexpr double kReusePageSectors = 8;       // REUSE_PAGE_SECTORS in descriptors.ts
constexpr double kPageLimit = 2199023255552.0;  // 2^41 pages: page << 12 | device stays below 2^53
constexpr uint32_t kDeviceLimit = 4096;
constexpr uint16_t kOpRead = 1;  // Op.READ in src/trace/model.ts

// Output slots, in the order of the Descriptors interface.
enum Slot {
  kRequests, kReadRatio, kSizeP10, kSizeP50, kSizeP90, kSizeMode, kOffsetP10, kOffsetP50, kOffsetP90,
  kIatP10, kIatP50, kIatP90, kIatMean, kIatCv, kSequentialFraction, kLbaSpanBytes, kReuseFraction,
  kReuseIntervalMedian, kQueueDepth, kQueueDepthMeasured, kDevices, kMeanLogIat, kStdLogIat,
  kMeanLogOffset, kStdLogOffset, kMeanLogSize, kStdLogSize, kSlots
};
const char* const kSlotNames[kSlots] = {
    "requests", "readRatio", "sizeP10", "sizeP50", "sizeP90", "sizeMode", "offsetP10", "offsetP50", "offsetP90",
    "iatP10", "iatP50", "iatP90", "iatMean", "iatCv", "sequentialFraction", "lbaSpanBytes", "reuseFraction",
    "reuseIntervalMedian", "queueDepth", "queueDepthMeasured", "devices", "meanLogIat", "stdLogIat",
    "meanLogOffset", "stdLogOffset", "meanLogSize", "stdLogSize"};

struct Window {
  size_t n;
  const double* time;
  const double* sector;
  const uint32_t* bytes;
  const uint16_t* op;
  const uint32_t* device;
  const double* complete;  // nullptr when the trace has no completion times
  double prevTime;         // NaN at the stream start
};

struct PerIo {
  double* logIat;
  double* logOffset;
  double* logSize;
  uint8_t* isRead;
  uint32_t* device;
};

struct OutOfRange {
  size_t request;
  double sector;
  uint32_t devices;
};

// Scratch reused between calls (per thread: worker threads may load the addon too).
struct Scratch {
  std::vector<double> gaps, offsets, sizes, intervals, logIat, logOffset, logSize;
  std::vector<uint32_t> ordinal;
  std::unordered_map<uint32_t, uint32_t> ordinalOf;
  // Reuse table: open addressing keyed by page << 12 | device ordinal; a slot is live when its
  // generation is the current one, so nothing is cleared between windows.
  std::vector<uint64_t> slotKey;
  std::vector<uint32_t> slotIdx, slotGen;
  uint32_t generation = 0;
};
thread_local Scratch scratch;

// numpy "linear" (type 7) percentiles, ps ascending in [0, 1]: for sorted x,
// x[f] + (x[f+1] - x[f]) (h - f) with h = p (n - 1), f = floor(h). Selection
// instead of a sort: nth_element puts the f-th smallest at f with smaller ones
// before and larger after, so x[f+1] of the sorted order is the minimum of the
// tail and the next p only needs to search the tail. Reorders x.
void Percentiles(double* x, size_t n, const double* ps, size_t np, double* out) {
  if (n == 0) {
    std::fill(out, out + np, 0.0);
    return;
  }
  size_t from = 0;  // x[0, from) holds the smallest values, in place
  for (size_t k = 0; k < np; k++) {
    const double h = ps[k] * double(n - 1);
    const size_t f = size_t(std::floor(h));
    if (f >= from) {
      std::nth_element(x + from, x + f, x + n);
      from = f + 1;
    }
    const double lo = x[f];
    if (f + 1 >= n || h == double(f)) {
      out[k] = lo;
      continue;
    }
    const double next = *std::min_element(x + f + 1, x + n);
    out[k] = lo + (next - lo) * (h - double(f));
  }
}

// Mean and population standard deviation, two passes (as numpy's mean / std).
void MeanStd(const double* x, size_t n, double* mean, double* std) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  const double m = s / double(n);
  double v = 0;
  for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *std = std::sqrt(v / double(n));
}

uint64_t HashKey(uint64_t key, unsigned shift) { return (key * 0x9E3779B97F4A7C15ull) >> shift; }

// For every request whose start page (device, floor(sector / 8)) started an earlier request of
// the window: the distance in requests to the latest such one, appended to intervals.
bool ReuseIntervals(const Window& w, const uint32_t* ordinal, std::vector<double>& intervals, OutOfRange* bad) {
  Scratch& s = scratch;
  size_t cap = 16;
  unsigned bits = 4;
  while (cap < 2 * w.n) cap *= 2, bits++;
  if (s.slotKey.size() < cap) {
    s.slotKey.assign(cap, 0);
    s.slotIdx.assign(cap, 0);
    s.slotGen.assign(cap, 0);
    s.generation = 0;
  } else {
    cap = s.slotKey.size();
    bits = 0;
    while ((size_t(1) << bits) < cap) bits++;
  }
  if (++s.generation == 0xffffffffu) {
    std::fill(s.slotGen.begin(), s.slotGen.end(), 0);
    s.generation = 1;
  }
  const uint32_t gen = s.generation;
  const size_t mask = cap - 1;
  const unsigned shift = 64 - bits;
  intervals.clear();
  for (size_t i = 0; i < w.n; i++) {
    const double page = std::floor(w.sector[i] / kReusePageSectors);
    const uint32_t dev = ordinal[i];
    if (!(page >= 0 && page < kPageLimit) || dev >= kDeviceLimit) {
      *bad = {i, w.sector[i], dev + 1};
      return false;
    }
    const uint64_t key = (uint64_t(page) << 12) | dev;
    size_t h = HashKey(key, shift);
    while (s.slotGen[h] == gen && s.slotKey[h] != key) h = (h + 1) & mask;
    if (s.slotGen[h] == gen) {
      intervals.push_back(double(i - s.slotIdx[h]));
    } else {
      s.slotGen[h] = gen;
      s.slotKey[h] = key;
    }
    s.slotIdx[h] = uint32_t(i);
  }
  return true;
}

bool Describe(const Window& w, double* out, const PerIo* perIo, OutOfRange* bad) {
  Scratch& s = scratch;
  const size_t n = w.n;
  s.gaps.resize(n);
  s.offsets.resize(n);
  s.sizes.resize(n);
  s.ordinal.resize(n);
  double* logIat = perIo ? perIo->logIat : (s.logIat.resize(n), s.logIat.data());
  double* logOffset = perIo ? perIo->logOffset : (s.logOffset.resize(n), s.logOffset.data());
  double* logSize = perIo ? perIo->logSize : (s.logSize.resize(n), s.logSize.data());
  uint32_t* ordinal = perIo ? perIo->device : s.ordinal.data();

  double minSector = INFINITY;
  for (size_t i = 0; i < n; i++) minSector = std::min(minSector, w.sector[i]);

  // One pass over the requests for everything that does not need the whole window first.
  s.ordinalOf.clear();
  uint32_t lastDev = 0, lastOrd = 0, devices = 0;
  bool haveDev = false;
  uint32_t lastBytes = 0;
  double lastLogSize = 0;  // sizes repeat (4 KiB, 8 KiB...): reuse the last logarithm
  bool haveBytes = false;
  size_t reads = 0, seq = 0;
  double lo = INFINITY, hi = -INFINITY;
  double busy = 0, first = INFINITY, end = -INFINITY;
  bool measured = w.complete != nullptr;
  for (size_t i = 0; i < n; i++) {
    const double t = w.time[i];
    const double sec = w.sector[i];
    const uint32_t b = w.bytes[i];
    const double prev = i > 0 ? w.time[i - 1] : w.prevTime;
    const double g = std::isnan(prev) ? 0 : t - prev;
    const double gapUs = (g > 0 ? g : 0) / 1000;  // out-of-order arrivals count as simultaneous
    s.gaps[i] = gapUs;
    logIat[i] = std::log1p(gapUs);
    logOffset[i] = std::log1p(sec - minSector);
    if (!haveBytes || b != lastBytes) {
      lastBytes = b;
      lastLogSize = std::log1p(double(b));
      haveBytes = true;
    }
    logSize[i] = lastLogSize;
    const bool read = (w.op[i] & kOpRead) != 0;
    if (perIo) perIo->isRead[i] = read ? 1 : 0;
    reads += read;
    // Device ordinals in order of first appearance; most windows hold one device, so skip the map while it repeats.
    const uint32_t d = w.device[i];
    if (!haveDev || d != lastDev) {
      auto it = s.ordinalOf.emplace(d, devices);
      if (it.second) devices++;
      lastDev = d;
      lastOrd = it.first->second;
      haveDev = true;
    }
    ordinal[i] = lastOrd;
    s.offsets[i] = sec * kSectorBytes;
    s.sizes[i] = double(b);
    if (i > 0 && d == w.device[i - 1] && sec == w.sector[i - 1] + w.bytes[i - 1] / kSectorBytes) seq++;
    lo = std::min(lo, sec);
    hi = std::max(hi, sec + b / kSectorBytes);
    double lat = kNominalLatencyNs;
    if (w.complete && std::isfinite(w.complete[i]) && w.complete[i] >= t) lat = w.complete[i] - t;
    else measured = false;
    busy += lat;
    first = std::min(first, t);
    end = std::max(end, t + lat);
  }

  if (!ReuseIntervals(w, ordinal, s.intervals, bad)) return false;

  static const double kDeciles[3] = {0.1, 0.5, 0.9};
  static const double kMedian[1] = {0.5};
  const double dn = double(n);
  out[kRequests] = dn;
  out[kReadRatio] = double(reads) / dn;

  // Sizes: sorted, for the mode (the smallest of the most frequent) by runs; selection on sorted data is cheap.
  std::sort(s.sizes.begin(), s.sizes.end());
  double mode = 0;
  size_t modeN = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && s.sizes[j] == s.sizes[i]) j++;
    if (j - i > modeN) mode = s.sizes[i], modeN = j - i;
    i = j;
  }
  Percentiles(s.sizes.data(), n, kDeciles, 3, out + kSizeP10);
  out[kSizeMode] = mode;
  Percentiles(s.offsets.data(), n, kDeciles, 3, out + kOffsetP10);

  double iatMean, iatStd;
  MeanStd(s.gaps.data(), n, &iatMean, &iatStd);
  Percentiles(s.gaps.data(), n, kDeciles, 3, out + kIatP10);
  out[kIatMean] = iatMean;
  out[kIatCv] = iatMean > 0 ? iatStd / iatMean : 0;
  out[kSequentialFraction] = n > 1 ? double(seq) / double(n - 1) : 0;
  out[kLbaSpanBytes] = (hi - lo) * kSectorBytes;
  out[kReuseFraction] = double(s.intervals.size()) / dn;
  Percentiles(s.intervals.data(), s.intervals.size(), kMedian, 1, out + kReuseIntervalMedian);
  out[kQueueDepth] = end > first ? busy / (end - first) : 0;
  out[kQueueDepthMeasured] = measured ? 1 : 0;
  out[kDevices] = double(devices);
  MeanStd(logIat, n, out + kMeanLogIat, out + kStdLogIat);
  MeanStd(logOffset, n, out + kMeanLogOffset, out + kStdLogOffset);
  MeanStd(logSize, n, out + kMeanLogSize, out + kStdLogSize);
  return true;
}

// ---- binding

const char* TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "an Int8Array";
    case napi_uint8_array: return "a Uint8Array";
    case napi_uint8_clamped_array: return "a Uint8ClampedArray";
    case napi_int16_array: return "an Int16Array";
    case napi_uint16_array: return "a Uint16Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_float32_array: return "a Float32Array";
    case napi_float64_array: return "a Float64Array";
    default: return "a BigInt typed array";
  }
}

std::string Kind(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsArray()) return "an Array";
  if (v.IsTypedArray()) return TypedArrayName(v.As<Napi::TypedArray>().TypedArrayType());
  return "an object";
}

// obj[name] as a typed array of element type T (napi type `type`); its length must be *n,
// unless *n is SIZE_MAX (then *n is set from it).
template <typename T>
T* Column(const Napi::Object& obj, const char* objName, const char* name, napi_typedarray_type type, size_t* n) {
  Napi::Env env = obj.Env();
  Napi::Value v = obj.Get(name);
  const std::string field = std::string("describeWindow: ") + objName + "." + name;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, field + " must be " + TypedArrayName(type) + ", got " + Kind(v));
  auto a = v.As<Napi::TypedArrayOf<T>>();
  if (*n == SIZE_MAX) *n = a.ElementLength();
  else if (a.ElementLength() != *n)
    throw Napi::TypeError::New(env, field + " has " + std::to_string(a.ElementLength()) + " elements, expected " + std::to_string(*n) +
                                        " (the length of window.timeNs)");
  return a.Data();
}

Napi::Value DescribeWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "describeWindow(window: {timeNs, sector, bytes, op, device, completeNs?, prevTimeNs}, out: Float64Array, perIo?)";
  if (info.Length() < 2 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray())
    throw Napi::TypeError::New(env, std::string(usage) + ": window must be an object, got " + Kind(info[0]));
  Napi::Object o = info[0].As<Napi::Object>();
  Window w{};
  w.n = SIZE_MAX;
  w.time = Column<double>(o, "window", "timeNs", napi_float64_array, &w.n);
  if (w.n == 0) throw Napi::TypeError::New(env, "describeWindow: the window is empty (window.timeNs has 0 elements); a window needs at least 1 request");
  w.sector = Column<double>(o, "window", "sector", napi_float64_array, &w.n);
  w.bytes = Column<uint32_t>(o, "window", "bytes", napi_uint32_array, &w.n);
  w.op = Column<uint16_t>(o, "window", "op", napi_uint16_array, &w.n);
  w.device = Column<uint32_t>(o, "window", "device", napi_uint32_array, &w.n);
  Napi::Value c = o.Get("completeNs");
  w.complete = c.IsUndefined() || c.IsNull() ? nullptr : Column<double>(o, "window", "completeNs", napi_float64_array, &w.n);
  Napi::Value prev = o.Get("prevTimeNs");
  if (!prev.IsNumber()) throw Napi::TypeError::New(env, "describeWindow: window.prevTimeNs must be a number (NaN at the stream start), got " + Kind(prev));
  w.prevTime = prev.As<Napi::Number>().DoubleValue();

  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "describeWindow: out must be a Float64Array, got " + Kind(info[1]));
  auto outArr = info[1].As<Napi::Float64Array>();
  if (outArr.ElementLength() < kSlots)
    throw Napi::TypeError::New(env, "describeWindow: out has " + std::to_string(outArr.ElementLength()) + " elements, needs " + std::to_string(kSlots));

  PerIo perIo{};
  bool withPerIo = info.Length() >= 3 && !info[2].IsUndefined();
  if (withPerIo) {
    if (!info[2].IsObject() || info[2].IsArray() || info[2].IsTypedArray())
      throw Napi::TypeError::New(env, "describeWindow: perIo must be an object of typed arrays, got " + Kind(info[2]));
    Napi::Object p = info[2].As<Napi::Object>();
    perIo.logIat = Column<double>(p, "perIo", "logIat", napi_float64_array, &w.n);
    perIo.logOffset = Column<double>(p, "perIo", "logOffset", napi_float64_array, &w.n);
    perIo.logSize = Column<double>(p, "perIo", "logSize", napi_float64_array, &w.n);
    perIo.isRead = Column<uint8_t>(p, "perIo", "isRead", napi_uint8_array, &w.n);
    perIo.device = Column<uint32_t>(p, "perIo", "device", napi_uint32_array, &w.n);
  }

  OutOfRange bad{};
  if (Describe(w, outArr.Data(), withPerIo ? &perIo : nullptr, &bad)) return env.Undefined();
  Napi::Object r = Napi::Object::New(env);
  r.Set("request", Napi::Number::New(env, double(bad.request)));
  r.Set("sector", Napi::Number::New(env, bad.sector));
  r.Set("devices", Napi::Number::New(env, double(bad.devices)));
  return r;
}

}  // namespace

void InitDescriptors(Napi::Env env, Napi::Object exports) {
  exports.Set("describeWindow", Napi::Function::New(env, DescribeWindow, "describeWindow"));
  Napi::Array names = Napi::Array::New(env, kSlots);
  for (uint32_t i = 0; i < kSlots; i++) names.Set(i, Napi::String::New(env, kSlotNames[i]));
  exports.Set("descriptorFields", names);
}

}  // namespace ssdtune
