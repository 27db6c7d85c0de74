// The device's request front end and write cache, as MQSim's
// Data_Cache_Manager_Flash_Advanced runs it in WRITE_CACHE mode:
// - a request is cut into one transaction per logical page;
// - reads are served from the cache for the sectors it holds (one DRAM
//   transfer), the rest from flash;
// - a write is taken into the cache page by page while the sectors being
//   written back to flash stay below one page per plane (back-pressure);
//   a page written for the first time in the current second (MQSim's
//   "bloom filter", reset every simulated second) is written back to flash
//   at once; a full cache evicts its least recently used page, writing it
//   back when dirty; the request completes when its data is in DRAM;
// - DRAM is one channel, accessed in FIFO order, with MQSim's access-time
//   formula (so its quirks: 12 KiB costs less than 8 KiB).
// dataCacheBytes = 0 (which MQSim cannot run) sends writes straight to flash.
#include <algorithm>

#include "sim.h"

namespace ssdsim {

namespace {
inline uint32_t popcount(uint64_t x) { return static_cast<uint32_t>(__builtin_popcountll(x)); }
inline uint64_t sectorMask(uint32_t n) { return n >= 64 ? ~0ULL : ((1ULL << n) - 1); }
}  // namespace

uint64_t Sim::dramNs(uint64_t bytes) const {
  const uint64_t row = cfg_.dramRowBytes, burst = cfg_.dramBurstBytes;
  const uint64_t tRCD = cfg_.dramTrcdNs, tCL = cfg_.dramTclNs, tRP = cfg_.dramTrpNs;
  const double bt = dramBurstNs_;
  if (bytes <= row) return tRCD + tCL + static_cast<uint64_t>(static_cast<double>(bytes / burst / 2) * bt);
  // MQSim's formula for accesses longer than a row, operator for operator
  // (estimate_dram_access_time; its precedence makes tRCD + tCL count twice, not per row).
  const uint64_t perRow = static_cast<uint64_t>(static_cast<double>(row / burst / 2) * bt + static_cast<double>(tRP));
  return static_cast<uint64_t>(static_cast<double>(tRCD + tCL) + static_cast<double>(perRow) * static_cast<double>(bytes / row / 2)) + tRCD + tCL +
         static_cast<uint64_t>(static_cast<double>(bytes % row) / (static_cast<double>(burst) * bt));
}

void Sim::dramAccess(uint8_t kind, uint32_t req, uint32_t sectors, uint32_t list) {
  const uint32_t j = dram_.alloc();
  dram_[j] = Dram{req, sectors, list, kind};
  fifoPush(dramQ_, EV_DRAM, dramNs(static_cast<uint64_t>(sectors) * 512), j);
}

void Sim::onDram() {
  const uint32_t j = fifoPop(dramQ_);
  const Dram d = dram_[j];
  dram_.release(j);
  if (d.kind == J_EVICT) {
    dispatch(d.list);  // the evicted pages go to flash once read out of DRAM
  } else {
    reqs_[d.req].cacheSectors -= d.sectors;
    if (requestDone(d.req)) requestServiced(d.req);
  }
  fifoNext(dramQ_, EV_DRAM);
}

bool Sim::requestDone(uint32_t r) const {
  const Req& q = reqs_[r];
  return q.pendingTx == 0 && q.cacheSectors == 0 && (!q.write || !cacheCap_ || q.admitted == q.sectors);
}

// ---- LRU of cache slots -------------------------------------------------------------

void Sim::lruUnlink(uint32_t s) {
  if (sPrev_[s] != kNone)
    sNext_[sPrev_[s]] = sNext_[s];
  else
    lruHead_ = sNext_[s];
  if (sNext_[s] != kNone)
    sPrev_[sNext_[s]] = sPrev_[s];
  else
    lruTail_ = sPrev_[s];
  sPrev_[s] = sNext_[s] = kNone;
}

void Sim::lruPushFront(uint32_t s) {
  sPrev_[s] = kNone;
  sNext_[s] = lruHead_;
  if (lruHead_ != kNone)
    sPrev_[lruHead_] = s;
  else
    lruTail_ = s;
  lruHead_ = s;
}

void Sim::lruTouch(uint32_t s) {
  if (lruHead_ == s) return;
  lruUnlink(s);
  lruPushFront(s);
}

// ---- requests ------------------------------------------------------------------------

void Sim::readArrived(uint32_t r) {
  Req& q = reqs_[r];
  q.stamp = now_;
  uint32_t served = 0, n = 0, head = kNone, tail = kNone;
  for (uint32_t done = 0; done < q.sectors;) {
    const uint64_t lsa = q.sector + done;
    const uint32_t off = static_cast<uint32_t>(lsa % spp_);
    const uint32_t size = std::min(spp_ - off, q.sectors - done);
    done += size;
    const uint32_t lpn = static_cast<uint32_t>(lsa / spp_);
    uint64_t bits = sectorMask(size) << off;
    uint32_t need = size;
    if (cacheCap_) {
      st_.cacheReadLookups++;
      const int32_t s = cacheFind(lpn);
      if (s >= 0) {
        lruTouch(static_cast<uint32_t>(s));
        const uint64_t have = sBitmap_[s] & bits;
        if (have == bits) {
          st_.cacheReadHits++;
          served += size;
          continue;
        }
        served += popcount(have);
        need -= popcount(have);
        bits &= ~have;
      }
    }
    const uint32_t t = newTx(T_READ, SRC_USER, lpn, need * 512);
    txs_[t].bitmap = bits;
    txs_[t].req = r;
    txs_[t].stamp = now_;
    if (tail == kNone)
      head = t;
    else
      txs_[tail].next = t;
    tail = t;
    n++;
  }
  q.pendingTx = n;
  q.cacheSectors = served;
  if (served) dramAccess(J_USER_READ, r, served, kNone);
  if (n) dispatch(head);
}

void Sim::writeArrived(uint32_t r) {
  Req& q = reqs_[r];
  q.stamp = now_;
  q.admitted = 0;
  if (cacheCap_) {
    writeToCache(r);
    if (reqs_[r].admitted < reqs_[r].sectors) cacheWaiting_.push_back(r);
    return;
  }
  // No cache: every page is programmed before the request completes.
  uint32_t n = 0, head = kNone, tail = kNone;
  for (uint32_t done = 0; done < q.sectors;) {
    const uint64_t lsa = q.sector + done;
    const uint32_t off = static_cast<uint32_t>(lsa % spp_);
    const uint32_t size = std::min(spp_ - off, q.sectors - done);
    done += size;
    const uint32_t t = newTx(T_WRITE, SRC_USER, static_cast<uint32_t>(lsa / spp_), size * 512);
    txs_[t].bitmap = sectorMask(size) << off;
    txs_[t].req = r;
    txs_[t].stamp = now_;
    if (tail == kNone)
      head = t;
    else
      txs_[tail].next = t;
    tail = t;
    n++;
  }
  q.admitted = q.sectors;
  q.pendingTx = n;
  dispatch(head);
}

// MQSim's write_to_destage_buffer.
void Sim::writeToCache(uint32_t r) {
  uint64_t evictSectors = 0, wbSectors = 0;
  uint32_t dramSectors = 0;
  uint32_t evHead = kNone, evTail = kNone, wbHead = kNone, wbTail = kNone;
  auto append = [&](uint32_t& head, uint32_t& tail, uint32_t t) {
    if (tail == kNone)
      head = t;
    else
      txs_[tail].next = t;
    tail = t;
  };
  while (reqs_[r].admitted < reqs_[r].sectors && backPressure_ + evictSectors + wbSectors < backPressureMax_) {
    Req& q = reqs_[r];
    const uint64_t lsa = q.sector + q.admitted;
    const uint32_t off = static_cast<uint32_t>(lsa % spp_);
    const uint32_t size = std::min(spp_ - off, q.sectors - q.admitted);
    const uint32_t lpn = static_cast<uint32_t>(lsa / spp_);
    const uint64_t bits = sectorMask(size) << off;
    st_.cacheWriteLookups++;
    int32_t s = cacheFind(lpn);
    if (s >= 0) {
      st_.cacheWriteHits++;
      sStamp_[s] = std::max(sStamp_[s], q.stamp);
      sBitmap_[s] |= bits;
      sState_[s] = S_DIRTY;
      lruTouch(static_cast<uint32_t>(s));
    } else {
      if (cacheUsed_ >= cacheCap_) {
        const uint32_t v = lruTail_;
        if (sState_[v] == S_DIRTY) {  // not yet on its way to flash: write it back
          const uint32_t t = newTx(T_WRITE, SRC_CACHE, sLpn_[v], popcount(sBitmap_[v]) * 512);
          txs_[t].bitmap = sBitmap_[v];
          txs_[t].stamp = sStamp_[v];
          txs_[t].urgent = 1;
          append(evHead, evTail, t);
          evictSectors += popcount(sBitmap_[v]);
        }
        lruUnlink(v);
        slotOf_.erase(sLpn_[v]);
        sState_[v] = S_FREE;
        slotFree_.push_back(v);
        cacheUsed_--;
        st_.cacheEvictions++;
      }
      uint32_t ns;
      if (!slotFree_.empty()) {
        ns = slotFree_.back();
        slotFree_.pop_back();
      } else {
        ns = static_cast<uint32_t>(sLpn_.size());
        sLpn_.push_back(kNone);
        sPrev_.push_back(kNone);
        sNext_.push_back(kNone);
        sBitmap_.push_back(0);
        sStamp_.push_back(0);
        sState_.push_back(S_FREE);
      }
      sLpn_[ns] = lpn;
      sBitmap_[ns] = bits;
      sStamp_[ns] = q.stamp;
      sState_[ns] = S_DIRTY;
      lruPushFront(ns);
      slotOf_[lpn] = ns;
      cacheUsed_++;
      s = static_cast<int32_t>(ns);
    }
    dramSectors += size;
    if (!bloom_.find(lpn)) {  // first write of this page in the current period: write it back now
      sState_[s] = S_WRITEBACK;
      wbSectors += size;
      bloom_[lpn] = 1;
      const uint32_t t = newTx(T_WRITE, SRC_USER, lpn, size * 512);
      txs_[t].bitmap = bits;
      txs_[t].stamp = q.stamp;
      append(wbHead, wbTail, t);
    }
    q.admitted += size;
  }
  reqs_[r].cacheSectors += dramSectors;
  backPressure_ += evictSectors + wbSectors;
  if (evHead != kNone) dramAccess(J_EVICT, kNone, static_cast<uint32_t>(evictSectors), evHead);
  if (dramSectors) dramAccess(J_USER_WRITE, r, dramSectors, kNone);
  if (wbHead != kNone) dispatch(wbHead);
  if (now_ > nextBloomReset_) {
    bloom_.clear();
    nextBloomReset_ = now_ + 1000000000ULL;
  }
}

// A write-back or eviction program completed (cache on).
void Sim::cacheWriteServiced(uint32_t tx) {
  const Tx& x = txs_[tx];
  backPressure_ -= (x.bytes + 511) / 512;
  const int32_t s = cacheFind(x.lpn);
  if (s >= 0 && x.stamp >= sStamp_[s]) {  // not rewritten since: the page leaves the cache
    lruUnlink(static_cast<uint32_t>(s));
    slotOf_.erase(x.lpn);
    sState_[s] = S_FREE;
    slotFree_.push_back(static_cast<uint32_t>(s));
    cacheUsed_--;
  }
  // MQSim goes down the waiting list, each request taking pages until
  // back-pressure reaches its limit. A request left short is the one that hit
  // the limit, and the rest can take nothing (the period check has just run
  // at this instant), so the list only ever loses a prefix: a FIFO read from
  // its head, instead of rebuilding the list on every write-back (quadratic
  // in the backlog of a write burst).
  while (cacheWaitHead_ < cacheWaiting_.size()) {
    const uint32_t r = cacheWaiting_[cacheWaitHead_];
    writeToCache(r);
    if (reqs_[r].admitted < reqs_[r].sectors) break;  // short: back-pressure is at its limit
    cacheWaitHead_++;
    if (backPressure_ >= backPressureMax_) break;
  }
  if (cacheWaitHead_ == cacheWaiting_.size()) {
    cacheWaiting_.clear();
    cacheWaitHead_ = 0;
  } else if (cacheWaitHead_ > 4096 && cacheWaitHead_ * 2 > cacheWaiting_.size()) {
    cacheWaiting_.erase(cacheWaiting_.begin(), cacheWaiting_.begin() + static_cast<std::ptrdiff_t>(cacheWaitHead_));
    cacheWaitHead_ = 0;
  }
}

}  // namespace ssdsim
