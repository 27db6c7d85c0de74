#include "blktrace_parser.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace ssdtune::blktrace {

ParseError::ParseError(std::string code_, std::string file_, uint64_t offset_, std::string expected_)
    : std::runtime_error(file_ + ": byte offset " + std::to_string(offset_) + ": " + expected_),
      code(std::move(code_)),
      file(std::move(file_)),
      offset(offset_),
      expected(std::move(expected_)) {}

// ---- byte sources -----------------------------------------------------------

FileSource::FileSource(const std::string& path) : path_(path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw ParseError(errno == ENOENT ? "BLKTRACE_NOT_FOUND" : "BLKTRACE_IO", path, 0, std::string("a readable file (") + std::strerror(errno) + ")");
  }
  if (S_ISDIR(st.st_mode)) throw ParseError("BLKTRACE_IO", path, 0, "a blktrace file, found a directory");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw ParseError("BLKTRACE_IO", path, 0, std::string("a readable file (") + std::strerror(errno) + ")");
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FileSource::read(uint8_t* dst, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, dst, n);
    if (r >= 0) {
      off_ += static_cast<uint64_t>(r);
      return static_cast<size_t>(r);
    }
    if (errno == EINTR) continue;
    throw ParseError("BLKTRACE_IO", path_, off_, std::string("readable data (") + std::strerror(errno) + ")");
  }
}

size_t MemSource::read(uint8_t* dst, size_t n) {
  size_t k = std::min(n, size_ - pos_);
  if (k) std::memcpy(dst, data_ + pos_, k);
  pos_ += k;
  return k;
}

// ---- record stream ----------------------------------------------------------

RecordStream::RecordStream(std::unique_ptr<ByteSource> src, std::string name, size_t bufBytes, bool skipBad)
    : src_(std::move(src)), name_(std::move(name)), skipBad_(skipBad) {
  buf_.resize(std::max<size_t>(bufBytes, 64));
}

bool RecordStream::fill(size_t need) {
  if (end_ - pos_ >= need) return true;
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    bufOff_ += pos_;
    end_ -= pos_;
    pos_ = 0;
  }
  // A record is at most 64 + 65535 bytes; grow for one that does not fit.
  if (need > buf_.size()) buf_.resize(need);
  while (end_ < need) {
    size_t r = src_->read(buf_.data() + end_, buf_.size() - end_);
    if (r == 0) {
      eof_ = true;
      return false;
    }
    end_ += r;
  }
  return true;
}

void RecordStream::fail(const char* code, const std::string& expected) const { throw ParseError(code, name_, offset(), expected); }

static std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

bool RecordStream::resync() {
  skipped_++;
  pos_++;
  for (;;) {
    if (!fill(4)) {
      pos_ = end_;
      return false;
    }
    uint32_t raw = load<uint32_t>(buf_.data() + pos_);
    if (known_ ? raw == layout_.magicRaw() : layout_.detect(raw)) {
      known_ = true;
      return true;
    }
    pos_++;
  }
}

bool RecordStream::next(Event& e) {
  // Fast path: a whole record with the expected magic is already buffered.
  if (known_ && end_ - pos_ >= layout_.header && load<uint32_t>(buf_.data() + pos_) == layout_.magicRaw()) {
    layout_.decode(buf_.data() + pos_, e);
    if (end_ - pos_ >= size_t(layout_.header) + e.pduLen) {
      e.pdu = buf_.data() + pos_ + layout_.header;
      pos_ += layout_.header + e.pduLen;
      records_++;
      return true;
    }
  }
  for (;;) {
    if (!fill(4)) {
      size_t left = end_ - pos_;
      if (left == 0) return false;
      if (skipBad_) {
        skipped_++;
        pos_ = end_;
        return false;
      }
      fail("BLKTRACE_TRUNCATED", "a blktrace record header, only " + std::to_string(left) + " bytes left in the file");
    }
    uint32_t raw = load<uint32_t>(buf_.data() + pos_);
    if (!known_) {
      if (!layout_.detect(raw)) {
        if (skipBad_) {
          if (!resync()) return false;
          continue;
        }
        fail("BLKTRACE_BAD_MAGIC", "blktrace magic 0x65617407 or 0x65617408 (either byte order), found " + hex32(raw));
      }
      known_ = true;
    } else if (raw != layout_.magicRaw()) {
      if (skipBad_) {
        if (!resync()) return false;
        continue;
      }
      fail("BLKTRACE_BAD_MAGIC", "blktrace magic " + hex32(kMagic | layout_.version) + (layout_.swap ? " (byte-swapped, as earlier records)" : "") +
                                     ", found " + hex32(layout_.swap ? bswap32(raw) : raw));
    }
    if (!fill(layout_.header)) {
      size_t left = end_ - pos_;
      if (skipBad_) {
        skipped_++;
        pos_ = end_;
        return false;
      }
      fail("BLKTRACE_TRUNCATED", "a " + std::to_string(layout_.header) + "-byte record header, only " + std::to_string(left) + " bytes left in the file");
    }
    layout_.decode(buf_.data() + pos_, e);
    if (!fill(size_t(layout_.header) + e.pduLen)) {
      size_t left = end_ - pos_ - layout_.header;
      if (skipBad_) {
        skipped_++;
        pos_ = end_;
        return false;
      }
      fail("BLKTRACE_PDU_OVERFLOW",
           "pdu_len " + std::to_string(e.pduLen) + " payload bytes after the header, only " + std::to_string(left) + " bytes left in the file");
    }
    e.pdu = buf_.data() + pos_ + layout_.header;
    pos_ += layout_.header + e.pduLen;
    records_++;
    return true;
  }
}

