#include "sim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "rng.h"

#include <chrono>
#include <ctime>

namespace ssdsim {

namespace {
uint64_t threadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
// Bytes per mapping entry in a translation page (a 32-bit physical page number).
constexpr uint32_t kEntryBytes = 4;
constexpr uint32_t kCmtNone = kNone;
}  // namespace

Sim::Sim(const SimConfig& c) : cfg_(c), ftl_(c) {
  if (c.queueDepth < 1) throw ConfigError("queueDepth", "queueDepth must be at least 1");
  if (c.pcieLanes < 1) throw ConfigError("pcieLanes", "pcieLanes must be at least 1");
  if (!(c.pcieLaneBytesPerSec > 0)) throw ConfigError("pcieLaneGBps", "pcieLaneGBps must be positive");
  if (c.channelWidthBytes < 1) throw ConfigError("channelWidthBytes", "channelWidthBytes must be at least 1");
  if (!(c.channelMTs > 0)) throw ConfigError("channelMTs", "channelMTs must be positive");
  if (c.cmtBytes < c.pageBytes) throw ConfigError("cmtBytes", "cmtBytes must hold at least one translation page (pageBytes)");
  if (c.planesPerDie > 64) throw ConfigError("planesPerDie", "planesPerDie must be at most 64");
  if (c.mode == Mode::CLOSED && c.closedLoopDepth < 1) throw ConfigError("closedLoopDepth", "closedLoopDepth must be at least 1");
  spp_ = c.pageBytes / 512;
  planesPerDie_ = c.planesPerDie;
  nDies_ = c.channels * c.chipsPerChannel * c.diesPerChip;
  diesPerChannel_ = c.chipsPerChannel * c.diesPerChip;
  chanBytesPerNs_ = c.channelWidthBytes * c.channelMTs * 1e6 / 1e9;
  pcieBytesPerNs_ = c.pcieLanes * c.pcieLaneBytesPerSec / 1e9;
  const uint32_t planes = ftl_.planes();
  uHead_.assign(planes, kNone);
  uTail_.assign(planes, kNone);
  gHead_.assign(planes, kNone);
  gTail_.assign(planes, kNone);
  dies_.assign(nDies_, Die{});
  batch_.assign(static_cast<size_t>(nDies_) * planesPerDie_, kNone);
  chanFree_.assign(c.channels, 0);
  chanBusyNs_.assign(c.channels, 0);

  // Data cache.
  cacheSlots_ = static_cast<uint32_t>(std::min<uint64_t>(c.dataCacheBytes / c.pageBytes, ftl_.logicalPages()));
  if (cacheSlots_ > 0) {
    uint32_t cap = 16;
    while (cap < 2 * cacheSlots_) cap <<= 1;
    hMask_ = cap - 1;
    hKey_.assign(cap, kNone);
    hVal_.assign(cap, -1);
    sLpn_.assign(cacheSlots_, kNone);
    sPrev_.assign(cacheSlots_, kNone);
    sNext_.assign(cacheSlots_, kNone);
    sState_.assign(cacheSlots_, S_FREE);
    sRedirty_.assign(cacheSlots_, 0);
    for (uint32_t s = cacheSlots_; s-- > 0;) {
      sNext_[s] = freeSlotHead_;
      freeSlotHead_ = s;
    }
    freeSlots_ = cacheSlots_;
    // Dirty pages start flushing once fewer than this many slots are free or
    // clean: enough to keep two programs queued per plane, so the flash stays
    // busy, without flushing pages that might still be overwritten.
    flushReserve_ = std::min<uint32_t>(cacheSlots_, std::max<uint32_t>(1, 2 * planes));
  }
  // CMT.
  entriesPerTp_ = c.pageBytes / kEntryBytes;
  const uint32_t tps = (ftl_.logicalPages() + entriesPerTp_ - 1) / entriesPerTp_;
  cmtSlots_ = static_cast<uint32_t>(std::min<uint64_t>(c.cmtBytes / c.pageBytes, tps));
  tpSlot_.assign(tps, kCmtNone);
  cTp_.assign(cmtSlots_, kNone);
  cPrev_.assign(cmtSlots_, kNone);
  cNext_.assign(cmtSlots_, kNone);
  cWaitHead_.assign(cmtSlots_, kNone);
  cWaitTail_.assign(cmtSlots_, kNone);
  cDirty_.assign(cmtSlots_, 0);
  cLoading_.assign(cmtSlots_, 0);
  st_.readLat = &readLat_;
  st_.writeLat = &writeLat_;
  st_.deviceResp = &devResp_;
  st_.allLat = &allLat_;
  heap_.reserve(1024);
}

// ---- input ---------------------------------------------------------------

uint32_t Sim::lpnOf(uint64_t sector) const {
  uint64_t lpn = sector / spp_;
  if (lpn >= ftl_.logicalPages()) lpn %= ftl_.logicalPages();  // only reached when modulo mapping was chosen
  return static_cast<uint32_t>(lpn);
}

FeedResult Sim::feed(const double* t, const double* sector, const uint32_t* bytes, const uint16_t* op, size_t n) {
  FeedResult fr;
  const uint64_t limit = logicalSectors();
  for (size_t i = 0; i < n; i++) {
    if (bytes[i] == 0 || !(op[i] & 3)) continue;
    if (!(sector[i] >= 0 && sector[i] < 9007199254740992.0)) {
      fr.badIndex = static_cast<int64_t>(i);
      fr.badSector = true;
      return fr;
    }
    if (!cfg_.lbaModulo) {
      uint64_t last = static_cast<uint64_t>(sector[i]) + (bytes[i] + 511) / 512 - 1;
      if (last >= limit) {
        fr.badIndex = static_cast<int64_t>(i);
        fr.badLastSector = last;
        return fr;
      }
    }
  }
  if (inHead_ > 0) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(inHead_));
    inHead_ = 0;
  }
  in_.reserve(in_.size() + n);
  for (size_t i = 0; i < n; i++) {
    // Only reads and writes reach the flash model; discards and flushes are
    // counted as skipped (TRIM is not modelled).
    const bool w = op[i] & 2, r = op[i] & 1;
    if (bytes[i] == 0 || (!w && !r)) {
      st_.skipped++;
      continue;
    }
    double ti = t[i] < 0 ? 0 : t[i];
    uint64_t tn = static_cast<uint64_t>(std::llround(ti));
    if (anyFed_ && tn < lastFedT_) {
      tn = lastFedT_;  // arrivals must not go back in time; reported as clampedArrivals
      st_.clampedArrivals++;
    }
    lastFedT_ = tn;
    anyFed_ = true;
    in_.push_back(InputReq{tn, static_cast<uint64_t>(sector[i]), bytes[i], static_cast<uint8_t>(w ? 1 : 0)});
  }
  return fr;
}

