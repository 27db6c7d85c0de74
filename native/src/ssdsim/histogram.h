// Log-linear latency histogram (HdrHistogram-like, 128 sub-buckets per power
// of two: quantiles within 0.8 %). Fixed memory, no per-sample allocation, so
// a replay's memory does not grow with the trace. Exact sum, min and max.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ssdsim {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kLinear = 1u << (kSubBits + 1);  // values below are exact
  Histogram() : counts_(kLinear + (64 - kSubBits - 1) * (1u << kSubBits), 0) {}

  void add(uint64_t v) {
    counts_[index(v)]++;
    n_++;
    sum_ += static_cast<double>(v);
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  uint64_t count() const { return n_; }
  double mean() const { return n_ ? sum_ / static_cast<double>(n_) : 0; }
  double sum() const { return sum_; }
  uint64_t max() const { return n_ ? max_ : 0; }
  uint64_t min() const { return n_ ? min_ : 0; }

  // Smallest recorded-bucket value v such that at least q of the samples are <= v.
  double quantile(double q) const {
    if (n_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n_) + 0.5);
    if (rank < 1) rank = 1;
    if (rank > n_) rank = n_;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); i++) {
      seen += counts_[i];
      if (seen >= rank) {
        double lo, hi;
        bounds(i, lo, hi);
        double mid = i < kLinear ? lo : (lo + hi) / 2;
        return std::min(std::max(mid, static_cast<double>(min_)), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static size_t index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    uint64_t sub = (v >> shift) - (1u << kSubBits);
    return kLinear + static_cast<size_t>(msb - kSubBits - 1) * (1u << kSubBits) + sub;
  }
  static void bounds(size_t i, double& lo, double& hi) {
    if (i < kLinear) {
      lo = hi = static_cast<double>(i);
      return;
    }
    size_t j = i - kLinear;
    int msb = static_cast<int>(j >> kSubBits) + kSubBits + 1;
    uint64_t sub = (j & ((1u << kSubBits) - 1)) + (1u << kSubBits);
    int shift = msb - kSubBits;
    lo = static_cast<double>(sub << shift);
    hi = static_cast<double>(((sub + 1) << shift) - 1);
  }
  std::vector<uint64_t> counts_;
  uint64_t n_ = 0;
  double sum_ = 0;
  uint64_t min_ = UINT64_MAX, max_ = 0;
};

}  // namespace ssdsim
