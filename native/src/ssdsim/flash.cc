// Flash transactions, their scheduling and the ONFI bus, as MQSim's
// TSU_Priority_OutOfOrder and NVM_PHY_ONFI_NVDDR2 run them:
// - each chip has queues (mapping reads, user reads, urgent and normal user
//   writes, GC reads, GC writes, GC erases); reads go before writes, writes
//   before erases; with non-preemptible GC the GC queues go first;
// - a command goes to a chip only when the chip is idle and its channel is
//   free, so one die per chip works at a time (MQSim's TSU never interleaves
//   dies); it takes the transactions of one die, one per plane, on the same
//   page index (multi-plane), from the head of the chosen queue;
// - the channel carries the command (and program data) and, after tR, each
//   page's read data; a freed channel first serves waiting copyback
//   programs, then read data (mapping, user, GC), then looks for a new
//   command over its chips round-robin;
// - GC starts when a frontier block is replaced and the pool is low; its
//   reads, programs and erase are ordinary transactions.
// With dieInterleaving the unit of exclusion is a die instead of a chip
// (a departure from MQSim, see docs/ssdsim.md).
#include <algorithm>

#include "sim.h"

namespace ssdsim {

namespace {
// The ready/busy signal of a read reaches the controller this long after tR (MQSim's Flash_Chip default).
constexpr uint64_t kReadyDelayReadNs = 20;
}  // namespace

uint32_t Sim::newTx(uint8_t kind, uint8_t source, uint32_t lpn, uint32_t bytes) {
  const uint32_t id = txs_.alloc();
  Tx& x = txs_[id];
  x.kind = kind;
  x.source = source;
  x.lpn = lpn;
  x.bytes = bytes;
  x.plane = x.page = x.ppn = x.req = x.related = x.next = x.prev = kNone;
  return id;
}

void Sim::setLocation(uint32_t tx, uint32_t ppn) {
  Tx& x = txs_[tx];
  x.ppn = ppn;
  x.plane = ppn / ftl_.pagesPerPlane();
  x.page = ppn % ftl_.pagesPerBlock();
}

// ---- intrusive lists -------------------------------------------------------------------

void Sim::listPush(List& l, uint32_t tx, uint32_t Tx::*next, uint32_t Tx::*prev) {
  txs_[tx].*next = kNone;
  txs_[tx].*prev = l.tail;
  if (l.tail != kNone)
    txs_[l.tail].*next = tx;
  else
    l.head = tx;
  l.tail = tx;
  l.size++;
}

void Sim::listRemove(List& l, uint32_t tx, uint32_t Tx::*next, uint32_t Tx::*prev) {
  Tx& x = txs_[tx];
  if (x.*prev != kNone)
    txs_[x.*prev].*next = x.*next;
  else
    l.head = x.*next;
  if (x.*next != kNone)
    txs_[x.*next].*prev = x.*prev;
  else
    l.tail = x.*prev;
  x.*next = x.*prev = kNone;
  l.size--;
}

uint32_t Sim::listPop(List& l) {
  const uint32_t t = l.head;
  listRemove(l, t);
  return t;
}

// ---- unit queues and their index -----------------------------------------------------------

// A unit's queues get an index when they hold more than this many transactions. Below it a command's walk
// visits at most this many; above it, building the index costs what the transactions already queued cost.
constexpr uint32_t kIndexFrom = 64;

// A transaction joins its unit's queue and, when the unit is indexed, the index's die and (plane, page)
// lists, all in queue order.
void Sim::enqueue(uint32_t u, Queue q, uint32_t tx) {
  Unit& un = units_[u];
  listPush(un.q[q], tx);
  un.queued++;
  if (un.indexed) {
    indexAdd(q, tx);
  } else if (un.queued > kIndexFrom) {
    un.indexed = true;
    for (uint8_t k = 0; k < Q_COUNT; k++)
      for (uint32_t t = un.q[k].head; t != kNone; t = txs_[t].next) indexAdd(static_cast<Queue>(k), t);
  }
}

void Sim::indexAdd(Queue q, uint32_t tx) {
  Tx& x = txs_[tx];
  x.queued = enqueued_++;  // (a unit is indexed in queue order, so this is its order within its queue)
  listPush(dieList(q, x.plane / planesPerDie_), tx, &Tx::dieNext, &Tx::diePrev);
  if (planesPerDie_ > 1) listPush(pageLists_[q][pageKey(x.plane, x.page)], tx, &Tx::pageNext, &Tx::pagePrev);  // (one plane: nothing to pair)
}

// Leaves the queue and the index (issue() counts the unit's transactions down).
void Sim::dequeue(uint32_t u, Queue q, uint32_t tx) {
  Unit& un = units_[u];
  listRemove(un.q[q], tx);
  if (!un.indexed) return;
  const Tx& x = txs_[tx];
  listRemove(dieList(q, x.plane / planesPerDie_), tx, &Tx::dieNext, &Tx::diePrev);
  if (planesPerDie_ == 1) return;
  const uint32_t key = pageKey(x.plane, x.page);
  List& l = *pageLists_[q].find(key);
  listRemove(l, tx, &Tx::pageNext, &Tx::pagePrev);
  if (l.size == 0) pageLists_[q].erase(key);
}

// ---- scheduling (TSU) ------------------------------------------------------------------

void Sim::scheduleFlash() {
  if (receive_.empty()) return;
  for (const uint32_t t : receive_) {
    const Tx& x = txs_[t];
    Queue q;
    if (x.kind == T_READ)
      q = x.source == SRC_MAPPING ? Q_MAP_READ : x.source == SRC_GC ? Q_GC_READ : Q_USER_READ;
    else if (x.kind == T_WRITE)
      q = x.source == SRC_GC ? Q_GC_WRITE : x.urgent ? Q_USER_WRITE_URGENT : Q_USER_WRITE;
    else
      q = Q_GC_ERASE;
    enqueue(unitOf(x.plane), q, t);
    chans_[channelOfUnit(unitOf(x.plane))].queued++;
  }
  // MQSim's Schedule() tries every idle channel. Only those that just received
  // work can start something: any other idle channel has already been tried
  // since its last change (every change of a chip's or channel's state ends in
  // a try on that channel), so trying it again would find nothing.
  touched_.clear();
  for (const uint32_t t : receive_) touched_.push_back(channelOfUnit(unitOf(txs_[t].plane)));
  receive_.clear();
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (const uint32_t ch : touched_)
    if (!chans_[ch].busy) channelIdle(ch);
}

// A free channel looks for work over its chips, round-robin (MQSim's
// handle_channel_idle_signal). A chip that is busy or has nothing queued
// cannot take a command, so it is passed over without being asked (the
// round-robin position moves on exactly as MQSim's does).
void Sim::channelIdle(uint32_t ch) {
  Channel& c = chans_[ch];
  if (c.queued == 0) return;  // a full round that issues nothing leaves the position where it was
  const uint32_t base = ch * unitsPerChannel_;
  for (uint32_t i = 0; i < unitsPerChannel_; i++) {
    const Unit& un = units_[base + c.rr];
    if (un.queued && un.status == U_IDLE) processUnit(base + c.rr);
    if (++c.rr == unitsPerChannel_) c.rr = 0;
    if (c.busy) break;
  }
}

void Sim::processUnit(uint32_t u) {
  if (!serviceRead(u))
    if (!serviceWrite(u)) serviceErase(u);
}

bool Sim::gcUrgent(uint32_t u) const {
  if (!cfg_.preemptibleGc) return true;  // non-preemptible GC always goes first
  const uint32_t perChip = cfg_.planesPerDie * cfg_.diesPerChip;
  const uint32_t first = (u * planesPerUnit_) / perChip * perChip;
  for (uint32_t p = first; p < first + perChip; p++)
    if (ftl_.urgent(p)) return true;
  return false;
}

bool Sim::ready(uint32_t tx) const {
  const Tx& x = txs_[tx];
  if (x.kind == T_WRITE) return x.related == kNone;
  if (x.kind == T_ERASE) return x.pending == 0;
  return true;
}

bool Sim::serviceRead(uint32_t u) {
  Unit& un = units_[u];
  List* q1 = nullptr;
  List* q2 = nullptr;
  List& user = un.q[Q_USER_READ];
  List* nextRead = user.size ? &user : nullptr;
  const bool anyWrite = un.q[Q_USER_WRITE_URGENT].size || un.q[Q_USER_WRITE].size;
  const bool urgent = gcUrgent(u);
  if (un.q[Q_MAP_READ].size) {  // mapping reads first
    q1 = &un.q[Q_MAP_READ];
    q2 = urgent && un.q[Q_GC_READ].size ? &un.q[Q_GC_READ] : nextRead;
  } else if (urgent) {
    if (un.q[Q_GC_READ].size) {
      q1 = &un.q[Q_GC_READ];
      q2 = nextRead;
    } else if (un.q[Q_GC_WRITE].size || un.q[Q_GC_ERASE].size) {
      return false;
    } else if (!(q1 = nextRead)) {
      return false;
    }
  } else {
    if ((q1 = nextRead)) {
      if (un.q[Q_GC_READ].size) q2 = &un.q[Q_GC_READ];
    } else if (anyWrite) {
      return false;
    } else if (un.q[Q_GC_READ].size) {
      q1 = &un.q[Q_GC_READ];
    } else {
      return false;
    }
  }
  if (un.status != U_IDLE) return false;  // MQSim's suspension paths all end here too
  issue(u, q1, q2, T_READ);
  return true;
}

bool Sim::serviceWrite(uint32_t u) {
  Unit& un = units_[u];
  List* q1 = nullptr;
  List* q2 = nullptr;
  List* nextWrite = un.q[Q_USER_WRITE_URGENT].size ? &un.q[Q_USER_WRITE_URGENT] : un.q[Q_USER_WRITE].size ? &un.q[Q_USER_WRITE] : nullptr;
  if (gcUrgent(u)) {
    if (un.q[Q_GC_WRITE].size) {
      q1 = &un.q[Q_GC_WRITE];
      q2 = nextWrite;
    } else if (un.q[Q_GC_ERASE].size) {
      return false;
    } else if (!(q1 = nextWrite)) {
      return false;
    }
  } else {
    if ((q1 = nextWrite)) {
      if (un.q[Q_GC_WRITE].size) q2 = &un.q[Q_GC_WRITE];
    } else if (un.q[Q_GC_WRITE].size) {
      q1 = &un.q[Q_GC_WRITE];
    } else {
      return false;
    }
  }
  if (un.status != U_IDLE) return false;
  issue(u, q1, q2, T_WRITE);
  return true;
}

bool Sim::serviceErase(uint32_t u) {
  Unit& un = units_[u];
  if (un.status != U_IDLE || !un.q[Q_GC_ERASE].size) return false;
  issue(u, &un.q[Q_GC_ERASE], nullptr, T_ERASE);
  return true;
}

// MQSim's issue_command_to_chip: the die and page index of the first queue's
// head; at most one ready transaction per plane of that die, on that page
// index once one is taken. MQSim walks each queue whole, and so does a unit
// with short queues; an indexed unit gives the same choice while visiting only
// transactions that can join: the first taken is the first ready one of the
// die (any page index), then each free plane takes its first ready one on the
// head's page index. A queue's picks go into the command in queue order, as
// the walk takes them.
void Sim::issue(uint32_t u, List* q1, List* q2, uint8_t op) {
  Unit& un = units_[u];
  const Tx& front = txs_[q1->head];
  const uint32_t die = front.plane / planesPerDie_, page = front.page;
  uint32_t planes = 0, n = 0;
  uint64_t visits = 0;
  uint32_t* b = &batch_[static_cast<size_t>(u) * planesPerDie_];
  auto scan = [&](List& q) {  // (an unindexed unit: its queues are short)
    for (uint32_t t = q.head; t != kNone && n < planesPerDie_;) {
      const uint32_t nx = txs_[t].next;
      visits++;
      const Tx& x = txs_[t];
      const uint32_t bit = 1u << (x.plane % planesPerDie_);
      if (x.plane / planesPerDie_ == die && !(planes & bit) && (planes == 0 || x.page == page) && ready(t)) {
        planes |= bit;
        listRemove(q, t);
        b[n++] = t;
      }
      t = nx;
    }
  };
  auto firstReady = [&](uint32_t t, uint32_t Tx::*next) {
    for (; t != kNone; t = txs_[t].*next) {
      visits++;
      if (ready(t)) return t;
    }
    return kNone;
  };
  auto take = [&](List& ql) {
    if (!un.indexed) return scan(ql);
    const Queue q = static_cast<Queue>(&ql - un.q);
    const uint32_t from = n;
    if (planes == 0) {
      const uint32_t t = firstReady(dieList(q, die).head, &Tx::dieNext);
      if (t == kNone) return;
      planes = 1u << (txs_[t].plane % planesPerDie_);
      b[n++] = t;
    }
    for (uint32_t p = die * planesPerDie_; p < (die + 1) * planesPerDie_; p++) {
      const uint32_t bit = 1u << (p % planesPerDie_);
      if (planes & bit) continue;
      const List* l = pageLists_[q].find(pageKey(p, page));
      const uint32_t t = l ? firstReady(l->head, &Tx::pageNext) : kNone;
      if (t == kNone) continue;
      planes |= bit;
      b[n++] = t;
    }
    for (uint32_t i = from + 1; i < n; i++)  // queue order (insertion sort: a few at most)
      for (uint32_t j = i; j > from && txs_[b[j]].queued < txs_[b[j - 1]].queued; j--) std::swap(b[j], b[j - 1]);
    for (uint32_t i = from; i < n; i++) dequeue(u, q, b[i]);
  };
  take(*q1);
  if (q2 && n < planesPerDie_) take(*q2);
  st_.schedulerVisits += visits;
  if (n == 0) return;  // nothing ready on that die (MQSim reports the chip served all the same)
  un.queued -= n;
  if (un.queued == 0) un.indexed = false;  // (its index lists are empty)
  chans_[channelOfUnit(u)].queued -= n;
  un.n = n;
  un.op = op;
  sendCommand(u);
}

void Sim::setChannelBusy(uint32_t ch, bool busy) {
  Channel& c = chans_[ch];
  if (busy && !c.busy) c.busyFrom = now_;
  if (!busy && c.busy) c.busyNs += now_ - c.busyFrom;
  c.busy = busy;
}

void Sim::setUnitIdle(uint32_t u) {
  Unit& un = units_[u];
  if (un.status != U_IDLE) un.busyNs += now_ - un.busyFrom;
  un.status = U_IDLE;
}

void Sim::sendCommand(uint32_t u) {
  Unit& un = units_[u];
  const uint32_t ch = channelOfUnit(u);
  const uint32_t* b = &batch_[static_cast<size_t>(u) * planesPerDie_];
  st_.flashCommands++;
  if (un.n > 1) st_.multiPlaneCommands++;
  if (un.status == U_IDLE) un.busyFrom = now_;
  uint64_t dur;
  if (un.op == T_READ) {
    dur = readCmdNs_[un.n];
    un.status = U_CMD_IN;
    un.phase = P_READ_CMD;
  } else if (un.op == T_WRITE && txs_[b[0]].copyback) {
    dur = readCmdNs_[un.n];
    un.status = U_CMD_IN;
    un.phase = P_CB_READ_CMD;
  } else if (un.op == T_WRITE) {
    dur = progCmdNs_[un.n];
    for (uint32_t i = 0; i < un.n; i++) dur += (txs_[b[i]].bytes / cfg_.channelWidthBytes / 2) * twoUnitNs_;
    un.status = U_CMD_DATA_IN;
    un.phase = P_PROG_CMD;
  } else {
    dur = eraseCmdNs_[un.n];
    un.status = U_CMD_IN;
    un.phase = P_ERASE_CMD;
  }
  setChannelBusy(ch, true);
  schedule(now_ + dur, EV_CHAN, u);
}

void Sim::startDataOut(uint32_t u, uint32_t tx) {
  Unit& un = units_[u];
  un.status = U_DATA_OUT;
  un.phase = P_DATA_OUT;
  un.transfer = tx;
  setChannelBusy(channelOfUnit(u), true);
  schedule(now_ + (txs_[tx].bytes / cfg_.channelWidthBytes / 2) * twoUnitNs_, EV_CHAN, u);
}

// The bus became free (the tail of MQSim's NVM_PHY_ONFI_NVDDR2::Execute_simulator_event).
void Sim::releaseChannel(uint32_t ch) {
  setChannelBusy(ch, false);
  Channel& c = chans_[ch];
  if (!c.waitCopyback.empty()) {
    const uint32_t u = c.waitCopyback.front();
    c.waitCopyback.erase(c.waitCopyback.begin());
    Unit& un = units_[u];
    un.status = U_CMD_IN;
    un.phase = P_CB_PROG_CMD;
    setChannelBusy(ch, true);
    schedule(now_ + progCmdNs_[un.n], EV_CHAN, u);
    return;
  }
  for (List* l : {&c.waitMapping, &c.waitUser, &c.waitGc}) {
    if (l->size) {
      const uint32_t t = listPop(*l);
      startDataOut(unitOf(txs_[t].plane), t);
      return;
    }
  }
  channelIdle(ch);
}

// A transfer on the channel ended: a command (with program data), or one page of read data.
void Sim::onChan(uint32_t u) {
  Unit& un = units_[u];
  const uint32_t ch = channelOfUnit(u);
  switch (un.phase) {
    case P_READ_CMD:
    case P_CB_READ_CMD:
      un.status = U_READING;
      un.phase = un.phase == P_READ_CMD ? P_READ_EXEC : P_CB_READ_EXEC;
      schedule(now_ + cfg_.readNs + kReadyDelayReadNs, EV_UNIT, u);
      releaseChannel(ch);
      break;
    case P_PROG_CMD:
    case P_CB_PROG_CMD:
      un.status = U_WRITING;
      un.phase = un.phase == P_PROG_CMD ? P_PROG_EXEC : P_CB_PROG_EXEC;
      schedule(now_ + cfg_.programNs, EV_UNIT, u);
      releaseChannel(ch);
      break;
    case P_ERASE_CMD:
      un.status = U_ERASING;
      un.phase = P_ERASE_EXEC;
      schedule(now_ + cfg_.eraseNs, EV_UNIT, u);
      releaseChannel(ch);
      break;
    case P_DATA_OUT: {
      const uint32_t t = un.transfer;
      un.transfer = kNone;
      un.phase = P_NONE;
      serviced(t);  // (the channel is still busy while the data is consumed)
      if (--un.waitingReads == 0)
        setUnitIdle(u);
      else
        un.status = U_WAIT_DATA_OUT;
      releaseChannel(ch);
      break;
    }
    default:
      break;
  }
}

// The chip finished executing a command (tR, tPROG or tBERS).
void Sim::onUnit(uint32_t u) {
  Unit& un = units_[u];
  const uint32_t ch = channelOfUnit(u);
  uint32_t ids[16];
  const uint32_t n = un.n;
  std::copy_n(&batch_[static_cast<size_t>(u) * planesPerDie_], n, ids);
  switch (un.phase) {
    case P_READ_EXEC: {
      un.status = U_WAIT_DATA_OUT;
      un.phase = P_NONE;
      un.n = 0;
      Channel& c = chans_[ch];
      for (uint32_t i = 0; i < n; i++) {
        un.waitingReads++;
        if (!c.busy) {
          startDataOut(u, ids[i]);
        } else {
          const uint8_t src = txs_[ids[i]].source;
          listPush(src == SRC_MAPPING ? c.waitMapping : src == SRC_GC ? c.waitGc : c.waitUser, ids[i]);
        }
      }
      if (!c.busy) channelIdle(ch);
      break;
    }
    case P_CB_READ_EXEC: {
      Channel& c = chans_[ch];
      un.status = U_COPYBACK_WAIT;
      if (!c.busy) {
        un.status = U_CMD_IN;
        un.phase = P_CB_PROG_CMD;
        setChannelBusy(ch, true);
        schedule(now_ + progCmdNs_[un.n], EV_CHAN, u);
      } else {
        c.waitCopyback.push_back(u);
      }
      break;
    }
    default: {  // program, copyback program or erase done
      un.phase = P_NONE;
      un.n = 0;
      for (uint32_t i = 0; i < n; i++) serviced(ids[i]);  // (the chip is still busy while they are consumed)
      if (units_[u].waitingReads == 0) setUnitIdle(u);
      if (!chans_[ch].busy) channelIdle(ch);
      break;
    }
  }
}

// ---- completions --------------------------------------------------------------------------

void Sim::serviced(uint32_t tx) {
  Tx& x = txs_[tx];
  switch (x.source) {
    case SRC_USER:
    case SRC_CACHE:
      if (x.kind == T_READ) {
        if (x.req == kNone) {  // an update read: its write may go now
          txs_[x.related].related = kNone;
          freeTx(tx);
          return;
        }
        const uint32_t r = x.req;
        freeTx(tx);
        reqs_[r].pendingTx--;
        if (requestDone(r)) requestServiced(r);
        return;
      }
      if (cacheCap_) {
        cacheWriteServiced(tx);
        freeTx(tx);
        return;
      }
      {
        const uint32_t r = x.req;
        freeTx(tx);
        if (r != kNone) {
          reqs_[r].pendingTx--;
          if (requestDone(r)) requestServiced(r);
        }
      }
      return;
    case SRC_MAPPING:
      mappingReadDone(tx);
      freeTx(tx);
      return;
    case SRC_GC:
      if (x.kind == T_READ) {  // the page is in the controller: program it at its new place
        const uint32_t w = newTx(T_WRITE, SRC_GC, txs_[tx].lpn, txs_[tx].bytes);
        setLocation(w, txs_[tx].req);
        txs_[w].related = kNone;
        txs_[w].pending = txs_[tx].related;  // the erase this move belongs to
        freeTx(tx);
        submitTx(w);
        scheduleFlash();
        return;
      }
      if (x.kind == T_WRITE) {
        txs_[x.pending].pending--;
        freeTx(tx);
        return;
      }
      {
        const uint32_t plane = x.plane, block = x.ppn;
        freeTx(tx);
        ftl_.finishErase(plane, block);
        resumePlaneWrites(plane);
        // MQSim checks GC again while the plane stays short of blocks; with writes held
        // there, a useless victim would stall them for good, so GREEDY stands in (departure).
        if (ftl_.writesStopped(plane)) startGc(plane, planeWait_[plane].head != kNone);
        gcChecks();
        scheduleFlash();
      }
      return;
  }
}

void Sim::gcChecks() {
  std::vector<uint32_t>& pending = ftl_.gcChecks();
  for (size_t i = 0; i < pending.size(); i++) startGc(pending[i]);
  pending.clear();
}

void Sim::startGc(uint32_t plane, bool greedyFallback) {
  uint32_t victim;
  if (!ftl_.startGc(plane, victim, moves_, greedyFallback)) return;
  const uint32_t e = newTx(T_ERASE, SRC_GC, kNone, 0);
  txs_[e].plane = plane;
  txs_[e].ppn = victim;  // the block
  txs_[e].page = 0;
  txs_[e].pending = static_cast<uint32_t>(moves_.size());
  for (const GcMove& m : moves_) {
    if (cfg_.copyback) {
      const uint32_t w = newTx(T_WRITE, SRC_GC, m.lpn, cfg_.pageBytes);
      setLocation(w, m.from);
      txs_[w].copyback = 1;
      txs_[w].pending = e;
      submitTx(w);
    } else {
      const uint32_t r = newTx(T_READ, SRC_GC, m.lpn, cfg_.pageBytes);
      setLocation(r, m.from);
      txs_[r].req = m.to;
      txs_[r].related = e;
      submitTx(r);
    }
  }
  submitTx(e);
}

}  // namespace ssdsim