// ---- preconditioning -----------------------------------------------------

void Sim::precondition() {
  preconditioned_ = true;
  if (!ftl_.precondition(cfg_.preconditionFill, cfg_.preconditionAge, cfg_.seed, cfg_.preconditionTemplates, cancel_)) return;
  st_.precondition = ftl_.counters;
  ftl_.counters = FtlCounters{};
}

// ---- event loop ----------------------------------------------------------

void Sim::schedule(uint64_t t, uint32_t kind, uint32_t id) {
  heap_.push_back(Ev{t, evSeq_++, kind, id});
  std::push_heap(heap_.begin(), heap_.end(), EvLater());
}

RunStatus Sim::run(bool final) {
  if (!preconditioned_) {
    const uint64_t c0 = threadCpuNs();
    const auto w0 = std::chrono::steady_clock::now();
    precondition();
    st_.preconditionCpuNs += threadCpuNs() - c0;
    st_.preconditionWallNs += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w0).count());
  }
  const uint64_t c0 = threadCpuNs();
  const RunStatus s = loop(final);
  st_.replayCpuNs += threadCpuNs() - c0;
  return s;
}

RunStatus Sim::loop(bool final) {
  if (cancel_.load()) return RunStatus::CANCELLED;
  const bool closed = cfg_.mode == Mode::CLOSED;
  const uint32_t depth = closed ? std::min(cfg_.closedLoopDepth, cfg_.queueDepth) : cfg_.queueDepth;
  uint32_t tick = 0;
  for (;;) {
    if ((++tick & 0xFFF) == 0 && cancel_.load(std::memory_order_relaxed)) return RunStatus::CANCELLED;
    const bool haveInput = inHead_ < in_.size();
    if (closed) {
      while (outstanding_ < depth && inHead_ < in_.size()) admit(in_[inHead_++]);
      if (outstanding_ < depth && inHead_ == in_.size() && !final) return RunStatus::NEED_MORE;
    } else if (haveInput && outstanding_ < depth) {
      // An arrival precedes events at the same instant.
      const InputReq& in = in_[inHead_];
      if (heap_.empty() || in.t <= heap_.front().t) {
        if (in.t > now_) now_ = in.t;
        inHead_++;
        admit(in);
        continue;
      }
    }
    if (heap_.empty()) {
      if (inHead_ < in_.size()) {
        if (closed) continue;  // refilled at the top of the loop
        throw std::logic_error("ssdsim: requests wait but no event is pending");
      }
      return final ? RunStatus::DONE : RunStatus::NEED_MORE;
    }
    // Without buffered input, an event at or after the last fed arrival might
    // still be preceded by an arrival of the next batch.
    if (!closed && !final && inHead_ == in_.size() && heap_.front().t >= lastFedT_) return RunStatus::NEED_MORE;
    std::pop_heap(heap_.begin(), heap_.end(), EvLater());
    Ev ev = heap_.back();
    heap_.pop_back();
    now_ = ev.t;
    switch (ev.kind) {
      case EV_DIE: onDieEvent(ev.id); break;
      case EV_CHAN: onChanEvent(ev.id); break;
      case EV_PCIE: onPcieDone(ev.id); break;
    }
  }
}

