// Address translation as MQSim's Address_Mapping_Unit_Page_Level does it:
// - the cached mapping table (CMT) holds single mapping entries, LRU, sized
//   cmtBytes / entry (an entry: two physical page numbers and a sector
//   bitmap); a miss reads the entry's translation page (one sector) from
//   flash, and transactions for entries of a translation page already being
//   read wait for that read instead of issuing another;
// - all translation pages are on flash from the start, so every first access
//   to an entry misses; an evicted dirty entry makes MQSim read the rest of
//   its translation page and queue a program that its scheduler never
//   executes (its mapping-write queue is not serviced): we issue the read and
//   count the program;
// - a read of a never-written page gets a new physical page (MQSim's
//   online_create_entry_for_reads) and reads it;
// - a write that does not cover all the sectors the page holds first reads
//   the missing ones (an update read);
// - writes to a plane whose free-block pool is below 10 wait for an erase.
// With cmtPerTranslationPage the CMT caches whole translation pages instead
// (a departure from MQSim, see docs/ssdsim.md).
#include <algorithm>

#include "sim.h"

namespace ssdsim {

namespace {
inline uint32_t popcount(uint64_t x) { return static_cast<uint32_t>(__builtin_popcountll(x)); }
}  // namespace

void Sim::dispatch(uint32_t head) {
  std::vector<uint32_t>& batch = dispatchBatch_;
  batch.clear();
  for (uint32_t t = head; t != kNone;) {
    const uint32_t nx = txs_[t].next;
    txs_[t].next = kNone;
    batch.push_back(t);
    t = nx;
  }
  for (uint32_t t : batch) queryCmt(t);
  gcChecks();
  for (uint32_t t : batch) {
    Tx& x = txs_[t];
    if (x.determined == 2) {  // a never-written page read as zeroes (departure option): no flash access
      serviced(t);
      continue;
    }
    if (!x.determined) continue;
    submitTx(t);
    if (x.kind == T_WRITE && x.related != kNone) submitTx(x.related);
  }
  scheduleFlash();
}

void Sim::cmtEvictIfFull() {
  if (cmtUsed_ < cmtCap_) return;
  const uint32_t s = cTail_;
  // MQSim evicts the least recently used slot whatever its state.
  if (cPrev_[s] != kNone)
    cNext_[cPrev_[s]] = kNone;
  else
    cHead_ = kNone;
  cTail_ = cPrev_[s];
  cmtSlotOf_.erase(cKey_[s]);
  cmtFree_.push_back(s);
  cmtUsed_--;
  if (cDirty_[s]) mappingWriteback(cKey_[s]);
}

void Sim::cmtReserve(uint32_t key, bool valid) {
  if (const uint32_t* e = cmtSlotOf_.find(key)) {  // (MQSim would stop on a duplicate; keep the slot)
    if (valid) cValid_[*e] = 1;
    return;
  }
  cmtEvictIfFull();
  uint32_t s;
  if (!cmtFree_.empty()) {
    s = cmtFree_.back();
    cmtFree_.pop_back();
  } else {
    s = static_cast<uint32_t>(cKey_.size());
    cKey_.push_back(kNone);
    cPrev_.push_back(kNone);
    cNext_.push_back(kNone);
    cValid_.push_back(0);
    cDirty_.push_back(0);
  }
  cKey_[s] = key;
  cValid_[s] = valid ? 1 : 0;
  cDirty_[s] = 0;
  cPrev_[s] = kNone;
  cNext_[s] = cHead_;
  if (cHead_ != kNone)
    cPrev_[cHead_] = s;
  else
    cTail_ = s;
  cHead_ = s;
  cmtSlotOf_[key] = s;
  cmtUsed_++;
}

// A dirty entry left the CMT: MQSim merges it into its translation page.
void Sim::mappingWriteback(uint32_t key) {
  const uint32_t mvpn = cfg_.cmtPerTranslationPage ? key : mvpnOf(key);
  uint32_t readBytes = 0;
  if (!cfg_.cmtPerTranslationPage) {
    // The clean entries of the translation page still cached are read back (one sector per
    // distinct sector they occupy); dirty ones are written and become clean.
    uint64_t sectors = 0;
    const uint32_t first = mvpn * entriesPerTp_;
    for (uint32_t i = 0; i < entriesPerTp_; i++) {
      const uint32_t* s = cmtSlotOf_.find(first + i);
      if (!s || !cValid_[*s]) continue;
      if (cDirty_[*s]) {
        cDirty_[*s] = 0;
        continue;
      }
      const uint32_t bit = (i * gtdEntryBytes_) / 512;
      if (bit < 64 && !(sectors >> bit & 1)) {
        sectors |= 1ULL << bit;
        readBytes += 512;
      }
    }
  }
  if (mvpn < transPages_ && !cfg_.cmtPerTranslationPage) {
    const uint32_t t = newTx(T_READ, SRC_MAPPING, mvpn, readBytes);
    Tx& x = txs_[t];
    x.plane = ftl_.planeOf(mvpn);
    x.page = (mvpn / ftl_.planes()) % ftl_.pagesPerBlock();
    x.related = 1;  // a merge read: its program never runs
    arrivingPush(mvpn, key);
    st_.mappingReads++;
    submitTx(t);
  }
  departing_[mvpn] = 1;
  st_.mappingPrograms++;
}

void Sim::arrivingPush(uint32_t mvpn, uint32_t key) {
  uint32_t node;
  if (!akFree_.empty()) {
    node = akFree_.back();
    akFree_.pop_back();
    akKey_[node] = key;
    akNext_[node] = kNone;
  } else {
    node = static_cast<uint32_t>(akKey_.size());
    akKey_.push_back(key);
    akNext_.push_back(kNone);
  }
  KeyList& a = arriving_[mvpn];
  if (a.tail == kNone)
    a.head = node;
  else
    akNext_[a.tail] = node;
  a.tail = node;
}

bool Sim::requestMappingEntry(uint32_t key, uint32_t mvpn) {
  if (mvpn >= transPages_) {  // no translation page on flash for it: the entry is created
    cmtReserve(key, true);
    return true;
  }
  if (arriving_.find(mvpn)) {  // its translation page is being read
    const uint32_t* s = cmtSlotOf_.find(key);
    if (s && !cValid_[*s]) return false;
    cmtReserve(key, false);
    arrivingPush(mvpn, key);
    return false;
  }
  if (departing_.find(mvpn)) {  // MQSim keeps departing translation pages in memory
    cmtReserve(key, true);
    return true;
  }
  cmtReserve(key, false);
  arrivingPush(mvpn, key);
  const uint32_t t = newTx(T_READ, SRC_MAPPING, mvpn, 512);
  txs_[t].plane = ftl_.planeOf(mvpn);
  txs_[t].page = (mvpn / ftl_.planes()) % ftl_.pagesPerBlock();
  st_.mappingReads++;
  submitTx(t);
  return false;
}

bool Sim::queryCmt(uint32_t tx) {
  const uint32_t lpn = txs_[tx].lpn, key = cmtKey(lpn);
  st_.cmtLookups++;
  const uint32_t* s = cmtSlotOf_.find(key);
  if (s && cValid_[*s]) {
    st_.cmtHits++;
  } else if (!requestMappingEntry(key, mvpnOf(lpn))) {
    waitForMapping(key, tx, txs_[tx].kind == T_WRITE);
    return false;
  }
  if (translate(tx)) return true;
  waitForPlane(tx);
  return false;
}

bool Sim::translate(uint32_t tx) {
  Tx& x = txs_[tx];
  // Touch the entry (MQSim's Retrieve_ppa). A write held for a full plane may find it evicted meanwhile.
  const uint32_t* sp = cmtSlotOf_.find(cmtKey(x.lpn));
  const uint32_t s = sp ? *sp : kNone;
  if (s != kNone && cHead_ != s) {
    if (cPrev_[s] != kNone) cNext_[cPrev_[s]] = cNext_[s];
    if (cNext_[s] != kNone)
      cPrev_[cNext_[s]] = cPrev_[s];
    else
      cTail_ = cPrev_[s];
    cPrev_[s] = kNone;
    cNext_[s] = cHead_;
    cPrev_[cHead_] = s;
    cHead_ = s;
  }
  if (x.kind == T_READ) {
    uint32_t ppn;
    uint64_t bits;
    if (!ftl_.lookup(x.lpn, ppn, bits)) {
      st_.unmappedReads++;
      if (!cfg_.unwrittenReadsFromFlash) {
        x.determined = 2;
        return true;
      }
      ppn = ftl_.place(x.lpn, x.bitmap, false);
      if (s != kNone) cDirty_[s] = 1;
    }
    setLocation(tx, ppn);
    x.determined = 1;
    st_.flashReads++;
    return true;
  }
  if (ftl_.writesStopped(ftl_.planeOf(x.lpn))) return false;
  uint32_t old;
  uint64_t prev;
  uint64_t bits = x.bitmap;
  if (ftl_.lookup(x.lpn, old, prev)) {
    bits |= prev;
    if ((x.bitmap & prev) != prev) {  // the page holds sectors this write does not cover: read them first
      const uint64_t missing = prev & ~x.bitmap;
      const uint32_t rd = newTx(T_READ, txs_[tx].source, txs_[tx].lpn, popcount(missing) * 512);
      txs_[rd].bitmap = missing;
      txs_[rd].related = tx;
      setLocation(rd, old);
      txs_[tx].related = rd;
      st_.updateReads++;
    }
  }
  const uint32_t ppn = ftl_.place(txs_[tx].lpn, bits, true);
  setLocation(tx, ppn);
  txs_[tx].determined = 1;
  if (s != kNone) cDirty_[s] = 1;
  return true;
}

void Sim::waitForMapping(uint32_t key, uint32_t tx, bool program) {
  KeyList& w = (program ? waitProg_ : waitRead_)[key];
  txs_[tx].next = kNone;
  if (w.tail == kNone)
    w.head = tx;
  else
    txs_[w.tail].next = tx;
  w.tail = tx;
}

void Sim::waitForPlane(uint32_t tx) {
  const uint32_t plane = ftl_.planeOf(txs_[tx].lpn);
  KeyList& w = planeWait_[plane];
  txs_[tx].next = kNone;
  if (w.tail == kNone)
    w.head = tx;
  else
    txs_[w.tail].next = tx;
  w.tail = tx;
  // Nothing will free a block here unless a GC starts now: MQSim would stall (departure, docs/ssdsim.md).
  if (!ftl_.gcRunning(plane)) startGc(plane, true);
}

void Sim::resumePlaneWrites(uint32_t plane) {
  KeyList& w = planeWait_[plane];
  while (w.head != kNone) {
    const uint32_t t = w.head;
    if (!translate(t)) break;
    w.head = txs_[t].next;
    if (w.head == kNone) w.tail = kNone;
    txs_[t].next = kNone;
    submitTx(t);
    if (txs_[t].related != kNone) submitTx(txs_[t].related);
  }
}

// A translation page arrived: its waiting entries become valid and their transactions proceed.
void Sim::mappingReadDone(uint32_t tx) {
  const uint32_t mvpn = txs_[tx].lpn;
  KeyList* a = arriving_.find(mvpn);
  if (!a) return;
  uint32_t node = a->head;
  arriving_.erase(mvpn);
  auto run = [&](FlatMap<KeyList>& waits, uint32_t key) {
    KeyList* w = waits.find(key);
    if (!w) return;
    uint32_t t = w->head;
    waits.erase(key);
    while (t != kNone) {
      const uint32_t nx = txs_[t].next;
      txs_[t].next = kNone;
      if (!translate(t)) {
        waitForPlane(t);
      } else if (txs_[t].determined == 2) {
        serviced(t);
      } else {
        submitTx(t);
        if (txs_[t].kind == T_WRITE && txs_[t].related != kNone) submitTx(txs_[t].related);
      }
      t = nx;
    }
  };
  while (node != kNone) {
    const uint32_t key = akKey_[node], nx = akNext_[node];
    akFree_.push_back(node);
    const uint32_t* s = cmtSlotOf_.find(key);
    if (s && !cValid_[*s]) {
      cValid_[*s] = 1;
      run(waitRead_, key);
      run(waitProg_, key);
    }
    node = nx;
  }
  gcChecks();
  scheduleFlash();
}

}  // namespace ssdsim
