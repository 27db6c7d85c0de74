#include "ftl.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ssdsim {

namespace {
void require(bool ok, const char* param, const std::string& msg) {
  if (!ok) throw ConfigError(param, msg);
}
using HeapItem = std::pair<uint64_t, uint32_t>;
}  // namespace

Ftl::Ftl(const SimConfig& c) : cfg_(c), rng_(c.seed * 0x2545F4914F6CDD1DULL + 7) {
  require(c.channels > 0, "channels", "channels must be at least 1");
  require(c.chipsPerChannel > 0, "chipsPerChannel", "chipsPerChannel must be at least 1");
  require(c.diesPerChip > 0, "diesPerChip", "diesPerChip must be at least 1");
  require(c.planesPerDie > 0, "planesPerDie", "planesPerDie must be at least 1");
  require(c.blocksPerPlane >= 4, "blocksPerPlane", "blocksPerPlane must be at least 4");
  require(c.pagesPerBlock >= 1, "pagesPerBlock", "pagesPerBlock must be at least 1");
  require(c.pageBytes >= 512 && c.pageBytes % 512 == 0, "pageBytes", "pageBytes must be a positive multiple of 512");
  require(c.pageBytes <= 64 * 512, "pageBytes", "pageBytes must be at most 32 KiB (a page's sectors are a 64-bit bitmap)");
  require(c.overProvisioning >= 0 && c.overProvisioning < 1, "overProvisioning", "overProvisioning must be in [0, 1)");
  planes_ = c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie;
  bpp_ = c.blocksPerPlane;
  ppb_ = c.pagesPerBlock;
  ppp_ = bpp_ * ppb_;
  physical_ = static_cast<uint64_t>(planes_) * ppp_;
  require(physical_ < 0xFFFFFFF0ULL, "blocksPerPlane", "the device has 2^32 or more physical pages; use larger pages or fewer blocks");
  const uint32_t spp = c.pageBytes / 512;
  // MQSim's logical space: each plane exports floor(pages x sectors x (1 - OP)) sectors.
  const uint64_t lsa = static_cast<uint64_t>(planes_) * static_cast<uint64_t>(std::floor(static_cast<double>(ppp_) * spp * (1.0 - c.overProvisioning)));
  logical_ = static_cast<uint32_t>(lsa / spp);
  require(logical_ > 0, "overProvisioning", "no logical pages left");
  const uint64_t perPlane = (logical_ + planes_ - 1) / planes_;
  require(perPlane + 2ULL * ppb_ <= ppp_, "overProvisioning", "overProvisioning leaves fewer than 2 spare blocks per plane");

  // MQSim's mapping geometry (Address_Mapping_Unit_Page_Level): a GTD entry
  // holds a physical page number and a sector bitmap; a translation page holds
  // as many as fit; the translation pages are written once at start.
  const double bits = std::log2(static_cast<double>(physical_));
  const uint32_t gtdEntry = static_cast<uint32_t>(std::ceil((bits + spp) / 8));
  entriesPerTp_ = c.pageBytes / gtdEntry;
  const uint64_t mqLogicalPages = (lsa + spp - 1) / spp;
  transPages_ = static_cast<uint32_t>(mqLogicalPages / entriesPerTp_);

  gcBlocks_ = std::max<uint32_t>(1, static_cast<uint32_t>(c.gcThreshold * bpp_));
  gcBlocks_ = std::max(gcBlocks_, kMaxOngoingGc);  // MQSim raises the threshold to the GC concurrency
  hardBlocks_ = std::max<uint32_t>(1, static_cast<uint32_t>(c.gcHardThreshold * bpp_));
  rgaSet_ = std::max<uint32_t>(1, static_cast<uint32_t>(std::log2(static_cast<double>(bpp_))));
  // RANDOM_PP: MQSim requires rho x pages invalid, rho being the flow's initial occupancy.
  randomPpMin_ = static_cast<uint32_t>(std::min(1.0, std::max(0.0, c.preconditionFill)) * ppb_);
  fullBitmap_ = spp >= 64 ? ~0ULL : ((1ULL << spp) - 1);

  const uint32_t sizeOf[4] = {c.channels, c.chipsPerChannel, c.diesPerChip, c.planesPerDie};
  const uint32_t strideOf[4] = {c.chipsPerChannel * c.diesPerChip * c.planesPerDie, c.diesPerChip * c.planesPerDie, c.planesPerDie, 1};
  bool seen[4] = {false, false, false, false};
  uint32_t div = 1;
  for (int i = 0; i < 4; i++) {
    const char* letters = "CWDP";
    const char* p = std::char_traits<char>::find(letters, 4, c.allocation[i]);
    require(p != nullptr, "planeAllocation", "planeAllocation must be a permutation of C, W, D, P");
    int k = static_cast<int>(p - letters);
    require(!seen[k], "planeAllocation", "planeAllocation must be a permutation of C, W, D, P");
    seen[k] = true;
    div_[i] = div;
    mod_[i] = sizeOf[k];
    stride_[i] = strideOf[k];
    div *= sizeOf[k];
  }
  // The plane of an lpn depends only on lpn mod planes: plane p owns k * planes + residue_[p].
  residue_.assign(planes_, kNone);
  planeOfResidue_.resize(planes_);
  for (uint32_t r = 0; r < planes_; r++) residue_[planeOfResidue_[r] = computePlane(r)] = r;
  planes_v_.resize(planes_);
  for (uint32_t p = 0; p < planes_; p++) planes_v_[p].owned = logical_ > residue_[p] ? (logical_ - residue_[p] - 1) / planes_ + 1 : 0;
}

