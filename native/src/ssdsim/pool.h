// A free-listed pool of fixed-size records addressed by 32-bit ids: requests,
// transactions, messages and DRAM jobs are reused, so a steady replay
// allocates nothing per request.
#pragma once
#include <cstdint>
#include <vector>

namespace ssdsim {

template <typename T>
class Pool {
 public:
  // A fresh (value-initialised) record.
  uint32_t alloc() {
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      items_[id] = T{};
    } else {
      id = static_cast<uint32_t>(items_.size());
      items_.emplace_back();
    }
    return id;
  }
  void release(uint32_t id) { free_.push_back(id); }
  T& operator[](uint32_t id) { return items_[id]; }
  const T& operator[](uint32_t id) const { return items_[id]; }
  size_t bytes() const { return items_.capacity() * sizeof(T) + free_.capacity() * sizeof(uint32_t); }

 private:
  std::vector<T> items_;
  std::vector<uint32_t> free_;
};

}  // namespace ssdsim
