// The blktrace binary record format (Linux include/uapi/linux/blktrace_api.h)
// and byte-order-aware decoding of one record header. No I/O, no Node: the
// fuzz harness and the reader share it.
//
// Version 7: struct blk_io_trace, 48 bytes, u32 action.
// Version 8: struct blk_io_trace2, 64 bytes, u64 action (pid and action swap
// places, 12 bytes of padding at the end). Both are followed by pdu_len bytes.
#pragma once
#include <cstdint>
#include <cstring>

namespace ssdtune::blktrace {

constexpr uint32_t kMagic = 0x65617400;  // "eat" << 8
constexpr uint32_t kVersion1 = 7;
constexpr uint32_t kVersion2 = 8;
constexpr uint32_t kHeader1 = 48;
constexpr uint32_t kHeader2 = 64;

// Categories: action >> 16 (blktrace_cat).
enum Cat : uint64_t {
  TC_READ = 1u << 0,
  TC_WRITE = 1u << 1,
  TC_FLUSH = 1u << 2,  // BARRIER in kernels before 2.6.37
  TC_SYNC = 1u << 3,
  TC_QUEUE = 1u << 4,
  TC_REQUEUE = 1u << 5,
  TC_ISSUE = 1u << 6,
  TC_COMPLETE = 1u << 7,
  TC_FS = 1u << 8,
  TC_PC = 1u << 9,
  TC_NOTIFY = 1u << 10,
  TC_AHEAD = 1u << 11,
  TC_META = 1u << 12,
  TC_DISCARD = 1u << 13,
  TC_DRV_DATA = 1u << 14,
  TC_FUA = 1u << 15,
  // version 8 only
  TC_ZONE_APPEND = 1u << 16,
  TC_ZONE_RESET = 1u << 17,
  TC_ZONE_RESET_ALL = 1u << 18,
  TC_ZONE_FINISH = 1u << 19,
  TC_ZONE_OPEN = 1u << 20,
  TC_ZONE_CLOSE = 1u << 21,
  TC_WRITE_ZEROES = 1u << 22,
};
constexpr unsigned kCatShift = 16;

// Actions: action & 0xff (blktrace_act); bit 8 is the cgroup flag.
enum Act : uint32_t {
  TA_QUEUE = 1,
  TA_BACKMERGE,
  TA_FRONTMERGE,
  TA_GETRQ,
  TA_SLEEPRQ,
  TA_REQUEUE,
  TA_ISSUE,
  TA_COMPLETE,
  TA_PLUG,
  TA_UNPLUG_IO,
  TA_UNPLUG_TIMER,
  TA_INSERT,
  TA_SPLIT,
  TA_BOUNCE,
  TA_REMAP,
  TA_ABORT,
  TA_DRV_DATA,
  TA_ZONE_PLUG,
  TA_ZONE_UNPLUG,
  TA_LAST = TA_ZONE_UNPLUG,
};
constexpr uint32_t kCgroupFlag = 1u << 8;

// Notify records (category NOTIFY): action & 0xff.
enum Notify : uint32_t { TN_PROCESS = 0, TN_TIMESTAMP = 1, TN_MESSAGE = 2 };

// ssdtune's own operation flags (src/trace/model.ts Op); the writer round-trip test in
// test/blktrace.test.ts fails if the two drift apart.
enum OpFlag : uint16_t {
  OP_READ = 1 << 0,
  OP_WRITE = 1 << 1,
  OP_DISCARD = 1 << 2,
  OP_FLUSH = 1 << 3,
  OP_SYNC = 1 << 4,
  OP_META = 1 << 5,
  OP_READAHEAD = 1 << 6,
  OP_FUA = 1 << 7,
};

/** Map category bits to Op flags. A discard also carries the write bit in the kernel; it is reported as DISCARD only. */
inline uint16_t opFromCategory(uint64_t cat) {
  uint16_t op = 0;
  if (cat & TC_DISCARD)
    op |= OP_DISCARD;
  else if (cat & TC_WRITE)
    op |= OP_WRITE;
  else if (cat & TC_READ)
    op |= OP_READ;
  if (cat & TC_FLUSH) op |= OP_FLUSH;
  if (cat & TC_SYNC) op |= OP_SYNC;
  if (cat & TC_META) op |= OP_META;
  if (cat & TC_AHEAD) op |= OP_READAHEAD;
  if (cat & TC_FUA) op |= OP_FUA;
  return op;
}

/** One decoded record. `pdu` points into the reader's buffer and is valid until the stream advances. */
struct Event {
  uint64_t time;
  uint64_t sector;
  uint64_t action;  // full action: low 16 bits act (+cgroup flag), category above
  uint32_t sequence;
  uint32_t bytes;
  uint32_t pid;
  uint32_t device;
  uint32_t cpu;
  uint16_t error;
  uint16_t pduLen;
  const uint8_t* pdu;

