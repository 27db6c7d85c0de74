// The discrete-event SSD model, built to rank configurations the way MQSim
// (CMU-SAFARI, FAST'18) does, at a fraction of its cost. Each part follows
// the MQSim component named beside it; docs/ssdsim.md lists every departure.
//
//   host.cc   NVMe queues and PCIe messages      (IO_Flow_Base, Host_Interface_NVMe, PCIe_Link)
//   cache.cc  write cache, DRAM, back-pressure   (Data_Cache_Manager_Flash_Advanced)
//   fmap.cc   cached mapping table, translation  (Address_Mapping_Unit_Page_Level)
//   flash.cc  scheduling, chips, channels, GC    (TSU_Priority_OutOfOrder, NVM_PHY_ONFI_NVDDR2, GC_and_WL_Unit)
//
// Events are 16-byte keys ordered by (time, sequence): the FIFO servers' in lanes, the rest in a 4-ary heap (eventq.h);
// requests, transactions and messages come from free-listed pools, so a
// steady replay allocates nothing per request. Streaming: feed() appends
// requests, run() simulates as far as the input allows (arrivals are
// non-decreasing, so events before the last fed arrival are safe to
// process), run(final=true) drains. The result is the same for any split of
// the trace into batches.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "config.h"
#include "flatmap.h"
#include "ftl.h"
#include "eventq.h"
#include "histogram.h"
#include "pool.h"

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
  uint64_t foldedRequests = 0;  // requests beyond the logical space, mapped back into it (lbaModulo)
  uint64_t readBytes = 0, writeBytes = 0;
  uint64_t firstArrivalNs = 0, lastCompletionNs = 0;
  const Histogram* readLat = nullptr;
  const Histogram* writeLat = nullptr;
  const Histogram* deviceResp = nullptr;
  const Histogram* allLat = nullptr;
  FtlCounters ftl;           // measured phase only
  FtlCounters precondition;  // preconditioning phase
  uint64_t flashReads = 0, updateReads = 0, mappingReads = 0, mappingPrograms = 0;
  uint64_t cacheReadHits = 0, cacheReadLookups = 0, cacheWriteHits = 0, cacheWriteLookups = 0, cacheEvictions = 0;
  uint64_t cmtHits = 0, cmtLookups = 0;
  uint64_t flashCommands = 0, multiPlaneCommands = 0;
  uint64_t schedulerVisits = 0;  // queued transactions the scheduler examined to form those commands
  double channelUtilMean = 0, channelUtilMax = 0, dieUtilMean = 0, dieUtilMax = 0, pcieH2dUtil = 0, pcieD2hUtil = 0;
  // CPU time of the simulating thread (CLOCK_THREAD_CPUTIME_ID), for speed figures under contention.
  uint64_t preconditionCpuNs = 0, replayCpuNs = 0, preconditionWallNs = 0;
  uint64_t validPages = 0, invalidPages = 0, freePages = 0, mappingPages = 0, physicalPages = 0, logicalPages = 0;
  uint64_t stateBytes = 0;  // simulator state at the end (sparse mapping, blocks, caches, pools)
};

class Sim {
 public:
  explicit Sim(const SimConfig& c);
  FeedResult feed(const double* t, const double* sector, const uint32_t* bytes, const uint16_t* op, size_t n);
  RunStatus run(bool final);
  void cancel() { cancel_.store(true); }
  Results results();
  uint64_t completed() const { return completed_; }
  uint64_t logicalSectors() const { return static_cast<uint64_t>(ftl_.logicalPages()) * spp_; }

 private:
  // ---- pools and events --------------------------------------------------------
  // The FIFO servers' kinds double as their event-queue lanes (below EventQueue::kLanes).
  enum EvKind : uint32_t { EV_H2D, EV_D2H, EV_DRAM, EV_CHAN, EV_UNIT };
  void schedule(uint64_t t, uint32_t kind, uint32_t id);
  RunStatus loop(bool final);

  // A FIFO server (a PCIe link direction, the DRAM channel): items finish in
  // the order they came, each when the server is done with the one before.
  // Only the head's completion is an event (as in MQSim, which registers the
  // next when the previous one ends), which keeps the event heap small.
  struct Fifo {
    std::vector<std::pair<uint64_t, uint32_t>> items;  // (done at, item), from head
    size_t head = 0;
    uint64_t free = 0, busyNs = 0;
    bool empty() const { return head == items.size(); }
  };
  // Append an item taking `dur` ns; schedules its completion event when it is at the head.
  void fifoPush(Fifo& f, uint32_t kind, uint64_t dur, uint32_t item);
  // The head item (its completion event is being handled); the next one's event is scheduled by fifoNext.
  uint32_t fifoPop(Fifo& f);
  void fifoNext(Fifo& f, uint32_t kind);

