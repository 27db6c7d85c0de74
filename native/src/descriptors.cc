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
constexpr double kNominalLatencyNs = 100000;    // NOMINAL_LATENCY_NS in descriptors.ts
constexpr double kReusePageSectors = 8;         // REUSE_PAGE_SECTORS in descriptors.ts
constexpr double kPageLimit = 2199023255552.0;  // 2^41 pages: page << 12 | device stays below 2^53
constexpr uint32_t kDeviceLimit = 4096;
constexpr uint16_t kOpRead = 1;              // Op.READ in src/trace/model.ts
constexpr double kNearBytes = 1 << 20;       // NEAR_JUMP_BYTES in descriptors.ts
constexpr double kJumpClipBytes = 16 << 20;  // JUMP_CLIP_BYTES in descriptors.ts
// REGION_BYTES in descriptors.ts: 64 KiB, 1 MiB, 16 MiB, in sectors.
constexpr double kRegionSectors[3] = {128, 2048, 32768};

// Output slots, in the order of the Descriptors interface.
enum Slot {
  kRequests,
  kReadRatio,
  kSizeP10,
  kSizeP50,
  kSizeP90,
  kSizeMode,
  kOffsetP10,
  kOffsetP50,
  kOffsetP90,
  kIatP10,
  kIatP50,
  kIatP90,
  kIatMean,
  kIatCv,
  kSequentialFraction,
  kLbaSpanBytes,
  kReuseFraction,
  kReuseIntervalMedian,
  kQueueDepth,
  kQueueDepthMeasured,
  kDevices,
  kMeanLogIat,
  kStdLogIat,
  kMeanLogOffset,
  kStdLogOffset,
  kMeanLogSize,
  kStdLogSize,
  kNearFraction,
  kJumpMedianBytes,
  kRegions64k,
  kRegions1m,
  kRegions16m,
  kReadSizeP50,
  kWriteSizeP50,
  kReadSequentialFraction,
  kWriteSequentialFraction,
  kAlignedFraction,
  kSizeUpTo4k,
  kSize4kTo16k,
  kSize16kTo64k,
  kSlots
};
const char* const kSlotNames[kSlots] = {"requests",
                                        "readRatio",
                                        "sizeP10",
                                        "sizeP50",
                                        "sizeP90",
                                        "sizeMode",
                                        "offsetP10",
                                        "offsetP50",
                                        "offsetP90",
                                        "iatP10",
                                        "iatP50",
                                        "iatP90",
                                        "iatMean",
                                        "iatCv",
                                        "sequentialFraction",
                                        "lbaSpanBytes",
                                        "reuseFraction",
                                        "reuseIntervalMedian",
                                        "queueDepth",
                                        "queueDepthMeasured",
                                        "devices",
                                        "meanLogIat",
                                        "stdLogIat",
                                        "meanLogOffset",
                                        "stdLogOffset",
                                        "meanLogSize",
                                        "stdLogSize",
                                        "nearFraction",
                                        "jumpMedianBytes",
                                        "regions64k",
                                        "regions1m",
                                        "regions16m",
                                        "readSizeP50",
                                        "writeSizeP50",
                                        "readSequentialFraction",
                                        "writeSequentialFraction",
                                        "alignedFraction",
                                        "sizeUpTo4k",
                                        "size4kTo16k",
                                        "size16kTo64k"};

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

