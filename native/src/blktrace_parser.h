// The blktrace parsing core: byte sources (file or memory), record streams
// with error reporting and resync, the time merge of per-CPU streams, and the
// pairing of Q/G/I/D/C/M... events into requests. Independent of Node, so the
// libFuzzer harness (native/fuzz/blktrace_fuzz.cc) drives exactly this code.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "blktrace_format.h"

namespace ssdtune::blktrace {

/** A parse or I/O failure: which file, where, and what was expected there. */
struct ParseError : std::runtime_error {
  std::string code;  // BLKTRACE_BAD_MAGIC, BLKTRACE_TRUNCATED, BLKTRACE_PDU_OVERFLOW, BLKTRACE_IO, BLKTRACE_NOT_FOUND
  std::string file;
  uint64_t offset;
  std::string expected;
  ParseError(std::string code, std::string file, uint64_t offset, std::string expected);
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /** Read up to n bytes; 0 means end of data. Throws ParseError on I/O failure. */
  virtual size_t read(uint8_t* dst, size_t n) = 0;
};

/** A file read with plain read(2) calls into the stream's large buffer (no whole-file load). */
class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path);
  ~FileSource() override;
  size_t read(uint8_t* dst, size_t n) override;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t off_ = 0;
};

/** Bytes already in memory (fuzzing, tests). The memory must outlive the source. */
class MemSource : public ByteSource {
 public:
  MemSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t read(uint8_t* dst, size_t n) override;

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

/** One per-CPU file: yields decoded records in file order. */
class RecordStream {
 public:
  RecordStream(std::unique_ptr<ByteSource> src, std::string name, size_t bufBytes, bool skipBad);
  /** Next record, or false at the end. With skipBad, bad stretches are skipped (resync on the next magic) and counted. */
  bool next(Event& e);
  const std::string& name() const { return name_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t records() const { return records_; }
  /** Bytes of the file consumed so far (for progress). */
  uint64_t bytesRead() const { return bufOff_ + pos_; }
  const Layout& layout() const { return layout_; }

 private:
  bool fill(size_t need);
  uint64_t offset() const { return bufOff_ + pos_; }
  [[noreturn]] void fail(const char* code, const std::string& expected) const;
  /** Skip to the next byte position holding a valid magic word; false at end of data. */
  bool resync();

  std::unique_ptr<ByteSource> src_;
  std::string name_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t bufOff_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  bool skipBad_;
  bool known_ = false;
  Layout layout_;
  uint64_t skipped_ = 0;
  uint64_t records_ = 0;
};

/** Merges per-CPU streams by time (ties: stream order, then file order) with a binary heap of stream heads. */
class Merger {
 public:
  explicit Merger(std::vector<std::unique_ptr<RecordStream>> streams);
  /** Next record in time order (valid until the next call), or null at the end; `stream` gets its stream index. */
  const Event* next(size_t& stream);
  const std::vector<std::unique_ptr<RecordStream>>& streams() const { return streams_; }

 private:
  bool less(size_t a, size_t b) const;
  void siftDown(size_t i);
  std::vector<std::unique_ptr<RecordStream>> streams_;
  std::vector<Event> heads_;
  std::vector<size_t> heap_;  // stream indices
  bool primed_ = false;
  size_t last_ = SIZE_MAX;  // stream whose head was handed out and must advance
};

/** Open-addressing map (device, sector) -> id with linear probing and backward-shift deletion. */
class KeyMap {
 public:
  KeyMap();
  uint64_t* find(uint32_t dev, uint64_t sector);
  void put(uint32_t dev, uint64_t sector, uint64_t id);
  void erase(uint32_t dev, uint64_t sector);
  size_t size() const { return n_; }