uint32_t Ftl::computePlane(uint32_t lpn) const {
  uint32_t plane = 0;
  for (int i = 0; i < 4; i++) plane += ((lpn / div_[i]) % mod_[i]) * stride_[i];
  return plane;
}

// ---- block pool ---------------------------------------------------------------

uint32_t Ftl::poolSize(uint32_t p) const {
  const Plane& pl = materialised(p) ? planes_v_[p] : (templateOf(p) ? templateOf(p)->plane : planes_v_[p]);
  if (pl.blocks.empty()) return bpp_ - 3;  // fresh: three frontiers taken at start
  return (bpp_ - pl.nextFresh) + static_cast<uint32_t>(pl.recycled.size());
}

uint32_t Ftl::takeFree(Plane& pl, uint32_t p) {
  uint32_t b;
  if (pl.nextFresh < bpp_) {
    b = pl.nextFresh++;
    pl.blocks.resize(pl.nextFresh);
  } else if (!pl.recycled.empty()) {
    std::pop_heap(pl.recycled.begin(), pl.recycled.end(), std::greater<HeapItem>());
    b = pl.recycled.back().second;
    pl.recycled.pop_back();
  } else {
    throw DeviceFull("plane " + std::to_string(p) + " has no free block left and GC cannot reclaim one (over-provisioning too small for this workload)");
  }
  pl.history.push_back(b);
  return b;
}

void Ftl::addFree(Plane& pl, uint32_t block) {
  pl.recycled.emplace_back((static_cast<uint64_t>(pl.blocks[block].erases) << 32) | pl.recycledSeq++, block);
  std::push_heap(pl.recycled.begin(), pl.recycled.end(), std::greater<HeapItem>());
}

// MQSim's start state of a plane: data, translation and GC frontiers taken
// from the pool in that order, then the plane's share of the translation
// pages written into the translation frontier.
void Ftl::freshPlane(Plane& pl, uint32_t p) {
  pl.blocks.clear();
  pl.dataWf = takeFree(pl, p);
  uint32_t tb = takeFree(pl, p);
  pl.gcWf = takeFree(pl, p);
  const uint32_t r = residue_[p];
  uint32_t n = transPages_ > r ? (transPages_ - r - 1) / planes_ + 1 : 0;
  for (;;) {
    Block& b = pl.blocks[tb];
    b.mapping = 1;
    const uint32_t k = std::min(n, ppb_);
    b.written = b.valid = k;
    n -= k;
    if (n == 0) break;
    tb = takeFree(pl, p);
  }
}

