// Page-level FTL, functional part, with MQSim's block management: per plane
// a data and a GC write frontier (and a translation area written once at
// start), a free-block pool handed out by erase count, GC that starts when a
// frontier block is replaced and the pool is below the threshold, and
// MQSim's victim policies. The event engine (sim.h) times the flash work.
//
// State is sparse so that memory and set-up follow what a replay touches,
// not the size of the device: the mapping is a hash map of the logical
// pages written or read, a plane's block table exists once the plane has
// been written, and a block's reverse map once one of its pages changed.
// Preconditioning ages `templates` planes for real; every other plane starts
// as an implicit copy of one of them (planes are alike under static
// allocation and uniform writes) and is copied only when first written.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "config.h"
#include "flatmap.h"
#include "rng.h"

namespace ssdsim {

constexpr uint32_t kNone = UINT32_MAX;

struct FtlCounters {
  uint64_t hostPrograms = 0;  // pages programmed for host data
  uint64_t gcPrograms = 0;    // pages moved by GC
  uint64_t erases = 0;
  uint64_t gcInvocations = 0;  // victim blocks collected
};

// A GC page move decided when GC starts: the logical page, where it was, where it goes.
struct GcMove {
  uint32_t lpn, from, to;
};

class Ftl {
 public:
  explicit Ftl(const SimConfig& c);

  uint32_t logicalPages() const { return logical_; }
  uint64_t physicalPages() const { return physical_; }
  uint32_t planes() const { return planes_; }
  uint32_t pagesPerBlock() const { return ppb_; }
  // Static allocation: the plane depends only on lpn mod planes (each letter's digit cycles within the product).
  uint32_t planeOf(uint32_t lpn) const { return planeOfResidue_[lpn % planes_]; }
  uint32_t pagesPerPlane() const { return ppp_; }
  // MQSim's mapping geometry: translation pages written at start, and mapping entries per translation page.
  uint32_t translationPages() const { return transPages_; }
  uint32_t entriesPerTranslationPage() const { return entriesPerTp_; }

  // Current mapping of `lpn`: physical page and bitmap of the sectors written (or read when the
  // mapping was created by a read). False when the page has no mapping.
  bool lookup(uint32_t lpn, uint32_t& ppn, uint64_t& bitmap) const;
  bool mapped(uint32_t lpn) const {
    uint32_t p;
    uint64_t b;
    return lookup(lpn, p, b);
  }

  // Give `lpn` a new page in its plane's data frontier with sector bitmap
  // `bitmap`, invalidating the old copy. Used for host writes and for the
  // mapping MQSim creates on a read of a never-written page (`program` false).
  uint32_t place(uint32_t lpn, uint64_t bitmap, bool program);

  // MQSim stops servicing writes on a plane whose pool is below the number
  // of GC operations it may run at once (10): the writes wait for an erase.
  bool writesStopped(uint32_t plane) const { return poolSize(plane) < kMaxOngoingGc; }
  bool urgent(uint32_t plane) const { return poolSize(plane) < hardBlocks_; }
  uint32_t poolSize(uint32_t plane) const;

  // Planes whose frontier block was replaced since the last call (GC must be checked there).
  std::vector<uint32_t>& gcChecks() { return gcChecks_; }
  // Start GC on `plane` if MQSim would: pool below threshold, fewer than 10
  // GCs running there, a victim with invalid pages. The victim's valid pages
  // get their new place now (functional state); `moves` receives them.
  // `greedyFallback` (writes are held on the plane and no GC runs there):
  // when the policy's victim has nothing to reclaim, take GREEDY's instead,
  // where MQSim would stall for good.
  bool startGc(uint32_t plane, uint32_t& victim, std::vector<GcMove>& moves, bool greedyFallback = false);
  // The victim's erase executed: the block joins the free pool.
  void finishErase(uint32_t plane, uint32_t block);
  bool gcRunning(uint32_t plane) const;

  // Untimed preconditioning (see the header comment). Returns false when cancelled.
  bool precondition(double fill, double age, uint64_t seed, uint32_t templates, const std::atomic<bool>& cancel);

  // Expect about `pages` mapped logical pages (sizes the sparse map once instead of growing it).
  void reservePages(size_t pages) { map_.reserve(pages); }

