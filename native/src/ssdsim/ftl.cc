#include "ftl.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ssdsim {

namespace {
void require(bool ok, const char* param, const std::string& msg) {
  if (!ok) throw ConfigError(param, msg);
}
}  // namespace

Ftl::Ftl(const SimConfig& c) : cfg_(c), rng_(c.seed * 0x2545F4914F6CDD1DULL + 7) {
  require(c.channels > 0, "channels", "channels must be at least 1");
  require(c.chipsPerChannel > 0, "chipsPerChannel", "chipsPerChannel must be at least 1");
  require(c.diesPerChip > 0, "diesPerChip", "diesPerChip must be at least 1");
  require(c.planesPerDie > 0, "planesPerDie", "planesPerDie must be at least 1");
  require(c.blocksPerPlane >= 4, "blocksPerPlane", "blocksPerPlane must be at least 4");
  require(c.pagesPerBlock >= 1, "pagesPerBlock", "pagesPerBlock must be at least 1");
  require(c.pageBytes >= 512 && c.pageBytes % 512 == 0, "pageBytes", "pageBytes must be a positive multiple of 512");
  require(c.overProvisioning >= 0 && c.overProvisioning < 1, "overProvisioning", "overProvisioning must be in [0, 1)");
  planes_ = c.channels * c.chipsPerChannel * c.diesPerChip * c.planesPerDie;
  bpp_ = c.blocksPerPlane;
  ppb_ = c.pagesPerBlock;
  physical_ = static_cast<uint64_t>(planes_) * bpp_ * ppb_;
  require(physical_ < 0xFFFFFFF0ULL, "blocksPerPlane", "the device has 2^32 or more physical pages; use larger pages or fewer blocks");
  logical_ = static_cast<uint32_t>(std::floor(static_cast<double>(physical_) * (1.0 - c.overProvisioning)));
  // Each plane must keep at least two spare blocks: one write frontier for GC
  // moves plus one to make progress.
  uint64_t perPlane = (logical_ + planes_ - 1) / planes_;
  require(perPlane + 2ULL * ppb_ <= static_cast<uint64_t>(bpp_) * ppb_, "overProvisioning",
          "overProvisioning leaves fewer than 2 spare blocks per plane");
  require(logical_ > 0, "overProvisioning", "no logical pages left");

  gcBlocks_ = std::max<uint32_t>(2, static_cast<uint32_t>(c.gcThreshold * bpp_));
  {
    const uint64_t usedBlocks = (perPlane + ppb_ - 1) / ppb_;
    require(gcBlocks_ + 2 + usedBlocks <= bpp_, "gcThreshold",
            "gcThreshold keeps more free blocks per plane than over-provisioning leaves spare (GC could never reach it)");
  }
  hardBlocks_ = std::max<uint32_t>(1, static_cast<uint32_t>(c.gcHardThreshold * bpp_));
  rgaSet_ = std::max<uint32_t>(1, static_cast<uint32_t>(std::log2(static_cast<double>(bpp_))));
  // RANDOM_PP: a victim needs at least this many invalid pages. MQSim derives
  // it from a factor rho of the block size; 0.1 is our choice (documented).
  randomPpMin_ = std::max<uint32_t>(1, static_cast<uint32_t>(0.1 * ppb_));

  // Static plane allocation: consecutive lpns advance the first letter fastest.
  const uint32_t sizeOf[4] = {c.channels, c.chipsPerChannel, c.diesPerChip, c.planesPerDie};
  const uint32_t strideOf[4] = {c.chipsPerChannel * c.diesPerChip * c.planesPerDie, c.diesPerChip * c.planesPerDie,
                                c.planesPerDie, 1};
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

  map_.assign(logical_, kNone);
  mappedBits_.assign((logical_ + 63) / 64, 0);
  rmap_.assign(physical_, kNone);
  blocks_.assign(static_cast<size_t>(planes_) * bpp_, Block{});
  active_.assign(planes_, kNone);
  freeRing_.resize(static_cast<size_t>(planes_) * bpp_);
  fifoRing_.resize(static_cast<size_t>(planes_) * bpp_);
  freeHead_.assign(planes_, 0);
  freeCount_.assign(planes_, bpp_);
  fifoHead_.assign(planes_, 0);
  fifoCount_.assign(planes_, 0);
  inGc_.assign(planes_, 0);
  // The plane of an lpn depends only on lpn mod planes (each letter's digit
  // cycles within the product of all sizes): plane p owns k * planes + residue_[p].
  residue_.assign(planes_, kNone);
  for (uint32_t r = 0; r < planes_; r++) residue_[planeOfLpn(r)] = r;
  for (uint32_t p = 0; p < planes_; p++)
    for (uint32_t b = 0; b < bpp_; b++) freeRing_[static_cast<size_t>(p) * bpp_ + b] = p * bpp_ + b;
}