void Ftl::materialise(uint32_t p) {
  Plane& pl = planes_v_[p];
  const Template* t = templateOf(p);
  if (!t) {
    freshPlane(pl, p);
    return;
  }
  const uint32_t owned = pl.owned;
  pl = t->plane;
  pl.owned = owned;
  for (Block& b : pl.blocks) b.rmap = kNone;  // shared with the template until written
  // A plane owning one logical page fewer than its template: that copy is invalid.
  for (uint32_t k = owned; k < t->map.size(); k++) {
    const uint32_t rp = t->map[k];
    if (rp == kNone) continue;
    uint32_t* rm = rmapOf(p, rp / ppb_, true);
    rm[rp % ppb_] = kNone;
    pl.blocks[rp / ppb_].valid--;
  }
}

// The reverse map of a block (page -> lpn / planes, kNone when free or
// invalid); copied from the template or created when it is about to change.
uint32_t* Ftl::rmapOf(uint32_t p, uint32_t block, bool forWrite) {
  Block& b = planes_v_[p].blocks[block];
  if (b.rmap != kNone) return &rmaps_[static_cast<size_t>(b.rmap) * ppb_];
  const Template* t = templateOf(p);
  if (!forWrite) return t ? const_cast<uint32_t*>(&t->rmap[static_cast<size_t>(block) * ppb_]) : nullptr;
  uint32_t idx;
  if (!rmapFree_.empty()) {
    idx = rmapFree_.back();
    rmapFree_.pop_back();
  } else {
    idx = static_cast<uint32_t>(rmaps_.size() / ppb_);
    rmaps_.resize(rmaps_.size() + ppb_);
  }
  uint32_t* dst = &rmaps_[static_cast<size_t>(idx) * ppb_];
  if (t)
    std::copy_n(&t->rmap[static_cast<size_t>(block) * ppb_], ppb_, dst);
  else
    std::fill_n(dst, ppb_, kNone);
  b.rmap = idx;
  return dst;
}

uint32_t Ftl::alloc(uint32_t p, bool gc) {
  Plane& pl = planes_v_[p];
  uint32_t& wf = gc ? pl.gcWf : pl.dataWf;
  Block& b = pl.blocks[wf];
  const uint32_t ppn = p * ppp_ + wf * ppb_ + b.written++;
  b.valid++;
  if (b.written == ppb_) {
    wf = takeFree(pl, p);
    gcChecks_.push_back(p);  // MQSim: Check_gc_required whenever a frontier block is replaced
  }
  return ppn;
}

void Ftl::invalidate(uint32_t ppn) {
  const uint32_t p = ppn / ppp_, block = (ppn % ppp_) / ppb_;
  if (!materialised(p)) materialise(p);
  rmapOf(p, block, true)[ppn % ppb_] = kNone;
  planes_v_[p].blocks[block].valid--;
}

bool Ftl::lookup(uint32_t lpn, uint32_t& ppn, uint64_t& bitmap) const {
  if (const MapEntry* e = map_.find(lpn)) {
    ppn = e->ppn;
    bitmap = e->bitmap;
    return true;
  }
  if (templates_.empty()) return false;
  const uint32_t p = planeOf(lpn);
  const Template* t = templateOf(p);
  const uint32_t k = lpn / planes_;
  if (k >= t->map.size() || t->map[k] == kNone) return false;
  ppn = p * ppp_ + t->map[k];
  bitmap = fullBitmap_;
  return true;
}

uint32_t Ftl::place(uint32_t lpn, uint64_t bitmap, bool program) {
  const uint32_t p = planeOf(lpn);
  if (!materialised(p)) materialise(p);
  uint32_t old;
  uint64_t oldBits;
  if (lookup(lpn, old, oldBits)) invalidate(old);
  uint32_t ppn;
  try {
    ppn = alloc(p, false);
  } catch (const DeviceFull&) {
    if (program) throw;
    // A read-only trace can end here too (MQSim would abort: its pool has no block to give), and "over-provisioning
    // too small" alone would not tell its user why.
    throw DeviceFull("plane " + std::to_string(p) +
                     " has no free block left for the mapping that a read of a never-written page creates (the simulator,"
                     " like MQSim, places such a read on a flash page, and a read does not wait for GC as a write does):"
                     " the drive's preconditioning (ssdsim.preconditionFill, SSDTUNE_SIM_PRECONDITION) leaves too few free"
                     " blocks for this trace's reads of never-written pages");
  }
  rmapOf(p, (ppn % ppp_) / ppb_, true)[ppn % ppb_] = lpn / planes_;
  map_[lpn] = MapEntry{bitmap, ppn};
  if (program) counters.hostPrograms++;
  return ppn;
}