// ---- requests ------------------------------------------------------------

void Sim::admit(const InputReq& in) {
  uint32_t r;
  if (reqFree_ != kNone) {
    r = reqFree_;
    reqFree_ = reqs_[r].nextFree;
  } else {
    r = static_cast<uint32_t>(reqs_.size());
    reqs_.push_back(Req{});
  }
  Req& q = reqs_[r];
  const bool closed = cfg_.mode == Mode::CLOSED;
  q.arrival = closed ? now_ : in.t;
  q.admit = now_;
  q.sector = in.sector;
  q.bytes = in.bytes;
  q.write = in.write;
  q.pending = 0;
  q.transferring = 0;
  if (st_.requests == 0) st_.firstArrivalNs = q.arrival;
  st_.requests++;
  outstanding_++;
  if (q.write) {
    st_.writes++;
    st_.writeBytes += q.bytes;
    // Host -> device data transfer over the PCIe link, then into the cache.
    uint64_t start = std::max(now_, h2dFree_);
    uint64_t dur = static_cast<uint64_t>(std::ceil(q.bytes / pcieBytesPerNs_));
    h2dFree_ = start + dur;
    h2dBusyNs_ += dur;
    q.transferring = 1;
    schedule(h2dFree_, EV_PCIE, r);
    return;
  }
  st_.reads++;
  st_.readBytes += q.bytes;
  const uint64_t first = q.sector, last = q.sector + (q.bytes + 511) / 512 - 1;
  for (uint64_t p = first / spp_; p <= last / spp_; p++) {
    const uint32_t lpn = lpnOf(p * spp_);
    if (cacheSlots_) {
      st_.cacheReadLookups++;
      int32_t s = cacheFind(lpn);
      if (s >= 0) {
        st_.cacheReadHits++;
        if (sState_[s] != S_FLUSHING) {  // LRU touch
          int list = sState_[s] == S_DIRTY ? 1 : 0;
          listUnlink(s);
          listPushHead(list, s);
        }
        continue;
      }
    }
    if (!ftl_.mapped(lpn)) {
      st_.unmappedReads++;  // never written: served without flash access
      continue;
    }
    const uint64_t lo = std::max(first, p * spp_), hi = std::min(last, p * spp_ + spp_ - 1);
    const uint32_t bytes = static_cast<uint32_t>((hi - lo + 1) * 512);
    uint32_t tx = newTx(T_READ, ftl_.planeOf(lpn), r, 0, bytes, false);
    q.pending++;
    st_.flashReads++;
    cmtAccess(lpn, tx, false);
  }
  if (reqs_[r].pending == 0) finishRequest(r);
}