uint32_t Ftl::planeOfLpn(uint32_t lpn) const {
  uint32_t plane = 0;
  for (int i = 0; i < 4; i++) plane += ((lpn / div_[i]) % mod_[i]) * stride_[i];
  return plane;
}

void Ftl::retireActive(uint32_t plane) {
  uint32_t b = active_[plane];
  if (b == kNone) return;
  active_[plane] = kNone;
  size_t base = static_cast<size_t>(plane) * bpp_;
  fifoRing_[base + (fifoHead_[plane] + fifoCount_[plane]) % bpp_] = b;
  fifoCount_[plane]++;
}

uint32_t Ftl::allocPage(uint32_t plane, GcSink* sink) {
  uint32_t b = active_[plane];
  if (b == kNone || blocks_[b].written == ppb_) {
    retireActive(plane);
    if (!inGc_[plane]) {
      maybeGc(plane, sink);
      // GC moves opened a new frontier block: keep filling it.
      b = active_[plane];
      if (b != kNone && blocks_[b].written < ppb_) return b * ppb_ + blocks_[b].written++;
      retireActive(plane);
    }
    if (freeCount_[plane] == 0)
      throw DeviceFull("plane " + std::to_string(plane) +
                       " has no free block left and GC cannot reclaim one (over-provisioning too small for this workload)");
    size_t base = static_cast<size_t>(plane) * bpp_;
    b = freeRing_[base + freeHead_[plane]];
    freeHead_[plane] = (freeHead_[plane] + 1) % bpp_;
    freeCount_[plane]--;
    active_[plane] = b;
  }
  return b * ppb_ + blocks_[b].written++;
}

void Ftl::write(uint32_t lpn, GcSink* sink) {
  uint32_t plane = planeOfLpn(lpn);
  uint32_t ppn = allocPage(plane, sink);
  uint32_t old = map_[lpn];
  if (old != kNone) {
    rmap_[old] = kNone;
    blocks_[old / ppb_].valid--;
  } else {
    mappedBits_[lpn >> 6] |= 1ULL << (lpn & 63);
  }
  map_[lpn] = ppn;
  rmap_[ppn] = lpn;
  blocks_[ppn / ppb_].valid++;
  counters.hostPrograms++;
}

void Ftl::maybeGc(uint32_t plane, GcSink* sink) {
  inGc_[plane] = 1;
  // Each pass frees one block and consumes the victim's valid pages; the cap
  // only guards against a policy that keeps picking blocks with nothing to gain.
  for (uint32_t guard = 0; freeCount_[plane] < gcBlocks_ && guard < bpp_; guard++) {
    uint32_t v = selectVictim(plane, false);
    if (v == kNone || invalid(v) == 0) {
      // MQSim skips GC when the policy picks a useless block. We do the same
      // unless the pool is about to run dry, where we fall back to GREEDY so
      // the drive cannot deadlock.
      if (freeCount_[plane] > 1) break;
      v = selectVictim(plane, true);
      if (v == kNone || invalid(v) == 0) break;
    }
    collect(plane, v, sink);
  }
  inGc_[plane] = 0;
}

