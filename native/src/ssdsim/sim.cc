// Sim: construction, input, the event loop and results. The parts of the
// device live in host.cc, cache.cc, fmap.cc and flash.cc (see sim.h).
#include "sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <string>

namespace ssdsim {

namespace {
uint64_t threadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Sim::Sim(const SimConfig& c) : cfg_(c), ftl_(c) {
  if (c.queueDepth < 2) throw ConfigError("queueDepth", "queueDepth must be at least 2 (an NVMe queue holds one entry fewer than its size)");
  if (c.queueDepth > 65535) throw ConfigError("queueDepth", "queueDepth must be at most 65535");
  if (c.queueFetchSize < 1) throw ConfigError("queueFetchSize", "queueFetchSize must be at least 1");
  if (c.pcieLanes < 1) throw ConfigError("pcieLanes", "pcieLanes must be at least 1");
  if (!(c.pcieLaneGBps > 0)) throw ConfigError("pcieLaneGBps", "pcieLaneGBps must be positive");
  if (c.channelWidthBytes < 1) throw ConfigError("channelWidthBytes", "channelWidthBytes must be at least 1");
  if (!(c.channelMTs > 0) || c.channelMTs > 1000) throw ConfigError("channelMTs", "channelMTs must be in (0, 1000]");
  if (c.planesPerDie > 16) throw ConfigError("planesPerDie", "planesPerDie must be at most 16");
  if (c.dataCacheBytes > 0xFFFFFFFFULL) throw ConfigError("dataCacheBytes", "dataCacheBytes must be below 4 GiB");
  if (c.cmtBytes > 0xFFFFFFFFULL) throw ConfigError("cmtBytes", "cmtBytes must be below 4 GiB");
  if (c.dramDataRateMTs < 1 || c.dramBurstBytes < 1 || c.dramRowBytes < 1) throw ConfigError("dram", "DRAM rate, burst and row must be positive");
  if (c.mode == Mode::CLOSED && c.closedLoopDepth < 1) throw ConfigError("closedLoopDepth", "closedLoopDepth must be at least 1");
  spp_ = c.pageBytes / 512;
  const uint32_t planes = ftl_.planes();
  planesPerDie_ = c.planesPerDie;
  dies_ = planes / c.planesPerDie;
  dieLists_.assign(static_cast<size_t>(Q_COUNT) * dies_, List{});
  planesPerUnit_ = c.planesPerDie * (c.dieInterleaving ? 1 : c.diesPerChip);
  const uint32_t nUnits = planes / planesPerUnit_;
  unitsPerChannel_ = nUnits / c.channels;
  units_.assign(nUnits, Unit{});
  chans_.assign(c.channels, Channel{});
  batch_.assign(static_cast<size_t>(nUnits) * c.planesPerDie, kNone);
  planeWait_.assign(planes, KeyList{});

  // ONFI NV-DDR2 command timings (MQSim's ONFI_Channel_NVDDR2 defaults). MQSim
  // tabulates them for 1 to 4 planes; the same pattern continues beyond.
  const uint64_t tDBSY = 500, tCS = 20, tRR = 20, tWB = 100, tWC = 25, tADL = 70, tCALS = 15, tWPST = 6, tWPSTH = 15;
  for (uint32_t n = 1; n <= 16; n++) {
    readCmdNs_[n] = tCS + n * 6 * tWC + (n - 1) * tDBSY + tWB + tRR;
    progCmdNs_[n] = tCS + (n - 1) * (5 * tWC + tADL + tWPST + tCALS + tWB + tDBSY) + (6 * tWC + tADL + tWPST + tWPSTH + tWB);
    eraseCmdNs_[n] = tCS + 4 * tWC + tWB + (n - 1) * (tDBSY + 4 * tWC + tWB);
  }
  readCmdNs_[0] = progCmdNs_[0] = eraseCmdNs_[0] = 0;
  // Two bytes per channel width per DDR cycle; MQSim truncates the cycle time to whole ns.
  twoUnitNs_ = static_cast<uint64_t>(1000.0 / c.channelMTs) * 2;

  // Write cache.
  cacheCap_ = static_cast<uint32_t>(c.dataCacheBytes / (512ULL * spp_));
  backPressureMax_ = static_cast<uint64_t>(planes) * spp_;
  dramBurstNs_ = 1e9 / (static_cast<double>(c.dramDataRateMTs) * 1000 * 1000);

  // CMT: MQSim sizes an entry as two physical page numbers plus a sector bitmap.
  const double bits = std::log2(static_cast<double>(ftl_.physicalPages()));
  const uint32_t cmtEntry = static_cast<uint32_t>(std::ceil((2 * bits + spp_) / 8));
  gtdEntryBytes_ = static_cast<uint32_t>(std::ceil((bits + spp_) / 8));
  entriesPerTp_ = ftl_.entriesPerTranslationPage();
  transPages_ = ftl_.translationPages();
  cmtCap_ = c.cmtPerTranslationPage ? static_cast<uint32_t>(c.cmtBytes / c.pageBytes) : static_cast<uint32_t>(c.cmtBytes / cmtEntry);
  if (cmtCap_ < 1) throw ConfigError("cmtBytes", "cmtBytes must hold at least one mapping entry");

  st_.readLat = &readLat_;
  st_.writeLat = &writeLat_;
  st_.deviceResp = &devResp_;
  st_.allLat = &allLat_;
  events_.reserve(1024);
  if (units_.size() > EventQueue::kMaxId) throw ConfigError("channels", "too many flash units to simulate");
}

// ---- input ---------------------------------------------------------------------

FeedResult Sim::feed(const double* t, const double* sector, const uint32_t* bytes, const uint16_t* op, size_t n) {
  FeedResult fr;
  const uint64_t limit = logicalSectors();
  uint64_t spanned = 0;  // logical pages the batch's requests cover (with repeats)
  for (size_t i = 0; i < n; i++) {
    if (bytes[i] == 0 || !(op[i] & 3)) continue;
    if (!(sector[i] >= 0 && sector[i] < 9007199254740992.0)) {
      fr.badIndex = static_cast<int64_t>(i);
      fr.badSector = true;
      return fr;
    }
    const uint64_t sectors = (bytes[i] + 511) / 512;
    if (sectors > limit) {
      fr.badIndex = static_cast<int64_t>(i);
      fr.badLastSector = static_cast<uint64_t>(sector[i]) + sectors - 1;
      return fr;
    }
    const uint64_t first = static_cast<uint64_t>(sector[i]);
    spanned += (first % spp_ + sectors + spp_ - 1) / spp_;
    if (!cfg_.lbaModulo) {
      const uint64_t last = first + sectors - 1;
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
  if (!anyFed_) {
    // Sparse state sized from the first batch (the pages its requests cover,
    // at most four per request) instead of grown step by step: each growth
    // rehashes the whole map into fresh memory.
    const size_t pages = std::min<size_t>(std::min<uint64_t>(spanned, 4 * static_cast<uint64_t>(n)), ftl_.logicalPages());
    ftl_.reservePages(pages);
    cmtSlotOf_.reserve(std::min<size_t>(pages, cmtCap_));
  }
  for (size_t i = 0; i < n; i++) {
    // Only reads and writes reach the device; discards and flushes are
    // counted as skipped (TRIM is not modelled, as in MQSim).
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
    uint64_t s = static_cast<uint64_t>(sector[i]);
    const uint64_t sectors = (bytes[i] + 511) / 512;
    if (s + sectors > limit) {
      // Only with lbaModulo (feed refused it otherwise). In 512-byte sectors, modulo
      // the logical sectors; a request that would then cross the end ends at the
      // last sector. exportMqsimTrace folds the same way (src/sim/mqsim.ts), so
      // MQSim receives in-range addresses and never applies its own fold.
      s %= limit;
      if (s + sectors > limit) s = limit - sectors;
      st_.foldedRequests++;
    }
    in_.push_back(InputReq{tn, s, bytes[i], static_cast<uint8_t>(w ? 1 : 0)});
  }
  return fr;
}

// ---- event loop ------------------------------------------------------------------

void Sim::schedule(uint64_t t, uint32_t kind, uint32_t id) { events_.push(t, kind, id); }

void Sim::fifoPush(Fifo& f, uint32_t kind, uint64_t dur, uint32_t item) {
  f.free = std::max(now_, f.free) + dur;
  f.busyNs += dur;
  if (f.empty()) {
    f.items.clear();
    f.head = 0;
    events_.pushLane(kind, f.free, kind, 0);
  }
  f.items.emplace_back(f.free, item);
}

uint32_t Sim::fifoPop(Fifo& f) { return f.items[f.head++].second; }

void Sim::fifoNext(Fifo& f, uint32_t kind) {
  if (!f.empty()) events_.pushLane(kind, f.items[f.head].first, kind, 0);
}

RunStatus Sim::run(bool final) {
  if (!preconditioned_) {
    preconditioned_ = true;
    const uint64_t c0 = threadCpuNs();
    const auto w0 = std::chrono::steady_clock::now();
    const bool ok = ftl_.precondition(cfg_.preconditionFill, cfg_.preconditionAge, cfg_.seed, cfg_.preconditionTemplates, cancel_);
    st_.precondition = ftl_.counters;
    ftl_.counters = FtlCounters{};
    st_.preconditionCpuNs += threadCpuNs() - c0;
    st_.preconditionWallNs += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w0).count());
    if (!ok) return RunStatus::CANCELLED;
  }
  const uint64_t c0 = threadCpuNs();
  const RunStatus s = loop(final);
  st_.replayCpuNs += threadCpuNs() - c0;
  return s;
}

RunStatus Sim::loop(bool final) {
  if (cancel_.load()) return RunStatus::CANCELLED;
  const bool closed = cfg_.mode == Mode::CLOSED;
  uint32_t tick = 0;
  for (;;) {
    if ((++tick & 0xFFF) == 0 && cancel_.load(std::memory_order_relaxed)) return RunStatus::CANCELLED;
    if (closed) {
      // Closed loop: a new request arrives as soon as one completes (here, at the completion's instant).
      while (outstanding_ < cfg_.closedLoopDepth && inHead_ < in_.size()) arrive(in_[inHead_++], now_);
      if (outstanding_ < cfg_.closedLoopDepth && inHead_ == in_.size() && !final) return RunStatus::NEED_MORE;
    }
    const Event* next = events_.peek();
    if (!closed && inHead_ < in_.size()) {
      // An arrival precedes events at the same instant.
      const InputReq& in = in_[inHead_];
      if (!next || in.t <= next->t()) {
        if (in.t > now_) now_ = in.t;
        inHead_++;
        arrive(in, in.t);
        continue;
      }
    }
    if (!next) {
      if (!final) return RunStatus::NEED_MORE;
      if (outstanding_ > 0)
        throw DeviceFull(std::to_string(outstanding_) +
                         " requests can never complete: writes wait for free blocks that GC cannot reclaim (over-provisioning too small for this workload)");
      return RunStatus::DONE;
    }
    // Without buffered input, an event at or after the last fed arrival might
    // still be preceded by an arrival of the next batch.
    if (!closed && !final && inHead_ == in_.size() && next->t() >= lastFedT_) return RunStatus::NEED_MORE;
    const Event ev = events_.take(next);
    now_ = ev.t();
    switch (ev.kind()) {
      case EV_H2D:
        onH2D();
        break;
      case EV_D2H:
        onD2H();
        break;
      case EV_DRAM:
        onDram();
        break;
      case EV_CHAN:
        onChan(ev.id());
        break;
      case EV_UNIT:
        onUnit(ev.id());
        break;
    }
  }
}

// ---- results -------------------------------------------------------------------------

Results Sim::results() {
  Results r = st_;
  r.ftl = ftl_.counters;
  const double span = r.lastCompletionNs > r.firstArrivalNs ? static_cast<double>(r.lastCompletionNs - r.firstArrivalNs) : 0;
  if (span > 0) {
    double sum = 0, mx = 0;
    for (const Channel& ch : chans_) {
      const double u = static_cast<double>(ch.busyNs) / span;
      sum += u;
      mx = std::max(mx, u);
    }
    r.channelUtilMean = sum / chans_.size();
    r.channelUtilMax = mx;
    sum = mx = 0;
    for (const Unit& u : units_) {
      const double x = static_cast<double>(u.busyNs) / span;
      sum += x;
      mx = std::max(mx, x);
    }
    r.dieUtilMean = sum / units_.size();
    r.dieUtilMax = mx;
    r.pcieH2dUtil = static_cast<double>(h2d_.busyNs) / span;
    r.pcieD2hUtil = static_cast<double>(d2h_.busyNs) / span;
  }
  ftl_.accounting(r.validPages, r.invalidPages, r.freePages, r.mappingPages);
  r.physicalPages = ftl_.physicalPages();
  r.logicalPages = ftl_.logicalPages();
  size_t bytes = ftl_.stateBytes() + reqs_.bytes() + msgs_.bytes() + txs_.bytes() + dram_.bytes() + slotOf_.bytes() + bloom_.bytes() + cmtSlotOf_.bytes() +
                 arriving_.bytes() + waitRead_.bytes() + waitProg_.bytes() + (sLpn_.capacity() * 12 + sBitmap_.capacity() * 16 + sState_.capacity()) +
                 (cKey_.capacity() * 12 + cValid_.capacity() * 2) + units_.capacity() * sizeof(Unit) + events_.capacityBytes() +
                 dieLists_.capacity() * sizeof(List);
  for (const FlatMap<List>& m : pageLists_) bytes += m.bytes();
  r.stateBytes = bytes;
  return r;
}

}  // namespace ssdsim
