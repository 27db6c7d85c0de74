// The simulator's event queue, ordered by (time, sequence number): the
// sequence number makes simultaneous events run in the order they were
// scheduled. It is the replay's hottest code (every flash command is three
// events, every request four or more), so it is built for constant factors:
// - an event is one 128-bit key, time << 64 | seq << 24 | kind << 21 | id,
//   so that one unsigned comparison orders two events;
// - a few "lanes" each hold at most one pending event outside the heap: the
//   FIFO servers (PCIe link directions, DRAM) only ever have their head's
//   completion pending, and they make up a third to a half of all events;
// - the rest is a 4-ary min-heap (half the depth of a binary heap, four
//   events per cache line) whose pop moves the hole down to a leaf choosing
//   the least child, then sifts the last event up from there (Floyd's
//   bottom-up variant: three comparisons per level instead of four).
// Keys are unique, so the order events come out in is the same whatever the
// internal layout.
#pragma once
#include <cstdint>
#include <vector>

namespace ssdsim {

struct Event {
  unsigned __int128 k;
  uint64_t t() const { return static_cast<uint64_t>(k >> 64); }
  uint32_t kind() const { return static_cast<uint32_t>(k >> 21) & 7; }
  uint32_t id() const { return static_cast<uint32_t>(k) & ((1u << 21) - 1); }
};

class EventQueue {
 public:
  static constexpr uint32_t kMaxId = (1u << 21) - 1;
  static constexpr uint32_t kLanes = 3;

  EventQueue() {
    for (Event& l : lanes_) l.k = kNoKey;
  }

  void push(uint64_t t, uint32_t kind, uint32_t id) { heapPush(key(t, kind, id)); }
  // An event for lane `lane` (< kLanes), which usually has none pending; when it has, the event goes to the heap.
  void pushLane(uint32_t lane, uint64_t t, uint32_t kind, uint32_t id) {
    const unsigned __int128 k = key(t, kind, id);
    if (lanes_[lane].k == kNoKey)
      lanes_[lane].k = k;
    else
      heapPush(k);
  }
  bool empty() const { return peek() == nullptr; }
  // The next event, or nullptr when none is pending. Valid until the next push or take.
  const Event* peek() const {
    const Event* b = h_.empty() ? &lanes_[0] : h_.data();
    for (const Event& l : lanes_)
      if (l.k < b->k) b = &l;
    return b->k == kNoKey ? nullptr : b;
  }
  // Remove and return the event peek() returned.
  Event take(const Event* e) {
    if (e != h_.data()) {  // a lane's
      const Event ev = *e;
      lanes_[e - lanes_].k = kNoKey;
      return ev;
    }
    return heapPop();
  }
  void reserve(size_t n) { h_.reserve(n); }
  size_t capacityBytes() const { return h_.capacity() * sizeof(Event); }

 private:
  static constexpr unsigned __int128 kNoKey = ~static_cast<unsigned __int128>(0);

  unsigned __int128 key(uint64_t t, uint32_t kind, uint32_t id) {
    return (static_cast<unsigned __int128>(t) << 64) | ((seq_++ << 24) | (static_cast<uint64_t>(kind) << 21) | id);
  }
  void heapPush(unsigned __int128 k) {
    size_t i = h_.size();
    h_.push_back(Event{k});
    Event* h = h_.data();
    while (i > 0) {
      const size_t parent = (i - 1) >> 2;
      if (!(k < h[parent].k)) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i].k = k;
  }
  Event heapPop() {
    const Event top = h_.front();
    const Event last = h_.back();
    h_.pop_back();
    const size_t n = h_.size();
    if (n == 0) return top;
    Event* h = h_.data();
    size_t i = 0;
    for (;;) {  // the hole goes down to a leaf, the least child moving up
      const size_t c = 4 * i + 1;
      if (c >= n) break;
      size_t m = c;
      if (c + 4 <= n) {
        const size_t a = h[c + 1].k < h[c].k ? c + 1 : c;
        const size_t b = h[c + 3].k < h[c + 2].k ? c + 3 : c + 2;
        m = h[b].k < h[a].k ? b : a;
      } else {
        for (size_t k = c + 1; k < n; k++)
          if (h[k].k < h[m].k) m = k;
      }
      h[i] = h[m];
      i = m;
    }
    while (i > 0) {  // then the last event goes up from there
      const size_t parent = (i - 1) >> 2;
      if (!(last.k < h[parent].k)) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = last;
    return top;
  }

  std::vector<Event> h_;
  Event lanes_[kLanes];
  uint64_t seq_ = 0;
};

}  // namespace ssdsim
