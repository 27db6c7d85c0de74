// The discrete-event SSD model: NVMe host interface (submission-queue depth,
// PCIe link each way), write-back data cache, cached mapping table (CMT),
// per-plane transaction queues, dies (multi-plane reads/programs), channels,
// and the GC work the FTL (ftl.h) hands over. Events are fixed-size records in
// a binary heap; requests, transactions and GC jobs come from free-listed
// pools, so steady-state replay allocates nothing per request.
//
// Streaming: feed() appends requests, run() simulates as far as the input
// allows (arrivals are non-decreasing, so events before the last fed arrival
// are safe to process), run(final=true) drains. The result is the same for
// any split of the trace into batches.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "config.h"
#include "ftl.h"
#include "histogram.h"

namespace ssdsim {

struct InputReq {
  uint64_t t;       // arrival, ns
  uint64_t sector;  // 512-byte units
  uint32_t bytes;
  uint8_t write;
};

// First request of a batch that lies outside the logical space (when not mapping modulo).
struct FeedResult {
  int64_t badIndex = -1;
  uint64_t badLastSector = 0;
  bool badSector = false;  // the sector itself is negative, NaN or beyond 2^53 (not a capacity question)
};

enum class RunStatus { NEED_MORE, DONE, CANCELLED };

struct Results {
  uint64_t requests = 0, reads = 0, writes = 0, skipped = 0, unmappedReads = 0, clampedArrivals = 0;
  uint64_t readBytes = 0, writeBytes = 0;
  uint64_t firstArrivalNs = 0, lastCompletionNs = 0;
  const Histogram* readLat = nullptr;
  const Histogram* writeLat = nullptr;
  const Histogram* deviceResp = nullptr;
  const Histogram* allLat = nullptr;
  FtlCounters ftl;           // measured phase only
  FtlCounters precondition;  // preconditioning phase
  uint64_t flashReads = 0, mappingReads = 0, mappingPrograms = 0;
  uint64_t cacheReadHits = 0, cacheReadLookups = 0, cacheWriteHits = 0, cacheWriteLookups = 0;
  uint64_t cmtHits = 0, cmtLookups = 0;
  double channelUtilMean = 0, channelUtilMax = 0, dieUtilMean = 0, dieUtilMax = 0, pcieH2dUtil = 0, pcieD2hUtil = 0;
  // CPU time of the simulating thread (CLOCK_THREAD_CPUTIME_ID), for speed figures under contention.
  uint64_t preconditionCpuNs = 0, replayCpuNs = 0, preconditionWallNs = 0;
  uint64_t validPages = 0, invalidPages = 0, freePages = 0, physicalPages = 0, logicalPages = 0;
};

class Sim : private GcSink {
 public:
  explicit Sim(const SimConfig& c);
  FeedResult feed(const double* t, const double* sector, const uint32_t* bytes, const uint16_t* op, size_t n);
  RunStatus run(bool final);
  void cancel() { cancel_.store(true); }
  Results results();
  uint64_t completed() const { return completed_; }
  uint64_t logicalSectors() const { return static_cast<uint64_t>(ftl_.logicalPages()) * spp_; }

 private:
  enum TxKind : uint8_t { T_READ, T_PROG, T_TREAD, T_TPROG, T_GCREAD, T_GCPROG, T_COPYBACK, T_ERASE };
  enum DiePhase : uint8_t { IDLE, CELL_READ, XFER_OUT, XFER_IN, CELL_PROG, CELL_OTHER, COMPLETING };
  enum EvKind : uint32_t { EV_DIE, EV_CHAN, EV_PCIE };
  struct Ev {
    uint64_t t, seq;
    uint32_t kind, id;
  };
  struct EvLater {
    bool operator()(const Ev& a, const Ev& b) const { return a.t != b.t ? a.t > b.t : a.seq > b.seq; }
  };
  struct Tx {
    uint64_t seq;
    uint32_t next, plane, owner, aux, bytes;
    uint8_t kind, gc;
  };
  struct Req {
    uint64_t arrival, admit, sector;
    uint32_t bytes, pending, nextFree;
    uint8_t write, transferring;
  };
  struct GcJob {
    uint32_t remaining, plane, nextFree;
    uint8_t eraseDue;
  };
  struct Die {
    uint64_t start = 0, busyNs = 0;
    uint32_t n = 0;
    uint8_t phase = IDLE;
  };

  // GcSink
  uint32_t gcBegin(uint32_t plane, uint32_t victimBlock) override;
  void gcMove(uint32_t job, uint32_t plane) override;
  void gcErase(uint32_t job, uint32_t plane) override;