void Sim::onPcieDone(uint32_t r) {
  Req& q = reqs_[r];
  if (q.write && q.transferring == 1) {
    q.transferring = 0;
    writeData(r);
    return;
  }
  complete(r);  // read data delivered to the host
}

void Sim::complete(uint32_t r) {
  Req& q = reqs_[r];
  (q.write ? writeLat_ : readLat_).add(now_ - q.arrival);
  allLat_.add(now_ - q.arrival);
  devResp_.add(now_ - q.admit);
  st_.lastCompletionNs = std::max(st_.lastCompletionNs, now_);
  completed_++;
  outstanding_--;
  q.nextFree = reqFree_;
  reqFree_ = r;
}

void Sim::writeData(uint32_t r) {
  Req& q = reqs_[r];
  const uint64_t first = q.sector, last = q.sector + (q.bytes + 511) / 512 - 1;
  q.pending = 1;  // guard: the request cannot finish while its pages are being placed
  for (uint64_t p = first / spp_; p <= last / spp_; p++) {
    const uint32_t lpn = lpnOf(p * spp_);
    if (cacheSlots_) {
      if (!cacheWrite(lpn, r, false)) reqs_[r].pending++;
    } else {
      // No cache: the page goes to flash and the request waits for the program.
      ftl_.write(lpn, this);
      uint32_t tx = newTx(T_PROG, ftl_.planeOf(lpn), r, 1, cfg_.pageBytes, false);
      reqs_[r].pending++;
      cmtAccess(lpn, tx, true);
    }
  }
  if (cacheSlots_) flushAhead();
  if (--reqs_[r].pending == 0) finishRequest(r);
}

void Sim::finishRequest(uint32_t r) {
  Req& q = reqs_[r];
  if (!q.write) {
    // Device -> host transfer of the read data.
    uint64_t start = std::max(now_, d2hFree_);
    uint64_t dur = static_cast<uint64_t>(std::ceil(q.bytes / pcieBytesPerNs_));
    d2hFree_ = start + dur;
    d2hBusyNs_ += dur;
    q.transferring = 2;
    schedule(d2hFree_, EV_PCIE, r);
    return;
  }
  complete(r);
}

// ---- transactions and flash resources ------------------------------------

int Sim::txClass(uint8_t kind) {
  switch (kind) {
    case T_READ:
    case T_TREAD:
    case T_GCREAD: return 0;
    case T_PROG:
    case T_TPROG:
    case T_GCPROG: return 1;
    case T_COPYBACK: return 2;
    default: return 3;
  }
}

uint32_t Sim::newTx(uint8_t kind, uint32_t plane, uint32_t owner, uint32_t aux, uint32_t bytes, bool gc) {
  uint32_t id;
  if (txFree_ != kNone) {
    id = txFree_;
    txFree_ = txs_[id].next;
  } else {
    id = static_cast<uint32_t>(txs_.size());
    txs_.push_back(Tx{});
  }
  Tx& x = txs_[id];
  x.seq = 0;
  x.next = kNone;
  x.plane = plane;
  x.owner = owner;
  x.aux = aux;
  x.bytes = bytes;
  x.kind = kind;
  x.gc = gc ? 1 : 0;
  return id;
}

void Sim::enqueue(uint32_t id) {
  Tx& x = txs_[id];
  x.seq = txSeq_++;
  x.next = kNone;
  std::vector<uint32_t>& head = x.gc ? gHead_ : uHead_;
  std::vector<uint32_t>& tail = x.gc ? gTail_ : uTail_;
  if (tail[x.plane] == kNone)
    head[x.plane] = id;
  else
    txs_[tail[x.plane]].next = id;
  tail[x.plane] = id;
  dispatch(x.plane / planesPerDie_);
}

