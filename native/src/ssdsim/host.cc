// Host side and NVMe protocol, as MQSim models them (IO_Flow_Base,
// Host_Interface_NVMe, PCIe_Link): a request enters the submission queue
// when it has room (it holds one entry fewer than its size, and the host
// learns of freed entries from completion entries), the host rings the
// doorbell, the device fetches the command when it works on fewer than
// Queue_Fetch_Size, fetches write data, and returns read data and a
// completion entry. Every message crosses a PCIe link, one FIFO per
// direction, whose transfer time counts TLP framing (128-byte payloads,
// 28 bytes of header and link overhead each).
#include <algorithm>

#include "sim.h"

namespace ssdsim {

namespace {
constexpr uint32_t kSqeBytes = 72;  // sizeof(Submission_Queue_Entry) in MQSim
constexpr uint32_t kCqeBytes = 16;
constexpr uint32_t kDoorbellBytes = 2;
}  // namespace

uint64_t Sim::pcieNs(uint32_t payload, bool readRequest) const {
  const uint32_t lanes = cfg_.pcieLanes;
  if (readRequest) {
    const uint32_t b = pcieOverhead_ + 4;
    return static_cast<uint64_t>(static_cast<double>(b / lanes + (b % lanes ? 1 : 0)) / cfg_.pcieLaneGBps);
  }
  const uint64_t total =
      static_cast<uint64_t>(payload / tlpPayload_) * (tlpPayload_ + pcieOverhead_) + (payload % tlpPayload_ == 0 ? 0 : payload % tlpPayload_ + pcieOverhead_);
  return static_cast<uint64_t>(static_cast<double>(total / lanes + (total % lanes == 0 ? 0 : 1)) / cfg_.pcieLaneGBps);
}

void Sim::send(uint8_t kind, uint32_t req, uint64_t value, uint32_t bytes, bool toDevice, bool readRequest) {
  const uint64_t dur = pcieNs(bytes, readRequest);
  Fifo& link = toDevice ? h2d_ : d2h_;
  // Read data landing in host memory and the completion-queue doorbell change
  // nothing on arrival: they only hold their link, so they need no event.
  if (kind == M_READ_DATA || kind == M_CQ_DOORBELL) {
    link.free = std::max(now_, link.free) + dur;
    link.busyNs += dur;
    return;
  }
  const uint32_t m = msgs_.alloc();
  msgs_[m] = Msg{value, req, kind};
  fifoPush(link, toDevice ? EV_H2D : EV_D2H, dur, m);
}

void Sim::arrive(const InputReq& in, uint64_t arrival) {
  const uint32_t r = reqs_.alloc();
  Req& q = reqs_[r];
  q.arrival = arrival;
  q.sector = in.sector;
  q.sectors = (in.bytes + 511) / 512;
  q.write = in.write;
  if (st_.requests == 0) st_.firstArrivalNs = arrival;
  st_.requests++;
  if (q.write) {
    st_.writes++;
    st_.writeBytes += in.bytes;
  } else {
    st_.reads++;
    st_.readBytes += in.bytes;
  }
  outstanding_++;
  // The submission queue is full when it holds size - 1 entries the host does not know to be fetched.
  if (submitted_ - headKnown_ >= cfg_.queueDepth - 1 || hostWaitHead_ < hostWaiting_.size())
    hostWaiting_.push_back(r);
  else
    submit(r);
}

void Sim::submit(uint32_t r) {
  reqs_[r].enqueue = now_;
  sq_.push_back(r);
  submitted_++;
  send(M_SQ_DOORBELL, r, 0, kDoorbellBytes, true);
}

// The device fetches the command at the head of the submission queue.
void Sim::fetchNext() {
  onTheFly_++;
  const uint32_t r = sq_[devHead_ - sqBase_];
  devHead_++;
  send(M_FETCH_SQE, r, 0, 0, false, true);
  // Entries before the fetch head are no longer needed.
  if (devHead_ - sqBase_ > 4096 && (devHead_ - sqBase_) * 2 > sq_.size()) {
    const size_t drop = static_cast<size_t>(devHead_ - sqBase_);
    sq_.erase(sq_.begin(), sq_.begin() + static_cast<std::ptrdiff_t>(drop));
    sqBase_ += drop;
  }
}

void Sim::onH2D() {
  const uint32_t m = fifoPop(h2d_);
  const Msg msg = msgs_[m];
  msgs_.release(m);
  switch (msg.kind) {
    case M_SQ_DOORBELL:
      devTail_++;
      if (onTheFly_ < cfg_.queueFetchSize) fetchNext();
      break;
    case M_SQE:
      headInformed_++;
      if (reqs_[msg.req].write)
        send(M_FETCH_DATA, msg.req, 0, 0, false, true);  // DMA the write data from host memory
      else
        readArrived(msg.req);
      break;
    case M_WRITE_DATA:
      writeArrived(msg.req);
      break;
    case M_CQ_DOORBELL:
      break;
  }
  fifoNext(h2d_, EV_H2D);
}

void Sim::onD2H() {
  const uint32_t m = fifoPop(d2h_);
  const Msg msg = msgs_[m];
  msgs_.release(m);
  switch (msg.kind) {
    case M_FETCH_SQE:
      send(M_SQE, msg.req, 0, kSqeBytes, true);
      break;
    case M_FETCH_DATA:
      send(M_WRITE_DATA, msg.req, 0, reqs_[msg.req].sectors * 512, true);
      break;
    case M_READ_DATA:
      break;  // lands in host memory; the completion entry follows on the same link
    case M_CQE:
      hostCompletion(msg.req, msg.value);
      break;
  }
  fifoNext(d2h_, EV_D2H);
}

// The device finished a request (MQSim's Handle_serviced_request).
void Sim::requestServiced(uint32_t r) {
  onTheFly_--;
  if (!reqs_[r].write) send(M_READ_DATA, r, 0, reqs_[r].sectors * 512, false);
  if (devHead_ != devTail_) fetchNext();
  send(M_CQE, r, headInformed_, kCqeBytes, false);
}

void Sim::hostCompletion(uint32_t r, uint64_t sqHead) {
  Req& q = reqs_[r];
  const uint64_t lat = now_ - q.arrival;
  (q.write ? writeLat_ : readLat_).add(lat);
  allLat_.add(lat);
  devResp_.add(now_ - q.enqueue);
  st_.lastCompletionNs = std::max(st_.lastCompletionNs, now_);
  completed_++;
  outstanding_--;
  reqs_.release(r);
  // The completion entry tells the host how far the device has fetched.
  headKnown_ = std::max(headKnown_, sqHead);
  while (hostWaitHead_ < hostWaiting_.size() && submitted_ - headKnown_ < cfg_.queueDepth - 1) submit(hostWaiting_[hostWaitHead_++]);
  if (hostWaitHead_ == hostWaiting_.size()) {
    hostWaiting_.clear();
    hostWaitHead_ = 0;
  }
  send(M_CQ_DOORBELL, r, 0, kDoorbellBytes, true);
}

}  // namespace ssdsim
