// Page-level FTL, functional part: logical->physical mapping, per-plane block
// pools and write frontiers, garbage collection with MQSim's victim policies.
// State changes happen immediately when an operation is issued; the timing
// of the flash operations they imply is modelled by the event engine (sim.h),
// which receives them through GcSink. All state lives in flat arrays sized by
// the device (8 bytes per physical page + 16 per block), never by the trace.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "config.h"
#include "rng.h"

namespace ssdsim {

constexpr uint32_t kNone = UINT32_MAX;

// Receives the flash work a GC pass implies (the event engine times it).
struct GcSink {
  virtual ~GcSink() = default;
  virtual uint32_t gcBegin(uint32_t plane, uint32_t victimBlock) = 0;
  virtual void gcMove(uint32_t job, uint32_t plane) = 0;
  virtual void gcErase(uint32_t job, uint32_t plane) = 0;
};

struct FtlCounters {
  uint64_t hostPrograms = 0;  // pages programmed for host data
  uint64_t gcPrograms = 0;    // pages moved by GC
  uint64_t erases = 0;
  uint64_t gcInvocations = 0; // victim blocks collected
};

class Ftl {
 public:
  explicit Ftl(const SimConfig& c);

  uint32_t logicalPages() const { return logical_; }
  uint64_t physicalPages() const { return physical_; }
  uint32_t planes() const { return planes_; }
  uint32_t planeOf(uint32_t lpn) const { return planeOfLpn(lpn); }
  // From a bitmap (1 bit per logical page, cache-resident) rather than the 4-byte mapping entry.
  bool mapped(uint32_t lpn) const { return (mappedBits_[lpn >> 6] >> (lpn & 63)) & 1; }

  // Preconditioning (untimed). Planes are independent and statistically
  // identical under uniform writes (static allocation gives each the same
  // share of logical pages), so `templates` planes are filled and aged with
  // real random writes and GC, and every other plane gets a copy of one
  // template's block state with its own logical pages. Cost: templates/planes
  // of aging the whole device. Returns false when cancelled.
  bool precondition(double fill, double age, uint64_t seed, uint32_t templates, const std::atomic<bool>& cancel);

  // Write one logical page: allocate in its plane, invalidate the old copy,
  // run GC if the plane's free pool falls below the threshold.
  void write(uint32_t lpn, GcSink* sink);

  // Cache hints for batched random writes (preconditioning): first the
  // mapping entry, later (once it is cached) the old page's reverse entry and block.
  void prefetchMap(uint32_t lpn) const { __builtin_prefetch(&map_[lpn]); }
  void prefetchOld(uint32_t lpn) const {
    const uint32_t old = map_[lpn];
    if (old != kNone) {
      __builtin_prefetch(&rmap_[old]);
      __builtin_prefetch(&blocks_[old / ppb_]);
    }
  }

  // True when the plane's free pool is below the hard threshold (GC must not yield).
  bool urgent(uint32_t plane) const { return freeCount_[plane] < hardBlocks_; }
  uint32_t freeBlocks(uint32_t plane) const { return freeCount_[plane]; }

  // Page accounting over the whole device: valid + invalid + free == physical.
  void accounting(uint64_t& valid, uint64_t& invalid, uint64_t& free) const;

  FtlCounters counters;

 private:
  struct Block {
    uint32_t valid = 0;
    uint32_t written = 0;  // next page index to program
    uint32_t erases = 0;
  };
  uint32_t planeOfLpn(uint32_t lpn) const;
  void copyPlane(uint32_t src, uint32_t dst);
  uint32_t allocPage(uint32_t plane, GcSink* sink);
  void retireActive(uint32_t plane);
  void maybeGc(uint32_t plane, GcSink* sink);
  uint32_t selectVictim(uint32_t plane, bool forceGreedy);
  void collect(uint32_t plane, uint32_t block, GcSink* sink);
  bool fullBlock(uint32_t b) const { return blocks_[b].written == ppb_ && active_[b / bpp_] != b; }
  uint32_t invalid(uint32_t b) const { return blocks_[b].written - blocks_[b].valid; }

  SimConfig cfg_;
  uint32_t planes_, bpp_, ppb_, logical_;
  uint64_t physical_;
  uint32_t gcBlocks_, hardBlocks_, rgaSet_, randomPpMin_;
  uint32_t div_[4], mod_[4];  // static plane allocation: digit i of the lpn in a mixed radix
  uint32_t stride_[4];        // plane-index stride of each of C, W, D, P
  std::vector<uint64_t> mappedBits_;
  std::vector<uint32_t> map_;   // lpn -> ppn
  std::vector<uint32_t> rmap_;  // ppn -> lpn (kNone: free or invalid)
  std::vector<Block> blocks_;   // plane-major: plane * bpp + block
  std::vector<uint32_t> active_;     // per plane: write-frontier block (global id) or kNone
  std::vector<uint32_t> freeRing_;   // per plane ring of free blocks (bpp slots each)
  std::vector<uint32_t> freeHead_, freeCount_;
  std::vector<uint32_t> fifoRing_;   // per plane ring of full blocks in fill order (FIFO policy)
  std::vector<uint32_t> fifoHead_, fifoCount_;
  std::vector<uint8_t> inGc_;
  std::vector<uint32_t> residue_;  // per plane: the lpn residue mod planes that maps to it
  Rng rng_;
};

}  // namespace ssdsim