void Sim::dispatch(uint32_t die) {
  Die& d = dies_[die];
  if (d.phase != IDLE) return;
  const uint32_t p0 = die * planesPerDie_;
  // Preemptible GC yields to user transactions unless a plane of the die is
  // below the hard threshold; otherwise the oldest transaction goes first.
  bool userFirst = false;
  if (cfg_.preemptibleGc) {
    userFirst = true;
    for (uint32_t p = p0; p < p0 + planesPerDie_; p++)
      if (ftl_.urgent(p)) userFirst = false;
  }
  uint32_t best = kNone, bestPlane = 0;
  bool bestGc = false;
  for (int pass = 0; pass < 2 && best == kNone; pass++) {
    for (uint32_t p = p0; p < p0 + planesPerDie_; p++) {
      for (int g = 0; g < 2; g++) {
        if (userFirst && g != pass) continue;
        uint32_t h = g ? gHead_[p] : uHead_[p];
        if (h != kNone && (best == kNone || txs_[h].seq < txs_[best].seq)) best = h, bestPlane = p, bestGc = g;
      }
    }
    if (!userFirst) break;
  }
  if (best == kNone) return;
  auto pop = [&](uint32_t p, bool g) {
    std::vector<uint32_t>& head = g ? gHead_ : uHead_;
    std::vector<uint32_t>& tail = g ? gTail_ : uTail_;
    uint32_t id = head[p];
    head[p] = txs_[id].next;
    if (head[p] == kNone) tail[p] = kNone;
    return id;
  };
  uint32_t* b = &batch_[static_cast<size_t>(die) * planesPerDie_];
  b[0] = pop(bestPlane, bestGc);
  d.n = 1;
  const int cls = txClass(txs_[b[0]].kind);
  if (cls <= 1) {
    // Multi-plane operation: the heads of the other planes join if they are the same operation.
    for (uint32_t p = p0; p < p0 + planesPerDie_; p++) {
      if (p == bestPlane) continue;
      if (uHead_[p] != kNone && txClass(txs_[uHead_[p]].kind) == cls)
        b[d.n++] = pop(p, false);
      else if (gHead_[p] != kNone && txClass(txs_[gHead_[p]].kind) == cls && !(userFirst && uHead_[p] != kNone))
        b[d.n++] = pop(p, true);
    }
  }
  d.start = now_;
  switch (cls) {
    case 0:
      d.phase = CELL_READ;
      schedule(now_ + cfg_.readNs, EV_DIE, die);
      break;
    case 1: {
      uint32_t bytes = 0;
      for (uint32_t i = 0; i < d.n; i++) bytes += txs_[b[i]].bytes;
      d.phase = XFER_IN;
      schedule(reserveChannel(die, bytes), EV_CHAN, die);
      break;
    }
    case 2:
      d.phase = CELL_OTHER;
      schedule(now_ + cfg_.readNs + cfg_.programNs, EV_DIE, die);
      break;
    default:
      d.phase = CELL_OTHER;
      schedule(now_ + cfg_.eraseNs, EV_DIE, die);
      break;
  }
}

uint64_t Sim::reserveChannel(uint32_t die, uint32_t bytes) {
  const uint32_t ch = die / diesPerChannel_;
  const uint64_t start = std::max(now_, chanFree_[ch]);
  const uint64_t dur = static_cast<uint64_t>(std::ceil(bytes / chanBytesPerNs_));
  chanFree_[ch] = start + dur;
  chanBusyNs_[ch] += dur;
  return chanFree_[ch];
}

void Sim::onDieEvent(uint32_t die) {
  Die& d = dies_[die];
  if (d.phase == CELL_READ) {
    uint32_t bytes = 0;
    const uint32_t* b = &batch_[static_cast<size_t>(die) * planesPerDie_];
    for (uint32_t i = 0; i < d.n; i++) bytes += txs_[b[i]].bytes;
    d.phase = XFER_OUT;
    schedule(reserveChannel(die, bytes), EV_CHAN, die);
    return;
  }
  finishBatch(die);  // CELL_PROG, CELL_OTHER
}

void Sim::onChanEvent(uint32_t die) {
  Die& d = dies_[die];
  if (d.phase == XFER_IN) {
    d.phase = CELL_PROG;
    schedule(now_ + cfg_.programNs, EV_DIE, die);
    return;
  }
  finishBatch(die);  // XFER_OUT
}