  // ---- host: NVMe submission/completion queues over a PCIe link (host.cc) ----------
  struct Req {
    uint64_t arrival, enqueue, stamp;
    uint64_t sector;
    uint32_t sectors;
    uint32_t pendingTx;     // flash transactions not yet serviced (MQSim's Transaction_list)
    uint32_t cacheSectors;  // sectors in DRAM transfers not yet done (Sectors_serviced_from_cache)
    uint32_t admitted;      // writes: sectors taken into the write cache so far
    uint8_t write;
  };
  enum MsgKind : uint8_t { M_SQ_DOORBELL, M_SQE, M_WRITE_DATA, M_CQ_DOORBELL, M_FETCH_SQE, M_FETCH_DATA, M_READ_DATA, M_CQE };
  struct Msg {
    uint64_t value;  // completion entry: the submission-queue head it reports
    uint32_t req;
    uint8_t kind;
  };
  void arrive(const InputReq& in, uint64_t arrival);
  void submit(uint32_t r);
  void send(uint8_t kind, uint32_t req, uint64_t value, uint32_t bytes, bool toDevice, bool readRequest = false);
  void onH2D();
  void onD2H();
  void fetchNext();
  void requestServiced(uint32_t r);
  void hostCompletion(uint32_t r, uint64_t sqHead);
  uint64_t pcieNs(uint32_t payload, bool readRequest) const;

  // ---- device: write cache and DRAM (cache.cc) -----------------------------------
  enum SlotState : uint8_t { S_FREE, S_DIRTY, S_WRITEBACK };
  enum DramJob : uint8_t { J_USER_READ, J_USER_WRITE, J_EVICT };
  struct Dram {
    uint32_t req, sectors, list;
    uint8_t kind;
  };
  void readArrived(uint32_t r);
  void writeArrived(uint32_t r);
  void writeToCache(uint32_t r);
  void dramAccess(uint8_t kind, uint32_t req, uint32_t sectors, uint32_t list);
  void onDram();
  uint64_t dramNs(uint64_t bytes) const;
  bool requestDone(uint32_t r) const;
  void cacheWriteServiced(uint32_t tx);
  int32_t cacheFind(uint32_t lpn) {
    const uint32_t* s = slotOf_.find(lpn);
    return s ? static_cast<int32_t>(*s) : -1;
  }
  void lruTouch(uint32_t s);
  void lruUnlink(uint32_t s);
  void lruPushFront(uint32_t s);

  // ---- device: address mapping and the CMT (fmap.cc) ------------------------------
  void dispatch(uint32_t list);  // translate a list of transactions (linked by `next`) and submit them
  bool queryCmt(uint32_t tx);
  bool requestMappingEntry(uint32_t key, uint32_t mvpn);
  bool translate(uint32_t tx);
  void cmtReserve(uint32_t key, bool valid);
  void cmtEvictIfFull();
  void arrivingPush(uint32_t mvpn, uint32_t key);
  void mappingWriteback(uint32_t evictedKey);
  void mappingReadDone(uint32_t tx);
  void waitForMapping(uint32_t key, uint32_t tx, bool program);
  void waitForPlane(uint32_t tx);
  void resumePlaneWrites(uint32_t plane);
  uint32_t mvpnOf(uint32_t lpn) const { return lpn / entriesPerTp_; }
  uint32_t cmtKey(uint32_t lpn) const { return cfg_.cmtPerTranslationPage ? mvpnOf(lpn) : lpn; }