// ---- merge ------------------------------------------------------------------

Merger::Merger(std::vector<std::unique_ptr<RecordStream>> streams) : streams_(std::move(streams)), heads_(streams_.size()) {}

bool Merger::less(size_t a, size_t b) const {
  if (heads_[a].time != heads_[b].time) return heads_[a].time < heads_[b].time;
  return a < b;
}

void Merger::siftDown(size_t i) {
  size_t n = heap_.size();
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && less(heap_[l], heap_[m])) m = l;
    if (l + 1 < n && less(heap_[l + 1], heap_[m])) m = l + 1;
    if (m == i) return;
    std::swap(heap_[i], heap_[m]);
    i = m;
  }
}

const Event* Merger::next(size_t& stream) {
  if (!primed_) {
    primed_ = true;
    for (size_t i = 0; i < streams_.size(); i++)
      if (streams_[i]->next(heads_[i])) heap_.push_back(i);
    for (size_t i = heap_.size(); i-- > 0;) siftDown(i);
  } else if (last_ != SIZE_MAX) {
    // The previous record's pdu pointed into this stream's buffer; only now may it move.
    if (streams_[last_]->next(heads_[last_])) {
      // Usually the same stream stays first (per-CPU runs): skip the sift while it beats both children.
      size_t n = heap_.size();
      bool first = (n < 2 || less(heap_[0], heap_[1])) && (n < 3 || less(heap_[0], heap_[2]));
      if (!first) siftDown(0);
    } else {
      heap_[0] = heap_.back();
      heap_.pop_back();
      if (!heap_.empty()) siftDown(0);
    }
    last_ = SIZE_MAX;
  }
  if (heap_.empty()) return nullptr;
  stream = heap_[0];
  last_ = stream;
  return &heads_[stream];
}

// ---- key map ----------------------------------------------------------------

KeyMap::KeyMap() : t_(1024), mask_(1023) {}

size_t KeyMap::slot(uint32_t dev, uint64_t sector) const {
  uint64_t h = sector * 0x9E3779B97F4A7C15ull ^ (uint64_t(dev) * 0xC2B2AE3D27D4EB4Full);
  h ^= h >> 29;
  return static_cast<size_t>(h) & mask_;
}

uint64_t* KeyMap::find(uint32_t dev, uint64_t sector) {
  for (size_t i = slot(dev, sector);; i = (i + 1) & mask_) {
    Slot& s = t_[i];
    if (!s.used) return nullptr;
    if (s.sector == sector && s.dev == dev) return &s.id;
  }
}

void KeyMap::grow() {
  std::vector<Slot> old;
  old.swap(t_);
  t_.assign(old.size() * 2, Slot{});
  mask_ = t_.size() - 1;
  n_ = 0;
  for (const Slot& s : old)
    if (s.used) put(s.dev, s.sector, s.id);
}

void KeyMap::put(uint32_t dev, uint64_t sector, uint64_t id) {
  if ((n_ + 1) * 2 > t_.size()) grow();
  for (size_t i = slot(dev, sector);; i = (i + 1) & mask_) {
    Slot& s = t_[i];
    if (!s.used) {
      s = Slot{sector, id, dev, 1};
      n_++;
      return;
    }
    if (s.sector == sector && s.dev == dev) {
      s.id = id;
      return;
    }
  }
}