  // valid + invalid + free + mapping == physical pages.
  void accounting(uint64_t& valid, uint64_t& invalid, uint64_t& free, uint64_t& mapping) const;
  // Bytes of simulator state (for the memory figures).
  size_t stateBytes() const;

  FtlCounters counters;
  static constexpr uint32_t kMaxOngoingGc = 10;  // MQSim: max_ongoing_gc_reqs_per_plane

 private:
  struct Block {
    uint32_t valid = 0;
    uint32_t written = 0;  // next page index to program (MQSim's Current_page_write_index)
    uint32_t erases = 0;
    uint32_t rmap = kNone;  // index into rmaps_ (page -> lpn / planes), or kNone: shared with the template / never written
    uint8_t inGc = 0, mapping = 0;
  };
  struct Plane {
    std::vector<Block> blocks;  // blocks ever taken from the pool (ids below nextFresh); empty until the plane is first written
    uint32_t dataWf = kNone, gcWf = kNone;
    uint32_t nextFresh = 0;                               // never-used blocks nextFresh.. are free (erase count 0, id order)
    std::vector<std::pair<uint64_t, uint32_t>> recycled;  // min-heap of (erase count << 32 | seq, block): least worn first, FIFO among equals
    uint32_t recycledSeq = 0;
    std::vector<uint32_t> history;  // blocks in the order they left the pool (FIFO policy)
    uint32_t historyHead = 0;
    uint32_t ongoingGc = 0;
    uint32_t owned = 0;  // logical pages this plane holds
  };
  struct Template {
    Plane plane;                 // materialised, aged
    std::vector<uint32_t> rmap;  // dense: plane-relative ppn -> k (lpn / planes)
    std::vector<uint32_t> map;   // k -> plane-relative ppn
  };

  bool materialised(uint32_t p) const { return !planes_v_[p].blocks.empty(); }
  // A block's state; blocks never taken from the pool are not stored (they are free and unworn).
  static const Block& blk(const Plane& pl, uint32_t b) {
    static const Block kFresh{};
    return b < pl.blocks.size() ? pl.blocks[b] : kFresh;
  }
  void materialise(uint32_t p);
  void freshPlane(Plane& pl, uint32_t p);
  uint32_t takeFree(Plane& pl, uint32_t p);
  void addFree(Plane& pl, uint32_t block);
  uint32_t alloc(uint32_t p, bool gc);
  uint32_t* rmapOf(uint32_t p, uint32_t block, bool forWrite);
  void invalidate(uint32_t ppn);
  uint32_t selectVictim(uint32_t p, bool greedy = false);
  bool safeVictim(const Plane& pl, uint32_t b) const;
  uint32_t invalidCount(const Block& b) const { return b.written - b.valid; }
  const Template* templateOf(uint32_t p) const { return templates_.empty() ? nullptr : templates_[p % templates_.size()].get(); }
  void agePlane(Template& t, uint32_t p, double fill, double age, Rng& rng, const std::atomic<bool>& cancel, bool& cancelled);

  SimConfig cfg_;
  uint32_t planes_, bpp_, ppb_, ppp_, logical_;
  uint64_t physical_;
  uint32_t gcBlocks_, hardBlocks_, rgaSet_, randomPpMin_;
  uint32_t transPages_ = 0, entriesPerTp_ = 0;  // MQSim's Total_translation_pages_no, entries per translation page
  uint32_t div_[4], mod_[4], stride_[4];        // static plane allocation
  std::vector<uint32_t> residue_;               // per plane: the lpn residue mod planes that maps to it
  std::vector<uint32_t> planeOfResidue_;        // and back
  uint32_t computePlane(uint32_t lpn) const;
  struct MapEntry {
    uint64_t bitmap;
    uint32_t ppn;
  };
  FlatMap<MapEntry> map_;  // lpn -> current page (absent: unmapped, or the template's page)
  std::vector<Plane> planes_v_;
  std::vector<uint32_t> rmaps_;  // per-block reverse maps, ppb_ entries each
  std::vector<uint32_t> rmapFree_;
  std::vector<std::unique_ptr<Template>> templates_;
  std::vector<uint32_t> gcChecks_;
  uint64_t fullBitmap_;
  Rng rng_;
};

}  // namespace ssdsim