// Open-addressing hash table from uint64 keys to uint32 values, kept between
// calls: a slot is live when its stamp is the current generation, so starting
// over for the next window clears nothing.
class StampedTable {
 public:
  // Empties the table, sized for up to n keys (load <= 1/2).
  void Reset(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (key_.size() < cap) {
      key_.assign(cap, 0);
      value_.assign(cap, 0);
      stamp_.assign(cap, 0);
      gen_ = 0;
    }
    cap = key_.size();
    mask_ = cap - 1;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1) shift_--;
    if (++gen_ == 0xffffffffu) {
      std::fill(stamp_.begin(), stamp_.end(), 0);
      gen_ = 1;
    }
  }
  // Slot of key; inserts it (value 0) when absent, and says so in *inserted.
  size_t Find(uint64_t key, bool* inserted) {
    // Fibonacci hashing: keep the product's HIGH bits (reuse keys have all-zero low bits when one device).
    size_t h = size_t((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (stamp_[h] == gen_ && key_[h] != key) h = (h + 1) & mask_;
    *inserted = stamp_[h] != gen_;
    if (*inserted) {
      stamp_[h] = gen_;
      key_[h] = key;
      value_[h] = 0;
    }
    return h;
  }
  uint64_t Key(size_t slot) const { return key_[slot]; }
  uint32_t& Value(size_t slot) { return value_[slot]; }

 private:
  std::vector<uint64_t> key_;
  std::vector<uint32_t> value_, stamp_;
  uint32_t gen_ = 0;
  size_t mask_ = 0;
  unsigned shift_ = 64;
};

// Scratch reused between calls (per thread: worker threads may load the addon too).
struct Scratch {
  std::vector<double> gaps, offsets, intervals, logIat, logOffset, logSize, jumps, readSizes, writeSizes;
  std::vector<uint32_t> ordinal;
  std::unordered_map<uint32_t, uint32_t> ordinalOf;
  StampedTable reuse;    // (page << 12 | device ordinal) -> last request that started there
  StampedTable sizes;    // request size -> count
  StampedTable regions;  // (region << 12 | device ordinal) -> seen
  std::vector<size_t> sizeSlots;
  std::vector<std::pair<double, uint32_t>> sizeCounts;  // (size, count), ascending
};
thread_local Scratch scratch;

// Puts the ranks fs[lo, hi) (ascending) of x[from, to) in place: the middle
// rank first over the whole range, then each side within its part, so every
// element is partitioned about log2(ranks) times instead of once per rank.
void SelectRanks(double* x, size_t from, size_t to, const size_t* fs, size_t lo, size_t hi) {
  if (lo >= hi) return;
  const size_t mid = lo + (hi - lo) / 2;
  const size_t f = fs[mid];
  if (f < from || f >= to) return;  // an equal rank, already in place
  std::nth_element(x + from, x + f, x + to);
  SelectRanks(x, from, f, fs, lo, mid);
  SelectRanks(x, f + 1, to, fs, mid + 1, hi);
}

// numpy "linear" (type 7) percentiles, ps ascending in [0, 1]: for sorted x,
// x[f] + (x[f+1] - x[f]) (h - f) with h = p (n - 1), f = floor(h). Selection
// instead of a sort: once the ranks f are in place, the sorted x[f+1] is the
// minimum of what lies between f and the next selected rank. Reorders x.
constexpr size_t kMaxPercentiles = 4;
void Percentiles(double* x, size_t n, const double* ps, size_t np, double* out) {
  if (n == 0) {
    std::fill(out, out + np, 0.0);
    return;
  }
  size_t f[kMaxPercentiles];
  double h[kMaxPercentiles];
  for (size_t k = 0; k < np; k++) {
    h[k] = ps[k] * double(n - 1);
    f[k] = size_t(std::floor(h[k]));
  }
  SelectRanks(x, 0, n, f, 0, np);
  for (size_t k = 0; k < np; k++) {
    const double lo = x[f[k]];
    if (f[k] + 1 >= n || h[k] == double(f[k])) {
      out[k] = lo;
      continue;
    }
    size_t bound = n;  // x[f[k]+1, bound) holds the sorted x[f[k]+1] (bound's own element included)
    for (size_t j = k + 1; j < np; j++)
      if (f[j] > f[k]) {
        bound = f[j] + 1;
        break;
      }
    const double next = *std::min_element(x + f[k] + 1, x + bound);
    out[k] = lo + (next - lo) * (h[k] - double(f[k]));
  }
}

// The same percentiles of values given as distinct (value, count) pairs in ascending order.
void PercentilesOfCounts(const std::vector<std::pair<double, uint32_t>>& vc, size_t n, const double* ps, size_t np, double* out) {
  auto rank = [&](size_t r) {  // r-th smallest (0-based)
    size_t seen = 0;
    for (const auto& p : vc) {
      seen += p.second;
      if (r < seen) return p.first;
    }
    return vc.back().first;
  };
  for (size_t k = 0; k < np; k++) {
    const double h = ps[k] * double(n - 1);
    const size_t f = size_t(std::floor(h));
    const double lo = rank(f);
    out[k] = f + 1 >= n || h == double(f) ? lo : lo + (rank(f + 1) - lo) * (h - double(f));
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

// For every request whose start page (device, floor(sector / 8)) started an earlier request of
// the window: the distance in requests to the latest such one, appended to intervals.
bool ReuseIntervals(const Window& w, const uint32_t* ordinal, std::vector<double>& intervals, OutOfRange* bad) {
  StampedTable& table = scratch.reuse;
  table.Reset(w.n);
  intervals.clear();
  for (size_t i = 0; i < w.n; i++) {
    const double page = std::floor(w.sector[i] / kReusePageSectors);
    const uint32_t dev = ordinal[i];
    if (!(page >= 0 && page < kPageLimit) || dev >= kDeviceLimit) {
      *bad = {i, w.sector[i], dev + 1};
      return false;
    }
    bool first;
    const size_t slot = table.Find((uint64_t(page) << 12) | dev, &first);
    if (!first) intervals.push_back(double(i - table.Value(slot)));
    table.Value(slot) = uint32_t(i);
  }
  return true;
}

// Distinct request sizes with their counts, ascending by size (windows hold few distinct sizes).
void SizeCounts(const Window& w, std::vector<std::pair<double, uint32_t>>& out) {
  Scratch& s = scratch;
  s.sizes.Reset(w.n);
  s.sizeSlots.clear();
  uint32_t last = 0;
  size_t lastSlot = SIZE_MAX;
  for (size_t i = 0; i < w.n; i++) {
    const uint32_t b = w.bytes[i];
    if (lastSlot == SIZE_MAX || b != last) {
      bool inserted;
      lastSlot = s.sizes.Find(b, &inserted);
      if (inserted) s.sizeSlots.push_back(lastSlot);
      last = b;
    }
    s.sizes.Value(lastSlot)++;
  }
  out.clear();
  for (size_t slot : s.sizeSlots) out.emplace_back(double(s.sizes.Key(slot)), s.sizes.Value(slot));
  std::sort(out.begin(), out.end());
}

// Distinct (device ordinal, region of `sectors` sectors) among the requests' start sectors.
// ReuseIntervals has already checked every sector and ordinal against the table's key range.
size_t DistinctRegions(const Window& w, const uint32_t* ordinal, double sectors) {
  StampedTable& table = scratch.regions;
  table.Reset(w.n);
  size_t distinct = 0;
  for (size_t i = 0; i < w.n; i++) {
    bool first;
    table.Find((uint64_t(std::floor(w.sector[i] / sectors)) << 12) | ordinal[i], &first);
    distinct += first;
  }
  return distinct;
}

bool Describe(const Window& w, double* out, const PerIo* perIo, OutOfRange* bad) {
  Scratch& s = scratch;
  const size_t n = w.n;
  s.gaps.resize(n);
  s.offsets.resize(n);
  s.ordinal.resize(n);
  s.jumps.clear();
  s.readSizes.clear();
  s.writeSizes.clear();
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
  size_t reads = 0, seq = 0, near = 0, aligned = 0;
  size_t readPairs = 0, readSeq = 0, writePairs = 0, writeSeq = 0;
  size_t upTo4k = 0, upTo16k = 0, upTo64k = 0;
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
    (read ? s.readSizes : s.writeSizes).push_back(double(b));
    if (std::fmod(sec, kReusePageSectors) == 0) aligned++;
    upTo4k += b <= 4096;
    upTo16k += b > 4096 && b <= 16384;
    upTo64k += b > 16384 && b <= 65536;
    if (i > 0) {
      // The jump from the previous request's end; across devices, as far as the clip.
      const bool sameDev = d == w.device[i - 1];
      const double jump = sameDev ? std::fabs(sec - (w.sector[i - 1] + w.bytes[i - 1] / kSectorBytes)) * kSectorBytes : kJumpClipBytes;
      const bool contiguous = sameDev && jump == 0;
      seq += contiguous;
      near += jump > 0 && jump <= kNearBytes;
      s.jumps.push_back(std::min(jump, kJumpClipBytes));
      if (read)
        readPairs++, readSeq += contiguous;
      else
        writePairs++, writeSeq += contiguous;
    }
    lo = std::min(lo, sec);
    hi = std::max(hi, sec + b / kSectorBytes);
    double lat = kNominalLatencyNs;
    if (w.complete && std::isfinite(w.complete[i]) && w.complete[i] >= t)
      lat = w.complete[i] - t;
    else
      measured = false;
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

  // Sizes: counted, for the mode (the smallest of the most frequent) and the percentiles.
  SizeCounts(w, s.sizeCounts);
  double mode = 0;
  size_t modeN = 0;
  for (const auto& vc : s.sizeCounts)
    if (vc.second > modeN) mode = vc.first, modeN = vc.second;
  PercentilesOfCounts(s.sizeCounts, n, kDeciles, 3, out + kSizeP10);
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

  out[kNearFraction] = n > 1 ? double(near) / double(n - 1) : 0;
  Percentiles(s.jumps.data(), s.jumps.size(), kMedian, 1, out + kJumpMedianBytes);
  for (int r = 0; r < 3; r++) out[kRegions64k + r] = double(DistinctRegions(w, ordinal, kRegionSectors[r])) / dn;
  Percentiles(s.readSizes.data(), s.readSizes.size(), kMedian, 1, out + kReadSizeP50);
  Percentiles(s.writeSizes.data(), s.writeSizes.size(), kMedian, 1, out + kWriteSizeP50);
  out[kReadSequentialFraction] = readPairs ? double(readSeq) / double(readPairs) : 0;
  out[kWriteSequentialFraction] = writePairs ? double(writeSeq) / double(writePairs) : 0;
  out[kAlignedFraction] = double(aligned) / dn;
  out[kSizeUpTo4k] = double(upTo4k) / dn;
  out[kSize4kTo16k] = double(upTo16k) / dn;
  out[kSize16kTo64k] = double(upTo64k) / dn;
  return true;
}

// ---- binding

const char* TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
      return "an Int8Array";
    case napi_uint8_array:
      return "a Uint8Array";
    case napi_uint8_clamped_array:
      return "a Uint8ClampedArray";
    case napi_int16_array:
      return "an Int16Array";
    case napi_uint16_array:
      return "a Uint16Array";
    case napi_int32_array:
      return "an Int32Array";
    case napi_uint32_array:
      return "a Uint32Array";
    case napi_float32_array:
      return "a Float32Array";
    case napi_float64_array:
      return "a Float64Array";
    default:
      return "a BigInt typed array";
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
  if (*n == SIZE_MAX)
    *n = a.ElementLength();
  else if (a.ElementLength() != *n)
    throw Napi::TypeError::New(
        env, field + " has " + std::to_string(a.ElementLength()) + " elements, expected " + std::to_string(*n) + " (the length of window.timeNs)");
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