uint32_t Ftl::selectVictim(uint32_t plane, bool forceGreedy) {
  const uint32_t first = plane * bpp_;
  GcPolicy policy = forceGreedy ? GcPolicy::GREEDY : cfg_.gcPolicy;
  switch (policy) {
    case GcPolicy::GREEDY: {
      uint32_t best = kNone, bestInv = 0;
      for (uint32_t b = first; b < first + bpp_; b++)
        if (fullBlock(b) && invalid(b) > bestInv) best = b, bestInv = invalid(b);
      return best;
    }
    case GcPolicy::RGA: {
      // A random sample of log2(blocks) full blocks; the one with most invalid pages wins.
      uint32_t best = kNone, bestInv = 0;
      for (uint32_t i = 0, tries = 0; i < rgaSet_ && tries < 4 * bpp_; tries++) {
        uint32_t b = first + rng_.below(bpp_);
        if (!fullBlock(b)) continue;
        i++;
        if (best == kNone || invalid(b) > bestInv) best = b, bestInv = invalid(b);
      }
      return best;
    }
    case GcPolicy::RANDOM: {
      // Any block except the write frontier (may be a free one: then nothing to gain).
      for (uint32_t t = 0; t < bpp_; t++) {
        uint32_t b = first + rng_.below(bpp_);
        if (active_[plane] != b) return b;
      }
      return kNone;
    }
    case GcPolicy::RANDOM_P:
    case GcPolicy::RANDOM_PP: {
      uint32_t b = kNone;
      for (uint32_t t = 0; t <= bpp_; t++) {
        b = first + rng_.below(bpp_);
        if (fullBlock(b) && (policy == GcPolicy::RANDOM_P || invalid(b) >= randomPpMin_)) return b;
      }
      return b;  // like MQSim: after the retries, whatever was drawn last
    }
    case GcPolicy::FIFO: {
      // Oldest filled block; blocks with nothing invalid go back to the tail.
      size_t base = static_cast<size_t>(plane) * bpp_;
      for (uint32_t t = fifoCount_[plane]; t > 0; t--) {
        uint32_t b = fifoRing_[base + fifoHead_[plane]];
        fifoHead_[plane] = (fifoHead_[plane] + 1) % bpp_;
        fifoCount_[plane]--;
        if (invalid(b) > 0) return b;
        fifoRing_[base + (fifoHead_[plane] + fifoCount_[plane]) % bpp_] = b;
        fifoCount_[plane]++;
      }
      return kNone;
    }
  }
  return kNone;
}

void Ftl::collect(uint32_t plane, uint32_t victim, GcSink* sink) {
  counters.gcInvocations++;
  // The victim leaves the fill-order ring (a FIFO-policy victim is already
  // out; for the others the ring is compacted, O(blocks) like a GREEDY scan).
  {
    size_t base = static_cast<size_t>(plane) * bpp_;
    uint32_t n = fifoCount_[plane], h = fifoHead_[plane], w = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t b = fifoRing_[base + (h + i) % bpp_];
      if (b != victim) fifoRing_[base + (h + w++) % bpp_] = b;
    }
    fifoCount_[plane] = w;
  }
  uint32_t job = sink ? sink->gcBegin(plane, victim - plane * bpp_) : 0;
  Block& vb = blocks_[victim];
  const uint32_t firstPpn = victim * ppb_;
  for (uint32_t i = 0; i < vb.written; i++) {
    if (i + 8 < vb.written && rmap_[firstPpn + i + 8] != kNone) __builtin_prefetch(&map_[rmap_[firstPpn + i + 8]]);
    uint32_t lpn = rmap_[firstPpn + i];
    if (lpn == kNone) continue;
    uint32_t dst = allocPage(plane, sink);
    rmap_[firstPpn + i] = kNone;
    vb.valid--;
    map_[lpn] = dst;
    rmap_[dst] = lpn;
    blocks_[dst / ppb_].valid++;
    counters.gcPrograms++;
    if (sink) sink->gcMove(job, plane);
  }
  vb.written = 0;
  vb.valid = 0;
  vb.erases++;
  counters.erases++;
  size_t base = static_cast<size_t>(plane) * bpp_;
  freeRing_[base + (freeHead_[plane] + freeCount_[plane]) % bpp_] = victim;
  freeCount_[plane]++;
  if (sink) sink->gcErase(job, plane);
}