// ---- garbage collection ----------------------------------------------------------

bool Ftl::gcRunning(uint32_t p) const { return materialised(p) && planes_v_[p].ongoingGc > 0; }

bool Ftl::safeVictim(const Plane& pl, uint32_t b) const { return b != pl.dataWf && b != pl.gcWf && !blk(pl, b).inGc && !blk(pl, b).mapping; }

uint32_t Ftl::selectVictim(uint32_t p, bool greedy) {
  Plane& pl = planes_v_[p];
  const auto full = [&](uint32_t b) { return blk(pl, b).written == ppb_; };
  const auto inv = [&](uint32_t b) { return invalidCount(blk(pl, b)); };
  switch (greedy ? GcPolicy::GREEDY : cfg_.gcPolicy) {
    case GcPolicy::GREEDY: {
      uint32_t best = kNone, bestInv = 0;
      for (uint32_t b = 0; b < pl.blocks.size(); b++)
        if (full(b) && safeVictim(pl, b) && inv(b) > bestInv) best = b, bestInv = inv(b);
      return best;
    }
    case GcPolicy::RGA: {
      // A random set of log2(blocks) eligible blocks; the full one with most invalid pages wins
      // (MQSim: the lowest block id of the set when none beats it).
      uint32_t set[32];
      uint32_t n = 0;
      for (uint32_t tries = 0; n < rgaSet_ && tries < 64 * bpp_; tries++) {
        const uint32_t b = rng_.below(bpp_);
        if (!safeVictim(pl, b) || std::find(set, set + n, b) != set + n) continue;
        set[n++] = b;
      }
      if (n == 0) return kNone;
      std::sort(set, set + n);
      uint32_t best = set[0];
      for (uint32_t i = 0; i < n; i++)
        if (inv(set[i]) > inv(best) && full(set[i])) best = set[i];
      return best;
    }
    case GcPolicy::RANDOM: {
      uint32_t b = rng_.below(bpp_);
      for (uint32_t r = 0; !safeVictim(pl, b) && r < bpp_; r++) b = rng_.below(bpp_);
      return b;
    }
    case GcPolicy::RANDOM_P:
    case GcPolicy::RANDOM_PP: {
      const uint32_t minInv = cfg_.gcPolicy == GcPolicy::RANDOM_PP ? randomPpMin_ : 0;
      uint32_t b = rng_.below(bpp_);
      for (uint32_t r = 0; (!full(b) || inv(b) < minInv || !safeVictim(pl, b)) && r < bpp_; r++) b = rng_.below(bpp_);
      return b;  // like MQSim: after the retries, whatever was drawn last
    }
    case GcPolicy::FIFO: {
      // The oldest block taken from the pool (MQSim's Block_usage_history).
      while (pl.historyHead < pl.history.size()) {
        const uint32_t b = pl.history[pl.historyHead++];
        if (pl.historyHead > 4096 && pl.historyHead * 2 > pl.history.size()) {
          pl.history.erase(pl.history.begin(), pl.history.begin() + pl.historyHead);
          pl.historyHead = 0;
        }
        return b;
      }
      return kNone;
    }
  }
  return kNone;
}

