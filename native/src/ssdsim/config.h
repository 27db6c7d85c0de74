// Configuration of the SSD simulator. Plain structs: the N-API binding fills
// SimConfig from a JS object (validated in TypeScript first, re-checked here
// so a bad config can never corrupt memory).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ssdsim {

enum class GcPolicy : uint8_t { GREEDY, RGA, RANDOM, RANDOM_P, RANDOM_PP, FIFO };
enum class Mode : uint8_t { TRACE, CLOSED };

struct SimConfig {
  // Host interface: NVMe over PCIe, as MQSim models it.
  uint32_t queueDepth = 1024;     // submission/completion queue entries (MQSim's IO_Queue_Depth)
  uint32_t queueFetchSize = 512;  // commands the device works on at once (MQSim's Queue_Fetch_Size)
  uint32_t pcieLanes = 4;
  double pcieLaneGBps = 1.0;  // GB/s per lane
  // DRAM: data cache (write cache, MQSim's ADVANCED manager in WRITE_CACHE mode) and cached mapping table.
  uint64_t dataCacheBytes = 0;
  uint64_t cmtBytes = 0;
  // The DRAM the data cache lives in (MQSim's shipped ssdconfig.xml values).
  uint32_t dramRowBytes = 8192, dramDataRateMTs = 100, dramBurstBytes = 1;
  uint32_t dramTrcdNs = 13, dramTclNs = 13, dramTrpNs = 13;
  // Geometry.
  uint32_t channels = 8, chipsPerChannel = 4, diesPerChip = 2, planesPerDie = 2;
  uint32_t blocksPerPlane = 2048, pagesPerBlock = 256, pageBytes = 8192;
  // Flash timings (ns) and channel.
  uint64_t readNs = 75000, programNs = 750000, eraseNs = 3800000;
  uint32_t channelWidthBytes = 1;
  double channelMTs = 333;  // mega-transfers per second (ONFI NV-DDR2)
  // Static plane allocation: the order in which consecutive logical pages
  // stripe over Channel, Way (chip), Die, Plane; e.g. "CWDP".
  char allocation[4] = {'C', 'W', 'D', 'P'};
  double overProvisioning = 0.07;  // fraction of physical pages not exported
  // GC.
  double gcThreshold = 0.05;       // free-block fraction per plane below which GC runs
  double gcHardThreshold = 0.005;  // below it preemptible GC stops yielding to user I/O
  GcPolicy gcPolicy = GcPolicy::GREEDY;
  bool copyback = false;
  bool preemptibleGc = false;
  // Model choices where ssdsim may depart from MQSim (docs/ssdsim.md,
  // "Departures"). The defaults are MQSim's, so that ranks can be validated.
  bool dieInterleaving = false;         // MQSim: one die per chip busy at a time
  bool unwrittenReadsFromFlash = true;  // MQSim: a read of a never-written page creates a mapping and reads flash
  bool cmtPerTranslationPage = false;   // MQSim: the CMT caches single mapping entries
  // Preconditioning (functional, untimed): fill a fraction of the logical
  // pages, then overwrite `preconditionAge` x logical pages at random. MQSim
  // cannot precondition trace replays, so the default is a fresh drive.
  double preconditionFill = 0.0;
  double preconditionAge = 3.0;
  uint32_t preconditionTemplates = 4;  // planes aged for real; every other plane starts as a copy of one
  // Replay.
  Mode mode = Mode::TRACE;
  uint32_t closedLoopDepth = 32;
  bool lbaModulo = true;  // map out-of-range LBAs modulo the logical space (MQSim folds too) instead of rejecting
  uint64_t seed = 1;
};

// Thrown for configurations the simulator cannot represent; `param` names the field.
struct ConfigError : std::runtime_error {
  std::string param;
  ConfigError(const std::string& p, const std::string& msg) : std::runtime_error(msg), param(p) {}
};

// Thrown when writes can never complete: GC cannot reclaim a block (over-provisioning too small).
struct DeviceFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ssdsim