void Sim::finishBatch(uint32_t die) {
  Die& d = dies_[die];
  d.busyNs += now_ - d.start;
  d.phase = COMPLETING;  // completions may enqueue work for this die: dispatch once, below
  const uint32_t n = d.n;
  uint32_t ids[64];
  const uint32_t* b = &batch_[static_cast<size_t>(die) * planesPerDie_];
  for (uint32_t i = 0; i < n; i++) ids[i] = b[i];
  for (uint32_t i = 0; i < n; i++) completeTx(ids[i]);
  d.phase = IDLE;
  dispatch(die);
}

void Sim::completeTx(uint32_t id) {
  Tx& x = txs_[id];
  bool release = true;
  switch (x.kind) {
    case T_READ: {
      Req& q = reqs_[x.owner];
      if (--q.pending == 0) finishRequest(x.owner);
      break;
    }
    case T_PROG:
      if (x.aux == 1) {
        Req& q = reqs_[x.owner];
        if (--q.pending == 0) finishRequest(x.owner);
      } else {
        onFlushDone(x.owner);
      }
      break;
    case T_TREAD:
      onTransReadDone(id);
      break;
    case T_TPROG:
      break;
    case T_GCREAD:
      // The page is in the controller: now program it into the new location.
      x.kind = T_GCPROG;
      enqueue(id);
      release = false;
      break;
    case T_GCPROG:
    case T_COPYBACK: {
      GcJob& j = jobs_[x.owner];
      if (--j.remaining == 0 && j.eraseDue) {
        j.eraseDue = 0;
        enqueue(newTx(T_ERASE, j.plane, x.owner, 0, 0, true));
      }
      break;
    }
    case T_ERASE: {
      jobs_[x.owner].nextFree = jobFree_;
      jobFree_ = x.owner;
      break;
    }
  }
  if (release) {
    txs_[id].next = txFree_;
    txFree_ = id;
  }
}

// ---- GC work from the FTL ------------------------------------------------

uint32_t Sim::gcBegin(uint32_t plane, uint32_t) {
  uint32_t j;
  if (jobFree_ != kNone) {
    j = jobFree_;
    jobFree_ = jobs_[j].nextFree;
  } else {
    j = static_cast<uint32_t>(jobs_.size());
    jobs_.push_back(GcJob{});
  }
  jobs_[j] = GcJob{0, plane, kNone, 0};
  return j;
}

void Sim::gcMove(uint32_t job, uint32_t plane) {
  jobs_[job].remaining++;
  enqueue(newTx(cfg_.copyback ? T_COPYBACK : T_GCREAD, plane, job, 0, cfg_.pageBytes, true));
}

void Sim::gcErase(uint32_t job, uint32_t plane) {
  // The erase waits for the moves out of the victim block.
  if (jobs_[job].remaining == 0)
    enqueue(newTx(T_ERASE, plane, job, 0, 0, true));
  else
    jobs_[job].eraseDue = 1;
}

// ---- data cache ----------------------------------------------------------

int32_t Sim::cacheFind(uint32_t lpn) const {
  for (uint32_t i = (lpn * 2654435761u) & hMask_;; i = (i + 1) & hMask_) {
    if (hKey_[i] == lpn) return hVal_[i];
    if (hKey_[i] == kNone) return -1;
  }
}

void Sim::cacheInsertKey(uint32_t lpn, int32_t slot) {
  uint32_t i = (lpn * 2654435761u) & hMask_;
  while (hKey_[i] != kNone) i = (i + 1) & hMask_;
  hKey_[i] = lpn;
  hVal_[i] = slot;
}

void Sim::cacheEraseKey(uint32_t lpn) {
  uint32_t i = (lpn * 2654435761u) & hMask_;
  while (hKey_[i] != lpn) i = (i + 1) & hMask_;
  // Backward-shift deletion keeps probe chains intact without tombstones.
  for (uint32_t j = (i + 1) & hMask_; hKey_[j] != kNone; j = (j + 1) & hMask_) {
    uint32_t home = (hKey_[j] * 2654435761u) & hMask_;
    if (((j - home) & hMask_) >= ((j - i) & hMask_)) {
      hKey_[i] = hKey_[j];
      hVal_[i] = hVal_[j];
      i = j;
    }
  }
  hKey_[i] = kNone;
  hVal_[i] = -1;
}