 private:
  struct Slot {
    uint64_t sector;
    uint64_t id;
    uint32_t dev;
    uint32_t used;
  };
  size_t slot(uint32_t dev, uint64_t sector) const;
  void grow();
  std::vector<Slot> t_;
  size_t mask_;
  size_t n_ = 0;
};

/** Counters the reader reports (and turns into warnings). */
struct Stats {
  uint64_t events = 0;         // records read (all kinds)
  uint64_t byAct[32] = {};     // non-notify records by action code
  uint64_t notify[4] = {};     // process, timestamp, message, other
  uint64_t pcEvents = 0;       // SCSI passthrough (BLK_TC_PC) records, not paired
  uint64_t unpaired[32] = {};  // events (by action) whose request was not found
  uint64_t completedWithoutIssue = 0;
  uint64_t merged = 0;    // bios merged into another request (M/F)
  uint64_t remapped = 0;  // queued bios dropped because an A remap moved them to another device in this set
  uint64_t splits = 0;
  uint64_t requeues = 0;
  uint64_t aborted = 0;
  uint64_t partialCompletions = 0;
  uint64_t incomplete = 0;  // requests emitted without a completion
  uint64_t requests = 0;    // requests emitted
};

/** Output columns for requests (caller-owned, `max` rows each). */
struct RequestCols {
  double* timeNs;
  double* sector;
  uint32_t* bytes;
  uint16_t* op;
  uint32_t* device;
  uint32_t* pid;
  double* issueNs;
  double* completeNs;
};

/** Output columns for raw events (caller-owned, `max` rows each). */
struct EventCols {
  double* timeNs;
  double* sector;
  uint32_t* bytes;
  uint16_t* act;       // action & 0xffff (action code + cgroup flag)
  uint32_t* category;  // action >> 16
  uint32_t* pid;
  uint32_t* device;
  uint32_t* cpu;
  uint32_t* sequence;
  uint16_t* error;
  double* auxSector;    // A: sector_from, X: split sector, else 0
  uint32_t* auxDevice;  // A: device_from, else 0
};

struct ParserOptions {
  bool skipBad = false;
  size_t bufBytes = 1u << 20;
  /** Force-emit the oldest pending request when this many are pending (a lost completion must not stall output). */
  size_t maxPending = 1u << 18;
  /** ... or when it has waited this long in trace time without completing. */
  uint64_t staleNs = 30ull * 1000000000ull;
};

/**
 * The whole pipeline over a set of per-CPU streams. Call nextEvents or
 * nextRequests (one mode per parser) until it returns 0.
 */
class Parser {
 public:
  Parser(std::vector<std::unique_ptr<RecordStream>> streams, ParserOptions opts);

  size_t nextEvents(const EventCols& out, size_t max);
  size_t nextRequests(const RequestCols& out, size_t max);

  const Stats& stats() const { return stats_; }
  /** ns since the epoch of t=0 (the first non-notify event), or 0 when the set has no timestamp note. */
  double baseTimeNs() const;
  bool hasGenesis() const { return genesisKnown_; }
  const std::unordered_map<uint32_t, std::string>& processes() const { return processes_; }
  uint64_t skipped() const;
  uint64_t bytesRead() const;
  const std::vector<std::unique_ptr<RecordStream>>& streams() const { return merger_.streams(); }

 private:
  enum State : uint8_t { QUEUED, GOT, INSERTED, ISSUED, DONE, DEAD, EMITTED };
  struct Req {
    uint64_t q, issue, complete;
    uint64_t sector, keySector;
    uint64_t nextSame;  // next id in the same start-key chain, or kNone
    uint32_t bytes, remaining, device, pid;
    uint16_t op;
    uint8_t state;
  };
  static constexpr uint64_t kNone = ~0ull;

  void handleNote(const Event& e, const Layout& l);
  void pair(const Event& e);
  Req& at(uint64_t id) { return ring_[id & ringMask_]; }
  uint64_t newReq();
  void chainAdd(uint64_t id);
  void chainRemove(uint64_t id);
  /** Oldest request with this start key whose state is in [lo, hi]; kNone if none. */
  uint64_t findOldest(uint32_t dev, uint64_t sector, uint8_t lo, uint8_t hi);
  uint64_t findNewest(uint32_t dev, uint64_t sector, uint8_t lo, uint8_t hi);
  void endPut(uint64_t id);
  void endErase(uint64_t id);
  void kill(uint64_t id, uint8_t state);
  /** Move finished (or forced) requests from the front of the FIFO into `out`. */
  size_t drain(const RequestCols& out, size_t n, size_t max, bool force);
  double rel(uint64_t t) const { return static_cast<double>(static_cast<int64_t>(t - genesis_)); }

  Merger merger_;
  ParserOptions opts_;
  Stats stats_;
  bool genesisKnown_ = false;
  uint64_t genesis_ = 0;
  bool haveWall_ = false;
  uint64_t wallNs_ = 0, wallAt_ = 0;  // TN_TIMESTAMP: wall clock ns at trace time wallAt_
  uint64_t now_ = 0;                  // time of the latest event
  std::unordered_map<uint32_t, std::string> processes_;
  bool ended_ = false;
  bool finished_ = false;  // a request became DONE or DEAD since the last drain
  uint32_t tick_ = 0;

  // events mode: notify records seen before the first real event wait here until t=0 is known
  struct Pending {
    Event e;
    uint64_t aux;
    uint32_t auxDev;
  };
  std::vector<Pending> pending_;
  size_t pendingPos_ = 0;

  // requests mode: FIFO ring of requests in queue order; ids are monotonic
  std::vector<Req> ring_;
  uint64_t ringMask_ = 0;
  uint64_t head_ = 0, tail_ = 0;
  KeyMap start_;  // (dev, keySector) -> oldest id of the chain
  KeyMap end_;    // (dev, sector + bytes/512) -> id, for back merges (undispatched only)
};

/**
 * Find the per-CPU files of a set: `path` may be NAME.blktrace.N (any N), the
 * NAME prefix, or any other single file (read alone). Returns paths sorted by N
 * and fills `missing` with the CPU numbers absent below the highest one.
 */
std::vector<std::string> findSetFiles(const std::string& path, std::vector<unsigned>& missing);

}  // namespace ssdtune::blktrace