void KeyMap::erase(uint32_t dev, uint64_t sector) {
  size_t i = slot(dev, sector);
  for (;; i = (i + 1) & mask_) {
    if (!t_[i].used) return;
    if (t_[i].sector == sector && t_[i].dev == dev) break;
  }
  // Backward-shift deletion keeps probe chains intact without tombstones.
  size_t j = i;
  for (;;) {
    t_[i].used = 0;
    for (;;) {
      j = (j + 1) & mask_;
      if (!t_[j].used) {
        n_--;
        return;
      }
      size_t k = slot(t_[j].dev, t_[j].sector);
      bool between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!between) break;
    }
    t_[i] = t_[j];
    i = j;
  }
}

// ---- parser -----------------------------------------------------------------

Parser::Parser(std::vector<std::unique_ptr<RecordStream>> streams, ParserOptions opts) : merger_(std::move(streams)), opts_(opts) {
  ring_.resize(1024);
  ringMask_ = 1023;
}

uint64_t Parser::bytesRead() const {
  uint64_t n = 0;
  for (auto& s : merger_.streams()) n += s->bytesRead();
  return n;
}

uint64_t Parser::skipped() const {
  uint64_t n = 0;
  for (auto& s : merger_.streams()) n += s->skipped();
  return n;
}

double Parser::baseTimeNs() const {
  if (!haveWall_ || !genesisKnown_) return 0;
  return static_cast<double>(wallNs_) + static_cast<double>(static_cast<int64_t>(genesis_ - wallAt_));
}

void Parser::handleNote(const Event& e, const Layout& l) {
  uint32_t code = e.act() & 0xff;
  const uint8_t* p = e.payload();
  size_t len = e.payloadLen();
  stats_.notify[code < 3 ? code : 3]++;
  if (code == TN_PROCESS) {
    size_t n = 0;
    while (n < len && p[n]) n++;
    processes_[e.pid] = std::string(reinterpret_cast<const char*>(p), n);
  } else if (code == TN_TIMESTAMP && len == 8) {
    // Two u32 in the writer's byte order: wall-clock seconds and nanoseconds at e.time.
    uint64_t sec = l.u32(p), nsec = l.u32(p + 4);
    wallNs_ = sec * 1000000000ull + nsec;
    wallAt_ = e.time;
    haveWall_ = true;
  }
}

uint64_t Parser::newReq() {
  if (tail_ - head_ == ring_.size()) {
    std::vector<Req> bigger(ring_.size() * 2);
    uint64_t mask = bigger.size() - 1;
    for (uint64_t id = head_; id < tail_; id++) bigger[id & mask] = ring_[id & ringMask_];
    ring_.swap(bigger);
    ringMask_ = mask;
  }
  return tail_++;
}

void Parser::chainAdd(uint64_t id) {
  Req& r = at(id);
  r.nextSame = kNone;
  uint64_t* h = start_.find(r.device, r.keySector);
  if (!h) {
    start_.put(r.device, r.keySector, id);
    return;
  }
  uint64_t c = *h;
  while (at(c).nextSame != kNone) c = at(c).nextSame;
  at(c).nextSame = id;
}

void Parser::chainRemove(uint64_t id) {
  Req& r = at(id);
  uint64_t* h = start_.find(r.device, r.keySector);
  if (!h) return;
  if (*h == id) {
    if (r.nextSame == kNone)
      start_.erase(r.device, r.keySector);
    else
      *h = r.nextSame;
    return;
  }
  for (uint64_t c = *h; c != kNone; c = at(c).nextSame) {
    if (at(c).nextSame == id) {
      at(c).nextSame = r.nextSame;
      return;
    }
  }
}

uint64_t Parser::findOldest(uint32_t dev, uint64_t sector, uint8_t lo, uint8_t hi) {
  uint64_t* h = start_.find(dev, sector);
  if (!h) return kNone;
  for (uint64_t c = *h; c != kNone; c = at(c).nextSame)
    if (at(c).state >= lo && at(c).state <= hi) return c;
  return kNone;
}