void Sim::listUnlink(uint32_t s) {
  const int l = sState_[s] == S_DIRTY ? 1 : 0;
  if (sPrev_[s] != kNone) sNext_[sPrev_[s]] = sNext_[s]; else listHead_[l] = sNext_[s];
  if (sNext_[s] != kNone) sPrev_[sNext_[s]] = sPrev_[s]; else listTail_[l] = sPrev_[s];
  sPrev_[s] = sNext_[s] = kNone;
  listLen_[l]--;
}

void Sim::listPushHead(int l, uint32_t s) {
  sPrev_[s] = kNone;
  sNext_[s] = listHead_[l];
  if (listHead_[l] != kNone) sPrev_[listHead_[l]] = s; else listTail_[l] = s;
  listHead_[l] = s;
  listLen_[l]++;
}

int32_t Sim::cacheTakeSlot() {
  if (freeSlotHead_ != kNone) {
    uint32_t s = freeSlotHead_;
    freeSlotHead_ = sNext_[s];
    sNext_[s] = kNone;
    freeSlots_--;
    return static_cast<int32_t>(s);
  }
  if (listTail_[0] != kNone) {  // evict the least recently used clean page
    uint32_t s = listTail_[0];
    listUnlink(s);
    cacheEraseKey(sLpn_[s]);
    return static_cast<int32_t>(s);
  }
  return -1;
}

bool Sim::cacheWrite(uint32_t lpn, uint32_t req, bool retry) {
  if (!retry) st_.cacheWriteLookups++;
  int32_t s = cacheFind(lpn);
  if (s >= 0) {
    st_.cacheWriteHits++;
    if (sState_[s] == S_FLUSHING) {
      sRedirty_[s] = 1;  // written again while its old copy goes to flash
    } else {
      listUnlink(s);
      sState_[s] = S_DIRTY;
      listPushHead(1, s);
    }
    return true;
  }
  s = cacheTakeSlot();
  if (s < 0) {
    if (!retry) waiters_.emplace_back(req, lpn);
    return false;
  }
  sLpn_[s] = lpn;
  sState_[s] = S_DIRTY;
  cacheInsertKey(lpn, s);
  listPushHead(1, s);
  return true;
}

void Sim::flushAhead() {
  while (freeSlots_ + listLen_[0] < flushReserve_ && listTail_[1] != kNone) {
    const uint32_t s = listTail_[1];
    listUnlink(s);
    sState_[s] = S_FLUSHING;
    flushing_++;
    const uint32_t lpn = sLpn_[s];
    ftl_.write(lpn, this);
    uint32_t tx = newTx(T_PROG, ftl_.planeOf(lpn), s, 0, cfg_.pageBytes, false);
    cmtAccess(lpn, tx, true);
  }
}

void Sim::onFlushDone(uint32_t s) {
  flushing_--;
  if (sRedirty_[s]) {
    sRedirty_[s] = 0;
    sState_[s] = S_DIRTY;
    listPushHead(1, s);
  } else {
    sState_[s] = S_CLEAN;
    listPushHead(0, s);
  }
  // Writes waiting for a slot take them in arrival order.
  while (waitHead_ < waiters_.size()) {
    const auto [req, lpn] = waiters_[waitHead_];
    if (!cacheWrite(lpn, req, true)) break;
    waitHead_++;
    if (--reqs_[req].pending == 0) finishRequest(req);
  }
  if (waitHead_ == waiters_.size()) {
    waiters_.clear();
    waitHead_ = 0;
  }
  flushAhead();
}

// ---- cached mapping table ------------------------------------------------

void Sim::cmtUnlink(uint32_t s) {
  if (cPrev_[s] != kNone) cNext_[cPrev_[s]] = cNext_[s]; else cHead_ = cNext_[s];
  if (cNext_[s] != kNone) cPrev_[cNext_[s]] = cPrev_[s]; else cTail_ = cPrev_[s];
  cPrev_[s] = cNext_[s] = kNone;
}