  uint32_t act() const { return static_cast<uint32_t>(action & 0xff); }
  uint64_t cat() const { return action >> kCatShift; }
  bool cgroup() const { return (action & kCgroupFlag) != 0; }
  bool notify() const { return (cat() & TC_NOTIFY) != 0; }
  /** The payload proper: with the cgroup flag the kernel puts the 8-byte cgroup id first. */
  const uint8_t* payload() const { return cgroup() && pduLen >= 8 ? pdu + 8 : pdu; }
  size_t payloadLen() const { return cgroup() && pduLen >= 8 ? pduLen - 8u : pduLen; }
};

inline uint16_t bswap16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
inline uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/** Byte order and version of a record stream, learnt from its first magic word. */
struct Layout {
  bool swap = false;
  uint32_t version = 0;
  uint32_t header = 0;

  /** Recognise `raw` (the first 4 bytes as a native u32); false when it is no blktrace magic. */
  bool detect(uint32_t raw) {
    for (int s = 0; s < 2; s++) {
      uint32_t m = s ? bswap32(raw) : raw;
      if ((m & 0xffffff00u) != kMagic) continue;
      uint32_t v = m & 0xff;
      if (v != kVersion1 && v != kVersion2) continue;
      swap = s != 0;
      version = v;
      header = v == kVersion1 ? kHeader1 : kHeader2;
      return true;
    }
    return false;
  }
  uint32_t magicRaw() const {
    uint32_t m = kMagic | version;
    return swap ? bswap32(m) : m;
  }
  uint16_t u16(const uint8_t* p) const {
    uint16_t v = load<uint16_t>(p);
    return swap ? bswap16(v) : v;
  }
  uint32_t u32(const uint8_t* p) const {
    uint32_t v = load<uint32_t>(p);
    return swap ? bswap32(v) : v;
  }
  uint64_t u64(const uint8_t* p) const {
    uint64_t v = load<uint64_t>(p);
    return swap ? bswap64(v) : v;
  }

  /** Decode the header at p (at least `header` bytes); the caller has checked the magic. */
  void decode(const uint8_t* p, Event& e) const {
    e.sequence = u32(p + 4);
    e.time = u64(p + 8);
    e.sector = u64(p + 16);
    e.bytes = u32(p + 24);
    if (version == kVersion1) {
      e.action = u32(p + 28);
      e.pid = u32(p + 32);
      e.device = u32(p + 36);
      e.cpu = u32(p + 40);
      e.error = u16(p + 44);
      e.pduLen = u16(p + 46);
    } else {
      e.pid = u32(p + 28);
      e.action = u64(p + 32);
      e.device = u32(p + 40);
      e.cpu = u32(p + 44);
      e.error = u16(p + 48);
      e.pduLen = u16(p + 50);
    }
  }
};

/** Big-endian helpers: remap and split payloads are always big-endian (cpu_to_be*). */
inline uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]); }
inline uint64_t be64(const uint8_t* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

}  // namespace ssdtune::blktrace