  // ---- flash transactions, scheduling and the ONFI bus (flash.cc) -----------------
  enum TxKind : uint8_t { T_READ, T_WRITE, T_ERASE };
  enum TxSource : uint8_t { SRC_USER, SRC_CACHE, SRC_MAPPING, SRC_GC };
  struct Tx {
    uint64_t bitmap, stamp;
    uint32_t lpn, plane, page;  // page: index in its block (multi-plane commands need equal ones)
    uint32_t ppn;
    uint32_t bytes;
    uint32_t req;      // user read: the request; GC read: the move's target ppn
    uint32_t related;  // write: its pending update read (kNone when ready); read: the write it feeds; GC: the erase
    uint32_t pending;  // erase: page moves still to program
    uint32_t next, prev;
    // While in a unit queue: its place in the queue's index (see `enqueue`).
    uint32_t dieNext, diePrev, pageNext, pagePrev;
    uint64_t queued;  // sequence number in an indexed unit: queue order across the index's lists
    uint8_t kind, source, urgent, copyback, determined;
  };
  // Per-unit queues, in MQSim's TSU_Priority_OutOfOrder.
  enum Queue : uint8_t { Q_MAP_READ, Q_USER_READ, Q_USER_WRITE_URGENT, Q_USER_WRITE, Q_GC_READ, Q_GC_WRITE, Q_GC_ERASE, Q_COUNT };
  enum UnitStatus : uint8_t { U_IDLE, U_CMD_IN, U_READING, U_WAIT_DATA_OUT, U_DATA_OUT, U_CMD_DATA_IN, U_WRITING, U_ERASING, U_COPYBACK_WAIT };
  enum UnitPhase : uint8_t {
    P_NONE,
    P_READ_CMD,
    P_PROG_CMD,
    P_ERASE_CMD,
    P_CB_READ_CMD,
    P_CB_PROG_CMD,
    P_DATA_OUT,  // on the channel
    P_READ_EXEC,
    P_PROG_EXEC,
    P_ERASE_EXEC,
    P_CB_READ_EXEC,
    P_CB_PROG_EXEC  // in the chip
  };
  struct List {
    uint32_t head = kNone, tail = kNone, size = 0;
  };
  struct Unit {
    List q[Q_COUNT];
    uint64_t busyFrom = 0, busyNs = 0;
    uint32_t queued = 0;  // transactions in its queues
    uint32_t n = 0, waitingReads = 0, transfer = kNone;
    uint8_t status = U_IDLE, phase = P_NONE, op = T_READ;
    bool indexed = false;  // its queues are in the index (see enqueue)
  };
  struct Channel {
    List waitMapping, waitUser, waitGc;  // read data waiting for the bus
    std::vector<uint32_t> waitCopyback;  // units waiting to send a copyback program
    uint64_t busyFrom = 0, busyNs = 0;
    uint32_t rr = 0;
    uint32_t queued = 0;  // transactions in its chips' queues
    bool busy = false;
  };
  uint32_t newTx(uint8_t kind, uint8_t source, uint32_t lpn, uint32_t bytes);
  void freeTx(uint32_t tx) { txs_.release(tx); }
  void setLocation(uint32_t tx, uint32_t ppn);
  void submitTx(uint32_t tx) { receive_.push_back(tx); }
  void scheduleFlash();
  void channelIdle(uint32_t ch);
  void processUnit(uint32_t u);
  bool serviceRead(uint32_t u);
  bool serviceWrite(uint32_t u);
  bool serviceErase(uint32_t u);
  bool gcUrgent(uint32_t u) const;
  bool ready(uint32_t tx) const;
  void issue(uint32_t u, List* q1, List* q2, uint8_t op);
  void sendCommand(uint32_t u);
  void startDataOut(uint32_t u, uint32_t tx);
  void releaseChannel(uint32_t ch);
  void onChan(uint32_t u);
  void onUnit(uint32_t u);
  void serviced(uint32_t tx);
  void gcChecks();
  void startGc(uint32_t plane, bool greedyFallback = false);
  // Intrusive doubly linked lists of transactions; `next`/`prev` name the links (a queued transaction is in three lists).
  void listPush(List& l, uint32_t tx, uint32_t Tx::*next = &Tx::next, uint32_t Tx::*prev = &Tx::prev);
  void listRemove(List& l, uint32_t tx, uint32_t Tx::*next = &Tx::next, uint32_t Tx::*prev = &Tx::prev);
  uint32_t listPop(List& l);
  void enqueue(uint32_t u, Queue q, uint32_t tx);
  void dequeue(uint32_t u, Queue q, uint32_t tx);
  void indexAdd(Queue q, uint32_t tx);
  List& dieList(Queue q, uint32_t die) { return dieLists_[static_cast<size_t>(q) * dies_ + die]; }
  // (plane, page index) as a hash key. FlatMap's slot is the key's low bits (times an odd number), and plane x
  // pagesPerBlock + page puts the same page index of planes 2^k apart on one slot: mixed first, bijectively on 31
  // bits (the product is below 2^30: a plane has at least 4 blocks and the device fewer than 2^32 pages).
  uint32_t pageKey(uint32_t plane, uint32_t page) const {
    uint32_t k = plane * ftl_.pagesPerBlock() + page;
    k ^= k >> 15;
    k = (k * 0x2c1b3c6du) & 0x7fffffffu;
    return k ^ (k >> 12);
  }
  void setChannelBusy(uint32_t ch, bool busy);
  void setUnitIdle(uint32_t u);
  uint32_t unitOf(uint32_t plane) const { return plane / planesPerUnit_; }
  uint32_t channelOfUnit(uint32_t u) const { return u / unitsPerChannel_; }

  SimConfig cfg_;
  Ftl ftl_;
  uint32_t spp_;
  std::atomic<bool> cancel_{false};
  bool preconditioned_ = false;