void Sim::cmtPushHead(uint32_t s) {
  cPrev_[s] = kNone;
  cNext_[s] = cHead_;
  if (cHead_ != kNone) cPrev_[cHead_] = s; else cTail_ = s;
  cHead_ = s;
}

void Sim::cmtAccess(uint32_t lpn, uint32_t tx, bool dirty) {
  st_.cmtLookups++;
  const uint32_t tp = lpn / entriesPerTp_;
  const uint32_t planes = ftl_.planes();
  uint32_t s = tpSlot_[tp];
  if (s != kCmtNone) {
    st_.cmtHits++;
    if (dirty) cDirty_[s] = 1;
    if (cLoading_[s]) {  // wait for the translation page already being read
      txs_[tx].next = kNone;
      if (cWaitTail_[s] == kNone) cWaitHead_[s] = tx; else txs_[cWaitTail_[s]].next = tx;
      cWaitTail_[s] = tx;
      return;
    }
    cmtUnlink(s);
    cmtPushHead(s);
    enqueue(tx);
    return;
  }
  // Miss: read the translation page from flash first.
  st_.mappingReads++;
  if (cmtUsed_ < cmtSlots_) {
    s = cmtUsed_++;
  } else if (cTail_ != kNone) {
    s = cTail_;  // least recently used loaded translation page
    cmtUnlink(s);
    tpSlot_[cTp_[s]] = kCmtNone;
    if (cDirty_[s]) {
      st_.mappingPrograms++;
      enqueue(newTx(T_TPROG, cTp_[s] % planes, 0, 0, cfg_.pageBytes, false));
    }
  } else {
    // Every slot is pinned by a read in flight: read without caching.
    if (dirty) {
      st_.mappingPrograms++;
      enqueue(newTx(T_TPROG, tp % planes, 0, 0, cfg_.pageBytes, false));
    }
    enqueue(newTx(T_TREAD, tp % planes, kCmtNone, tx, cfg_.pageBytes, false));
    return;
  }
  tpSlot_[tp] = s;
  cTp_[s] = tp;
  cDirty_[s] = dirty ? 1 : 0;
  cLoading_[s] = 1;
  txs_[tx].next = kNone;
  cWaitHead_[s] = cWaitTail_[s] = tx;
  enqueue(newTx(T_TREAD, tp % planes, s, 0, cfg_.pageBytes, false));
}

void Sim::onTransReadDone(uint32_t id) {
  const uint32_t s = txs_[id].owner;
  if (s == kCmtNone) {
    enqueue(txs_[id].aux);
    return;
  }
  cLoading_[s] = 0;
  cmtPushHead(s);
  uint32_t w = cWaitHead_[s];
  cWaitHead_[s] = cWaitTail_[s] = kNone;
  while (w != kNone) {
    uint32_t nx = txs_[w].next;
    enqueue(w);
    w = nx;
  }
}

// ---- results -------------------------------------------------------------

Results Sim::results() {
  Results r = st_;
  r.ftl = ftl_.counters;
  const double span = r.lastCompletionNs > r.firstArrivalNs ? static_cast<double>(r.lastCompletionNs - r.firstArrivalNs) : 0;
  if (span > 0) {
    double sum = 0, mx = 0;
    for (uint64_t b : chanBusyNs_) {
      double u = static_cast<double>(b) / span;
      sum += u;
      mx = std::max(mx, u);
    }
    r.channelUtilMean = sum / chanBusyNs_.size();
    r.channelUtilMax = mx;
    sum = mx = 0;
    for (const Die& d : dies_) {
      double u = static_cast<double>(d.busyNs) / span;
      sum += u;
      mx = std::max(mx, u);
    }
    r.dieUtilMean = sum / dies_.size();
    r.dieUtilMax = mx;
    r.pcieH2dUtil = static_cast<double>(h2dBusyNs_) / span;
    r.pcieD2hUtil = static_cast<double>(d2hBusyNs_) / span;
  }
  ftl_.accounting(r.validPages, r.invalidPages, r.freePages);
  r.physicalPages = ftl_.physicalPages();
  r.logicalPages = ftl_.logicalPages();
  return r;
}

}  // namespace ssdsim