uint64_t Parser::findNewest(uint32_t dev, uint64_t sector, uint8_t lo, uint8_t hi) {
  uint64_t* h = start_.find(dev, sector);
  if (!h) return kNone;
  uint64_t found = kNone;
  for (uint64_t c = *h; c != kNone; c = at(c).nextSame)
    if (at(c).state >= lo && at(c).state <= hi) found = c;
  return found;
}

void Parser::endPut(uint64_t id) {
  Req& r = at(id);
  if (r.bytes) end_.put(r.device, r.sector + r.bytes / 512, id);
}

void Parser::endErase(uint64_t id) {
  Req& r = at(id);
  if (!r.bytes) return;
  uint64_t* v = end_.find(r.device, r.sector + r.bytes / 512);
  if (v && *v == id) end_.erase(r.device, r.sector + r.bytes / 512);
}

void Parser::kill(uint64_t id, uint8_t state) {
  Req& r = at(id);
  if (r.state < ISSUED) endErase(id);
  chainRemove(id);
  r.state = state;
  finished_ = true;
}

void Parser::pair(const Event& e) {
  const uint32_t act = e.act();
  // An event whose request is not known (queued before the trace began, or on a missing CPU file).
  auto miss = [&] { stats_.unpaired[act]++; };
  if (e.cat() & TC_PC) {
    stats_.pcEvents++;
    return;
  }
  switch (act) {
    case TA_QUEUE: {
      uint64_t id = newReq();
      Req& r = at(id);
      r.q = e.time;
      r.issue = r.complete = kNone;
      r.sector = r.keySector = e.sector;
      r.bytes = r.remaining = e.bytes;
      r.device = e.device;
      r.pid = e.pid;
      r.op = opFromCategory(e.cat());
      r.state = QUEUED;
      chainAdd(id);
      endPut(id);
      return;
    }
    case TA_BACKMERGE:
    case TA_FRONTMERGE: {
      uint64_t bio = findNewest(e.device, e.sector, QUEUED, QUEUED);
      uint64_t target = kNone;
      if (act == TA_BACKMERGE) {
        uint64_t* v = end_.find(e.device, e.sector);
        if (v && *v != bio && at(*v).state < ISSUED && at(*v).device == e.device && at(*v).sector + at(*v).bytes / 512 == e.sector) target = *v;
      } else {
        uint64_t t = findOldest(e.device, e.sector + e.bytes / 512, QUEUED, INSERTED);
        if (t != bio) target = t;
      }
      if (bio == kNone || target == kNone) {
        stats_.unpaired[act]++;
        if (bio != kNone) kill(bio, DEAD);  // it joined a request queued before the trace began
        return;
      }
      Req& b = at(bio);
      uint32_t add = b.bytes;
      kill(bio, DEAD);
      Req& t = at(target);
      endErase(target);
      if (act == TA_FRONTMERGE) {
        chainRemove(target);
        t.sector = t.keySector = e.sector;
        chainAdd(target);
      }
      t.bytes += add;
      t.remaining += add;
      endPut(target);
      stats_.merged++;
      return;
    }
    case TA_GETRQ:
    case TA_INSERT: {
      uint64_t id = findOldest(e.device, e.sector, QUEUED, act == TA_GETRQ ? QUEUED : GOT);
      if (id == kNone) id = findOldest(e.device, e.sector, QUEUED, INSERTED);
      if (id == kNone) return miss();
      Req& r = at(id);
      if (r.state < (act == TA_GETRQ ? GOT : INSERTED)) r.state = act == TA_GETRQ ? GOT : INSERTED;
      return;
    }
    case TA_ISSUE: {
      uint64_t id = findOldest(e.device, e.sector, QUEUED, INSERTED);
      if (id == kNone) return miss();
      Req& r = at(id);
      endErase(id);
      r.state = ISSUED;
      r.issue = e.time;
      // The driver sees D's size; it differs from ours only after merges we did not see.
      if (e.bytes) r.bytes = r.remaining = e.bytes;
      return;
    }
    case TA_REQUEUE: {
      uint64_t id = findOldest(e.device, e.sector, ISSUED, ISSUED);
      if (id == kNone) return miss();
      at(id).state = INSERTED;
      at(id).issue = kNone;
      stats_.requeues++;
      return;
    }
    case TA_COMPLETE: {
      uint64_t id = findOldest(e.device, e.sector, ISSUED, ISSUED);
      if (id == kNone) {
        id = findOldest(e.device, e.sector, QUEUED, INSERTED);
        if (id == kNone) return miss();
        stats_.completedWithoutIssue++;
        endErase(id);
      }
      Req& r = at(id);
      if (e.bytes && e.bytes < r.remaining) {
        // Partial completion (older kernels): the rest completes later at a higher sector.
        stats_.partialCompletions++;
        chainRemove(id);
        r.keySector += e.bytes / 512;
        r.remaining -= e.bytes;
        if (r.state != ISSUED) r.state = ISSUED;
        chainAdd(id);
        return;
      }
      chainRemove(id);
      r.complete = e.time;
      r.state = DONE;
      finished_ = true;
      return;
    }
    case TA_SPLIT: {
      if (e.payloadLen() < 8) return miss();
      uint64_t at2 = be64(e.payload());
      uint64_t id = findNewest(e.device, e.sector, QUEUED, INSERTED);
      if (id == kNone || at2 <= e.sector || at2 - e.sector >= (uint64_t(at(id).bytes) + 511) / 512) return miss();
      // The bio keeps [sector, at2); the remainder goes on as its own request with the same queue time.
      uint64_t rest = newReq();
      Req& r = at(id);  // after newReq: the ring may have moved
      endErase(id);
      Req& n = at(rest);
      n = r;
      uint32_t first = static_cast<uint32_t>((at2 - e.sector) * 512);
      n.sector = n.keySector = at2;
      n.bytes = n.remaining = r.bytes - first;
      n.state = QUEUED;
      r.bytes = r.remaining = first;
      endPut(id);
      chainAdd(rest);
      endPut(rest);
      stats_.splits++;
      return;
    }
    case TA_REMAP: {
      if (e.payloadLen() < 16) return miss();
      uint32_t from = be32(e.payload());
      uint64_t fromSector = be64(e.payload() + 8);
      if (from == e.device && fromSector == e.sector) return;
      // A bio queued on the upper device of this same set moves down: the lower device's Q stands for it.
      uint64_t id = findNewest(from, fromSector, QUEUED, QUEUED);
      if (id != kNone) {
        kill(id, DEAD);
        stats_.remapped++;
      }
      return;
    }
    case TA_ABORT: {
      uint64_t id = findOldest(e.device, e.sector, QUEUED, INSERTED);
      if (id == kNone) return miss();
      kill(id, DEAD);
      stats_.aborted++;
      return;
    }
    default:
      return;  // sleeprq, plug/unplug, bounce, driver data, zone plugs: no effect on requests
  }
}