  void precondition();
  RunStatus loop(bool final);
  void schedule(uint64_t t, uint32_t kind, uint32_t id);
  void admit(const InputReq& in);
  void onPcieDone(uint32_t r);
  void writeData(uint32_t r);
  void finishRequest(uint32_t r);
  void complete(uint32_t r);
  uint32_t lpnOf(uint64_t sector) const;

  uint32_t newTx(uint8_t kind, uint32_t plane, uint32_t owner, uint32_t aux, uint32_t bytes, bool gc);
  void enqueue(uint32_t tx);
  void dispatch(uint32_t die);
  void onDieEvent(uint32_t die);
  void onChanEvent(uint32_t die);
  void finishBatch(uint32_t die);
  void completeTx(uint32_t tx);
  uint64_t reserveChannel(uint32_t die, uint32_t bytes);
  static int txClass(uint8_t kind);

  // Data cache (slots of one page).
  bool cacheWrite(uint32_t lpn, uint32_t req, bool retry);
  int32_t cacheFind(uint32_t lpn) const;
  void cacheInsertKey(uint32_t lpn, int32_t slot);
  void cacheEraseKey(uint32_t lpn);
  int32_t cacheTakeSlot();
  void listUnlink(uint32_t s);
  void listPushHead(int listId, uint32_t s);
  void flushAhead();
  void onFlushDone(uint32_t slot);

  // Cached mapping table.
  void cmtAccess(uint32_t lpn, uint32_t tx, bool dirty);
  void onTransReadDone(uint32_t tx);
  void cmtUnlink(uint32_t s);
  void cmtPushHead(uint32_t s);

  SimConfig cfg_;
  Ftl ftl_;
  uint32_t spp_;  // sectors per page
  uint32_t nDies_, planesPerDie_, diesPerChannel_;
  double chanBytesPerNs_, pcieBytesPerNs_;
  std::atomic<bool> cancel_{false};
  bool preconditioned_ = false;

  // Events.
  std::vector<Ev> heap_;
  uint64_t now_ = 0, evSeq_ = 0, txSeq_ = 0;

  // Input.
  std::vector<InputReq> in_;
  size_t inHead_ = 0;
  uint64_t lastFedT_ = 0;
  bool anyFed_ = false;

  // Pools.
  std::vector<Req> reqs_;
  uint32_t reqFree_ = kNone;
  std::vector<Tx> txs_;
  uint32_t txFree_ = kNone;
  std::vector<GcJob> jobs_;
  uint32_t jobFree_ = kNone;
  uint32_t outstanding_ = 0;

  // Flash resources.
  std::vector<uint32_t> uHead_, uTail_, gHead_, gTail_;  // per plane
  std::vector<Die> dies_;
  std::vector<uint32_t> batch_;  // per die: planesPerDie tx ids
  std::vector<uint64_t> chanFree_, chanBusyNs_;
  uint64_t h2dFree_ = 0, d2hFree_ = 0, h2dBusyNs_ = 0, d2hBusyNs_ = 0;

  // Data cache: hash lpn -> slot (open addressing, backward-shift deletion),
  // slot states, and two LRU lists (0 clean, 1 dirty) through prev/next.
  enum SlotState : uint8_t { S_FREE, S_CLEAN, S_DIRTY, S_FLUSHING };
  uint32_t cacheSlots_ = 0, flushReserve_ = 0;
  std::vector<uint32_t> hKey_;
  std::vector<int32_t> hVal_;
  uint32_t hMask_ = 0;
  std::vector<uint32_t> sLpn_, sPrev_, sNext_;
  std::vector<uint8_t> sState_, sRedirty_;
  uint32_t listHead_[2] = {kNone, kNone}, listTail_[2] = {kNone, kNone}, listLen_[2] = {0, 0};
  uint32_t freeSlots_ = 0, freeSlotHead_ = kNone, flushing_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> waiters_;  // (req, lpn) ring waiting for a slot
  size_t waitHead_ = 0;

  // CMT: LRU of translation pages.
  uint32_t entriesPerTp_ = 0, cmtSlots_ = 0, cmtUsed_ = 0;
  std::vector<uint32_t> tpSlot_;
  std::vector<uint32_t> cTp_, cPrev_, cNext_, cWaitHead_, cWaitTail_;
  std::vector<uint8_t> cDirty_, cLoading_;
  uint32_t cHead_ = kNone, cTail_ = kNone;

  // Statistics.
  Histogram readLat_, writeLat_, allLat_, devResp_;
  Results st_;
  uint64_t completed_ = 0;
};

}  // namespace ssdsim
