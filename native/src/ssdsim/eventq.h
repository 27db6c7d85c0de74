// The simulator's event queue: a 4-ary min-heap of 16-byte events ordered by
// (time, sequence number), the sequence number making simultaneous events
// run in the order they were scheduled. The heap stays small (one pending
// event per chip, per link direction, per DRAM), so this is about constant
// factors: half the depth of a binary heap, and two events per cache line.
#pragma once
#include <cstdint>
#include <vector>

namespace ssdsim {

struct Event {
  uint64_t t;
  uint64_t key;  // seq << 24 | kind << 21 | id
  uint32_t kind() const { return static_cast<uint32_t>(key >> 21) & 7; }
  uint32_t id() const { return static_cast<uint32_t>(key) & ((1u << 21) - 1); }
};

class EventQueue {
 public:
  static constexpr uint32_t kMaxId = (1u << 21) - 1;

  void push(uint64_t t, uint32_t kind, uint32_t id) {
    const Event e{t, (seq_++ << 24) | (static_cast<uint64_t>(kind) << 21) | id};
    size_t i = h_.size();
    h_.push_back(e);
    while (i > 0) {
      const size_t parent = (i - 1) >> 2;
      if (!less(e, h_[parent])) break;
      h_[i] = h_[parent];
      i = parent;
    }
    h_[i] = e;
  }
  bool empty() const { return h_.empty(); }
  const Event& top() const { return h_.front(); }
  Event pop() {
    const Event top = h_.front();
    const Event last = h_.back();
    h_.pop_back();
    const size_t n = h_.size();
    if (n == 0) return top;
    size_t i = 0;
    for (;;) {
      const size_t c = 4 * i + 1;
      if (c >= n) break;
      size_t m = c;
      const size_t end = c + 4 < n ? c + 4 : n;
      for (size_t k = c + 1; k < end; k++)
        if (less(h_[k], h_[m])) m = k;
      if (!less(h_[m], last)) break;
      h_[i] = h_[m];
      i = m;
    }
    h_[i] = last;
    return top;
  }
  void reserve(size_t n) { h_.reserve(n); }
  size_t capacityBytes() const { return h_.capacity() * sizeof(Event); }

 private:
  static bool less(const Event& a, const Event& b) { return a.t != b.t ? a.t < b.t : a.key < b.key; }
  std::vector<Event> h_;
  uint64_t seq_ = 0;
};

}  // namespace ssdsim