size_t Parser::drain(const RequestCols& out, size_t n, size_t max, bool force) {
  while (n < max && head_ < tail_) {
    Req& r = at(head_);
    if (r.state == DEAD) {
      head_++;
      continue;
    }
    if (r.state != DONE) {
      bool stale = force || tail_ - head_ > opts_.maxPending || (now_ > r.q && now_ - r.q > opts_.staleNs);
      if (!stale) break;
      kill(head_, EMITTED);
      stats_.incomplete++;
    }
    out.timeNs[n] = rel(r.q);
    out.sector[n] = static_cast<double>(r.sector);
    out.bytes[n] = r.bytes;
    out.op[n] = r.op;
    out.device[n] = r.device;
    out.pid[n] = r.pid;
    out.issueNs[n] = r.issue == kNone ? NAN : rel(r.issue);
    out.completeNs[n] = r.complete == kNone ? NAN : rel(r.complete);
    stats_.requests++;
    n++;
    head_++;
  }
  return n;
}

size_t Parser::nextRequests(const RequestCols& out, size_t max) {
  size_t n = drain(out, 0, max, false);
  size_t s;
  while (n < max) {
    const Event* ep = merger_.next(s);
    if (!ep) {
      ended_ = true;
      return drain(out, n, max, true);
    }
    const Event& e = *ep;
    stats_.events++;
    now_ = e.time;
    if (e.notify()) {
      handleNote(e, merger_.streams()[s]->layout());
      if ((e.act() & 0xff) != TN_MESSAGE) continue;
    } else {
      if (e.act() < 32) stats_.byAct[e.act()]++;
    }
    if (!genesisKnown_) {
      genesisKnown_ = true;
      genesis_ = e.time;
    }
    if (!e.notify()) pair(e);
    // Only a completion or a dropped request can free the head; the staleness limits are checked every 64 events.
    if (finished_ || (++tick_ & 63) == 0) {
      finished_ = false;
      n = drain(out, n, max, false);
    }
  }
  return n;
}