  // Events and input.
  EventQueue events_;
  uint64_t now_ = 0;
  std::vector<InputReq> in_;
  size_t inHead_ = 0;
  uint64_t lastFedT_ = 0;
  bool anyFed_ = false;

  // Host and NVMe queues.
  Pool<Req> reqs_;
  Pool<Msg> msgs_;
  std::vector<uint32_t> hostWaiting_;  // FIFO (head index below) of requests the full submission queue holds back
  size_t hostWaitHead_ = 0;
  std::vector<uint32_t> sq_;  // requests in submission order, from sqBase_
  uint64_t sqBase_ = 0, submitted_ = 0, headKnown_ = 0;
  uint64_t devTail_ = 0, devHead_ = 0, headInformed_ = 0;
  uint32_t onTheFly_ = 0, outstanding_ = 0;
  Fifo h2d_, d2h_;  // the PCIe link, one FIFO per direction
  uint32_t pcieOverhead_ = 28, tlpPayload_ = 128;

  // Write cache (MQSim's ADVANCED manager, WRITE_CACHE mode) and its DRAM.
  uint32_t cacheCap_ = 0, cacheUsed_ = 0;
  FlatMap<uint32_t> slotOf_;
  std::vector<uint32_t> sLpn_, sPrev_, sNext_;
  std::vector<uint64_t> sBitmap_, sStamp_;
  std::vector<uint8_t> sState_;
  std::vector<uint32_t> slotFree_;
  uint32_t lruHead_ = kNone, lruTail_ = kNone;
  FlatMap<uint8_t> bloom_;
  uint64_t nextBloomReset_ = 0;
  uint64_t backPressure_ = 0, backPressureMax_ = 0;  // sectors being written back to flash, and MQSim's limit
  std::vector<uint32_t> cacheWaiting_;               // write requests waiting for back-pressure to drop, FIFO from cacheWaitHead_
  size_t cacheWaitHead_ = 0;
  Pool<Dram> dram_;
  Fifo dramQ_;
  double dramBurstNs_ = 0;

  // Mapping: CMT of entries (or translation pages), in-flight translation reads, waiting transactions.
  uint32_t entriesPerTp_ = 0, cmtCap_ = 0, gtdEntryBytes_ = 0;
  uint32_t transPages_ = 0;
  FlatMap<uint32_t> cmtSlotOf_;
  std::vector<uint32_t> cKey_, cPrev_, cNext_;
  std::vector<uint8_t> cValid_, cDirty_;
  std::vector<uint32_t> cmtFree_;
  uint32_t cHead_ = kNone, cTail_ = kNone, cmtUsed_ = 0;
  struct KeyList {
    uint32_t head = kNone, tail = kNone;
  };
  FlatMap<KeyList> arriving_;  // mvpn -> keys waiting for its translation read (nodes in akNode_)
  std::vector<uint32_t> akKey_, akNext_;
  std::vector<uint32_t> akFree_;
  FlatMap<uint8_t> departing_;            // mvpns whose translation write was issued (it never executes in MQSim)
  FlatMap<KeyList> waitRead_, waitProg_;  // key -> transactions waiting for its mapping entry (linked by next)
  std::vector<KeyList> planeWait_;        // writes held while a plane's pool is below MQSim's limit

  // Flash.
  Pool<Tx> txs_;
  std::vector<uint32_t> receive_;  // transactions submitted since the last scheduling pass
  std::vector<uint32_t> touched_;  // scheduleFlash's scratch: channels that received some
  std::vector<Unit> units_;
  std::vector<Channel> chans_;
  std::vector<uint32_t> batch_;  // per unit: the transactions of its current command
  // The unit queues' index, so that forming a command visits only transactions that can join it (issue()):
  // per queue kind, each die's queued transactions and each (plane, page index)'s, in queue order. The
  // page lists live in a hash map and leave it when empty, so the index is as large as the queues. Only
  // units holding more than kIndexFrom transactions are indexed (until they empty): on short queues the
  // walk costs less than keeping the index.
  std::vector<List> dieLists_;        // [queue kind * dies_ + die]
  FlatMap<List> pageLists_[Q_COUNT];  // per queue kind, keyed by pageKey(plane, page)
  uint64_t enqueued_ = 0;
  uint32_t planesPerUnit_, unitsPerChannel_, planesPerDie_, dies_;
  uint64_t readCmdNs_[17], progCmdNs_[17], eraseCmdNs_[17];
  uint64_t twoUnitNs_;
  std::vector<GcMove> moves_;
  std::vector<uint32_t> dispatchBatch_;  // dispatch()'s scratch (it never nests)

  // Statistics.
  Histogram readLat_, writeLat_, allLat_, devResp_;
  Results st_;
  uint64_t completed_ = 0;
};

}  // namespace ssdsim
