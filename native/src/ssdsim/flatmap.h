// Open-addressing hash map from a 32-bit key to a small value (linear
// probing, backward-shift deletion, power-of-two capacity kept at most half
// full). The simulator's sparse state lives in these: memory grows with the
// logical pages a trace touches, never with the size of the device.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ssdsim {

template <typename V>
class FlatMap {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;  // reserved: never a key

  explicit FlatMap(uint32_t initial = 16) { rehash(initial < 16 ? 16 : initial); }

  size_t size() const { return n_; }
  // Room for `n` keys without rehashing.
  void reserve(size_t n) {
    size_t cap = keys_.size();
    while (cap < 2 * n) cap *= 2;
    if (cap > keys_.size()) rehash(static_cast<uint32_t>(cap));
  }

  V* find(uint32_t key) {
    for (uint32_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  const V* find(uint32_t key) const { return const_cast<FlatMap*>(this)->find(key); }

  // The value for `key`, default-constructed when absent.
  V& operator[](uint32_t key) {
    if (2 * (n_ + 1) > keys_.size()) rehash(static_cast<uint32_t>(keys_.size() * 2));
    uint32_t i = slot(key);
    for (; keys_[i] != kEmpty; i = (i + 1) & mask_)
      if (keys_[i] == key) return vals_[i];
    keys_[i] = key;
    vals_[i] = V{};
    n_++;
    return vals_[i];
  }

  bool erase(uint32_t key) {
    uint32_t i = slot(key);
    for (;; i = (i + 1) & mask_) {
      if (keys_[i] == key) break;
      if (keys_[i] == kEmpty) return false;
    }
    for (uint32_t j = (i + 1) & mask_; keys_[j] != kEmpty; j = (j + 1) & mask_) {
      const uint32_t home = slot(keys_[j]);
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        keys_[i] = keys_[j];
        vals_[i] = vals_[j];
        i = j;
      }
    }
    keys_[i] = kEmpty;
    n_--;
    return true;
  }

  void clear() {
    std::fill(keys_.begin(), keys_.end(), kEmpty);
    n_ = 0;
  }

  template <typename F>
  void forEach(F&& f) const {
    for (size_t i = 0; i < keys_.size(); i++)
      if (keys_[i] != kEmpty) f(keys_[i], vals_[i]);
  }

  size_t bytes() const { return keys_.capacity() * sizeof(uint32_t) + vals_.capacity() * sizeof(V); }

 private:
  uint32_t slot(uint32_t key) const { return (key * 2654435761u) & mask_; }
  void rehash(uint32_t cap) {
    std::vector<uint32_t> k(cap, kEmpty);
    std::vector<V> v(cap);
    k.swap(keys_);
    v.swap(vals_);
    mask_ = cap - 1;
    n_ = 0;
    for (size_t i = 0; i < k.size(); i++)
      if (k[i] != kEmpty) (*this)[k[i]] = v[i];
  }

  std::vector<uint32_t> keys_;
  std::vector<V> vals_;
  uint32_t mask_ = 0;
  size_t n_ = 0;
};

}  // namespace ssdsim