bool Ftl::precondition(double fill, double age, uint64_t seed, uint32_t templates, const std::atomic<bool>& cancel) {
  fill = std::min(1.0, std::max(0.0, fill));
  age = std::max(0.0, age);
  templates = std::max<uint32_t>(1, std::min(templates, planes_));
  // Templates: the planes owning residues 0..templates-1, which hold the most
  // logical pages when logical pages do not divide evenly.
  std::vector<uint32_t> tpl(templates);
  for (uint32_t t = 0; t < templates; t++) tpl[t] = planeOfLpn(t);
  Rng rng(seed);
  for (uint32_t t = 0; t < templates; t++) {
    const uint32_t r = t;
    const uint32_t count = logical_ > r ? (logical_ - r - 1) / planes_ + 1 : 0;  // lpns r, r+P, ... below logical_
    const uint32_t filled = static_cast<uint32_t>(std::floor(fill * count));
    for (uint32_t k = 0; k < filled; k++) write(k * planes_ + r, nullptr);
    if (filled == 0) continue;
    // Uniformly random overwrites of this plane's filled pages, drawn a few
    // steps ahead (same sequence) so the mapping entries can be prefetched.
    const uint64_t n = static_cast<uint64_t>(age * static_cast<double>(count));
    constexpr uint64_t kAhead = 32, kHalf = 16, kRing = 64;
    uint32_t ring[kRing];
    for (uint64_t i = 0; i < std::min(n, kAhead); i++) ring[i] = rng.below(filled) * planes_ + r;
    for (uint64_t i = 0; i < n; i++) {
      if ((i & 0xFFFF) == 0 && cancel.load(std::memory_order_relaxed)) return false;
      if (i + kAhead < n) {
        ring[(i + kAhead) % kRing] = rng.below(filled) * planes_ + r;
        prefetchMap(ring[(i + kAhead) % kRing]);
      }
      if (i + kHalf < n) prefetchOld(ring[(i + kHalf) % kRing]);
      write(ring[i % kRing], nullptr);
    }
  }
  std::vector<uint8_t> isTemplate(planes_, 0);
  for (uint32_t p : tpl) isTemplate[p] = 1;
  uint32_t next = 0;
  for (uint32_t p = 0; p < planes_; p++) {
    if (isTemplate[p]) continue;
    if ((p & 15) == 0 && cancel.load(std::memory_order_relaxed)) return false;
    copyPlane(tpl[next], p);
    next = (next + 1) % templates;
  }
  return true;
}

void Ftl::copyPlane(uint32_t src, uint32_t dst) {
  const size_t sb = static_cast<size_t>(src) * bpp_, db = static_cast<size_t>(dst) * bpp_;
  const uint32_t shiftBlocks = (dst - src) * bpp_;  // may wrap: unsigned arithmetic is modular
  const uint64_t pagesPerPlane = static_cast<uint64_t>(bpp_) * ppb_;
  for (uint32_t b = 0; b < bpp_; b++) {
    blocks_[db + b] = blocks_[sb + b];
    freeRing_[db + b] = freeRing_[sb + b] + shiftBlocks;
    fifoRing_[db + b] = fifoRing_[sb + b] + shiftBlocks;
  }
  active_[dst] = active_[src] == kNone ? kNone : active_[src] + shiftBlocks;
  freeHead_[dst] = freeHead_[src];
  freeCount_[dst] = freeCount_[src];
  fifoHead_[dst] = fifoHead_[src];
  fifoCount_[dst] = fifoCount_[src];
  const uint32_t rs = residue_[src], rd = residue_[dst];
  const uint64_t ppnShift = static_cast<uint64_t>(dst) * pagesPerPlane - static_cast<uint64_t>(src) * pagesPerPlane;
  // Walk the template's logical pages in order: strided, prefetch-friendly
  // access to the mapping; the destination plane's reverse map stays in cache.
  for (uint64_t k = 0;; k++) {
    const uint64_t ls = k * planes_ + rs;
    if (ls >= logical_) break;
    const uint32_t ppn = map_[ls];
    if (ppn == kNone) continue;
    const uint32_t dppn = static_cast<uint32_t>(ppn + ppnShift);
    const uint64_t ld = k * planes_ + rd;
    if (ld >= logical_) {  // the destination owns one logical page fewer: that copy is invalid
      blocks_[dppn / ppb_].valid--;
      continue;
    }
    map_[ld] = dppn;
    rmap_[dppn] = static_cast<uint32_t>(ld);
    mappedBits_[ld >> 6] |= 1ULL << (ld & 63);
  }
}

void Ftl::accounting(uint64_t& valid, uint64_t& invalid, uint64_t& free) const {
  valid = invalid = free = 0;
  for (const Block& b : blocks_) {
    valid += b.valid;
    invalid += b.written - b.valid;
    free += ppb_ - b.written;
  }
}

}  // namespace ssdsim