bool Ftl::startGc(uint32_t p, uint32_t& victim, std::vector<GcMove>& moves, bool greedyFallback) {
  moves.clear();
  if (poolSize(p) >= gcBlocks_) return false;
  if (!materialised(p)) materialise(p);
  Plane& pl = planes_v_[p];
  if (pl.ongoingGc >= kMaxOngoingGc) return false;
  const auto useless = [&](uint32_t b) { return b == kNone || !safeVictim(pl, b) || blk(pl, b).written == 0 || invalidCount(blk(pl, b)) == 0; };
  uint32_t v = selectVictim(p);
  if (useless(v) && greedyFallback) v = selectVictim(p, true);
  if (useless(v)) return false;  // MQSim: nothing to reclaim, no GC
  Block& vb = pl.blocks[v];
  // The moves must not take the last free block (MQSim aborts when its pool runs dry; we wait for an erase).
  const uint32_t blocksTaken = (pl.blocks[pl.gcWf].written + vb.valid) / ppb_;
  if (blocksTaken > poolSize(p)) return false;
  victim = v;
  counters.gcInvocations++;
  vb.inGc = 1;
  pl.ongoingGc++;
  if (vb.valid > 0) {
    // A copy: allocating the moves' pages may create reverse maps and move rmaps_.
    const uint32_t* src = rmapOf(p, v, false);
    std::vector<uint32_t> rm(src ? src : nullptr, src ? src + ppb_ : nullptr);
    const uint32_t res = residue_[p];
    const uint32_t written = vb.written;
    for (uint32_t i = 0; i < written; i++) {
      const uint32_t k = rm.empty() ? kNone : rm[i];
      if (k == kNone) continue;
      const uint32_t lpn = k * planes_ + res;
      uint32_t cur;
      uint64_t bits;
      lookup(lpn, cur, bits);
      const uint32_t from = p * ppp_ + v * ppb_ + i;
      const uint32_t to = alloc(p, true);
      rmapOf(p, (to % ppp_) / ppb_, true)[to % ppb_] = k;
      map_[lpn] = MapEntry{bits, to};
      moves.push_back(GcMove{lpn, from, to});
      counters.gcPrograms++;
    }
    uint32_t* wrm = rmapOf(p, v, true);
    std::fill_n(wrm, ppb_, kNone);
    planes_v_[p].blocks[v].valid = 0;
  }
  return true;
}

void Ftl::finishErase(uint32_t p, uint32_t block) {
  Plane& pl = planes_v_[p];
  Block& b = pl.blocks[block];
  if (b.rmap != kNone) rmapFree_.push_back(b.rmap);
  b.rmap = kNone;
  b.written = b.valid = 0;
  b.erases++;
  b.inGc = 0;
  // An erased block has no template content any more: give it an explicit, empty reverse map.
  if (templateOf(p)) std::fill_n(rmapOf(p, block, true), ppb_, kNone);
  pl.ongoingGc--;
  counters.erases++;
  addFree(pl, block);
}

// ---- preconditioning ----------------------------------------------------------------

void Ftl::agePlane(Template& t, uint32_t p, double fill, double age, Rng& rng, const std::atomic<bool>& cancel, bool& cancelled) {
  Plane& pl = t.plane;
  freshPlane(pl, p);
  const uint32_t owned = planes_v_[p].owned;
  t.rmap.assign(ppp_, kNone);
  t.map.assign(owned, kNone);
  // Untimed writes into the data frontier, GC as MQSim starts it (one victim
  // per frontier change while the pool is low), erases immediate.
  // A frontier change only notes that GC is due; it runs once the write that
  // caused it has been recorded (the victim may be the block just filled).
  uint32_t gcDue = 0;
  auto allocT = [&](bool forGc) {
    uint32_t& wf = forGc ? pl.gcWf : pl.dataWf;
    Block& b = pl.blocks[wf];
    const uint32_t rp = wf * ppb_ + b.written++;
    b.valid++;
    if (b.written == ppb_) {
      wf = takeFree(pl, p);
      gcDue++;
    }
    return rp;
  };
  auto gc = [&]() {
    const uint32_t pool = (bpp_ - pl.nextFresh) + static_cast<uint32_t>(pl.recycled.size());
    if (pool >= gcBlocks_) return;
    // Reuse the timed victim selection on the template's state; GREEDY when
    // the policy finds nothing and the pool is about to run dry.
    const auto useless = [&](uint32_t b) { return b == kNone || !safeVictim(pl, b) || blk(pl, b).written == 0 || invalidCount(blk(pl, b)) == 0; };
    const auto select = [&](bool greedy) {
      std::swap(planes_v_[p], pl);  // selectVictim works on planes_v_[p]
      const uint32_t b = selectVictim(p, greedy);
      std::swap(planes_v_[p], pl);
      return b;
    };
    uint32_t v = select(false);
    if (useless(v) && pool <= 3) v = select(true);
    if (useless(v)) return;
    pl.blocks[v].inGc = 1;
    for (uint32_t i = 0; i < pl.blocks[v].written; i++) {
      const uint32_t k = t.rmap[v * ppb_ + i];
      if (k == kNone) continue;
      const uint32_t to = allocT(true);
      t.rmap[v * ppb_ + i] = kNone;
      t.rmap[to] = k;
      t.map[k] = to;
      counters.gcPrograms++;
    }
    Block& vb = pl.blocks[v];
    vb.written = vb.valid = 0;
    vb.erases++;
    vb.inGc = 0;
    counters.erases++;
    counters.gcInvocations++;
    addFree(pl, v);
  };
  auto runGc = [&]() {
    while (gcDue > 0) {
      gcDue--;
      gc();
    }
  };
  auto write = [&](uint32_t k) {
    const uint32_t old = t.map[k];
    if (old != kNone) {
      t.rmap[old] = kNone;
      pl.blocks[old / ppb_].valid--;
    }
    const uint32_t rp = allocT(false);
    t.rmap[rp] = k;
    t.map[k] = rp;
    counters.hostPrograms++;
    runGc();
  };
  const uint32_t filled = static_cast<uint32_t>(std::floor(std::min(1.0, std::max(0.0, fill)) * owned));
  for (uint32_t k = 0; k < filled; k++) write(k);
  if (filled == 0) return;
  const uint64_t n = static_cast<uint64_t>(std::max(0.0, age) * static_cast<double>(owned));
  for (uint64_t i = 0; i < n; i++) {
    if ((i & 0xFFFF) == 0 && cancel.load(std::memory_order_relaxed)) {
      cancelled = true;
      return;
    }
    write(rng.below(filled));
  }
}