size_t Parser::nextEvents(const EventCols& out, size_t max) {
  size_t n = 0;
  auto put = [&](const Event& e, uint64_t aux, uint32_t auxDev) {
    out.timeNs[n] = rel(e.time);
    out.sector[n] = static_cast<double>(e.sector);
    out.bytes[n] = e.bytes;
    out.act[n] = static_cast<uint16_t>(e.action & 0xffff);
    out.category[n] = static_cast<uint32_t>(e.cat());
    out.pid[n] = e.pid;
    out.device[n] = e.device;
    out.cpu[n] = e.cpu;
    out.sequence[n] = e.sequence;
    out.error[n] = e.error;
    out.auxSector[n] = static_cast<double>(aux);
    out.auxDevice[n] = auxDev;
    n++;
  };
  auto flushPending = [&]() {
    while (n < max && pendingPos_ < pending_.size()) {
      const Pending& p = pending_[pendingPos_++];
      put(p.e, p.aux, p.auxDev);
    }
    if (pendingPos_ == pending_.size()) {
      pending_.clear();
      pendingPos_ = 0;
    }
  };
  if (genesisKnown_) flushPending();
  size_t s;
  while (n < max) {
    const Event* ep = merger_.next(s);
    if (!ep) {
      if (!genesisKnown_ && !pending_.empty()) {
        genesisKnown_ = true;
        genesis_ = pending_[0].e.time;
      }
      ended_ = true;
      flushPending();
      return n;
    }
    const Event& e = *ep;
    stats_.events++;
    now_ = e.time;
    uint64_t aux = 0;
    uint32_t auxDev = 0;
    bool realEvent = true;
    if (e.notify()) {
      handleNote(e, merger_.streams()[s]->layout());
      realEvent = (e.act() & 0xff) == TN_MESSAGE;  // blkparse sorts messages with the events
    } else {
      if (e.act() < 32) stats_.byAct[e.act()]++;
      if (e.act() == TA_REMAP && e.payloadLen() >= 16) {
        auxDev = be32(e.payload());
        aux = be64(e.payload() + 8);
      } else if (e.act() == TA_SPLIT && e.payloadLen() >= 8) {
        aux = be64(e.payload());
      }
    }
    if (!genesisKnown_ && realEvent) {
      genesisKnown_ = true;
      genesis_ = e.time;
    }
    if (!genesisKnown_) {
      Event copy = e;
      copy.pdu = nullptr;
      pending_.push_back(Pending{copy, aux, auxDev});
      continue;
    }
    if (!pending_.empty()) flushPending();
    if (n < max)
      put(e, aux, auxDev);
    else
      pending_.push_back(Pending{e, aux, auxDev});
  }
  return n;
}

// ---- per-CPU set discovery ----------------------------------------------------

std::vector<std::string> findSetFiles(const std::string& path, std::vector<unsigned>& missing) {
  namespace fs = std::filesystem;
  std::string prefix;
  static const std::string tag = ".blktrace.";
  size_t k = path.rfind(tag);
  bool numbered = k != std::string::npos && k + tag.size() < path.size() &&
                  std::all_of(path.begin() + static_cast<long>(k + tag.size()), path.end(), [](char c) { return c >= '0' && c <= '9'; });
  std::error_code ec;
  // NAME.blktrace.N names its set; any other path is taken as the NAME prefix (a plain file has no siblings).
  prefix = numbered ? path.substr(0, k) : path;
  fs::path pp(prefix);
  fs::path dir = pp.has_parent_path() ? pp.parent_path() : fs::path(".");
  std::string base = pp.filename().string() + tag;
  std::vector<std::pair<unsigned, std::string>> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= base.size() || name.compare(0, base.size(), base) != 0) continue;
    std::string num = name.substr(base.size());
    if (num.size() > 6 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    found.emplace_back(static_cast<unsigned>(std::stoul(num)), (dir / name).string());
  }
  if (found.empty()) {
    missing.clear();
    return {path};  // a single file (e.g. a `blkparse -d` dump); FileSource reports it if unreadable
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  unsigned expect = 0;
  for (auto& [n, f] : found) {
    while (expect < n) missing.push_back(expect++);
    expect = n + 1;
    files.push_back(f);
  }
  return files;
}

}  // namespace ssdtune::blktrace