bool Ftl::precondition(double fill, double age, uint64_t seed, uint32_t templates, const std::atomic<bool>& cancel) {
  if (!(fill > 0)) return true;  // a fresh drive: nothing to build
  templates = std::max<uint32_t>(1, std::min(templates, planes_));
  templates_.clear();
  Rng rng(seed);
  // Template t is aged as plane t's residue class (the planes owning the most logical pages).
  for (uint32_t t = 0; t < templates; t++) {
    auto tp = std::make_unique<Template>();
    bool cancelled = false;
    agePlane(*tp, planeOf(t), fill, age, rng, cancel, cancelled);
    if (cancelled) return false;
    templates_.push_back(std::move(tp));
  }
  // Templates serve planes by index (p % templates): plane p must own no more pages than its template.
  for (uint32_t p = 0; p < planes_; p++)
    if (planes_v_[p].owned > templates_[p % templates]->map.size())
      templates_[p % templates]->map.resize(planes_v_[p].owned, kNone);  // never reached: residues 0..t-1 own the most
  return true;
}

void Ftl::accounting(uint64_t& valid, uint64_t& invalid, uint64_t& free, uint64_t& mapping) const {
  valid = invalid = free = mapping = 0;
  for (uint32_t p = 0; p < planes_; p++) {
    const Plane* pl = &planes_v_[p];
    int64_t adjust = 0;  // pages of a template the plane does not own
    if (!materialised(p)) {
      const Template* t = templateOf(p);
      if (t) {
        pl = &t->plane;
        for (uint32_t k = planes_v_[p].owned; k < t->map.size(); k++)
          if (t->map[k] != kNone) adjust++;
      } else {
        // Fresh and never written: three frontier blocks, the translation pages, all else free.
        const uint32_t r = residue_[p];
        const uint64_t n = transPages_ > r ? (transPages_ - r - 1) / planes_ + 1 : 0;
        mapping += n;
        free += ppp_ - n;
        continue;
      }
    }
    free += static_cast<uint64_t>(bpp_ - pl->blocks.size()) * ppb_;  // never taken from the pool
    for (const Block& b : pl->blocks) {
      if (b.mapping) {
        mapping += b.valid;
        invalid += b.written - b.valid;
      } else {
        valid += b.valid;
        invalid += b.written - b.valid;
      }
      free += ppb_ - b.written;
    }
    valid -= adjust;
    invalid += adjust;
  }
}

size_t Ftl::stateBytes() const {
  size_t s = map_.bytes() + rmaps_.capacity() * sizeof(uint32_t) + planes_v_.capacity() * sizeof(Plane);
  for (const Plane& pl : planes_v_) s += pl.blocks.capacity() * sizeof(Block) + pl.history.capacity() * 4 + pl.recycled.capacity() * 16;
  for (const auto& t : templates_) s += t->rmap.capacity() * 4 + t->map.capacity() * 4 + t->plane.blocks.capacity() * sizeof(Block);
  return s;
}

}  // namespace ssdsim
