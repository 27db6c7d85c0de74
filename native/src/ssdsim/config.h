// Configuration and results of the SSD simulator. Plain structs: the N-API
// binding fills SimConfig from a JS object (validated in TypeScript first,
// re-checked here so a bad config can never corrupt memory).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ssdsim {

enum class GcPolicy : uint8_t { GREEDY, RGA, RANDOM, RANDOM_P, RANDOM_PP, FIFO };
enum class Mode : uint8_t { TRACE, CLOSED };

struct SimConfig {
  // Host interface (NVMe).
  uint32_t queueDepth = 1024;       // submission-queue slots: requests outstanding in the device
  uint32_t pcieLanes = 4;
  double pcieLaneBytesPerSec = 1e9;  // per lane
  // DRAM.
  uint64_t dataCacheBytes = 0;      // write-back data cache (0 = writes go straight to flash)
  uint64_t cmtBytes = 0;            // cached mapping table: whole translation pages, LRU
  // Geometry.
  uint32_t channels = 8, chipsPerChannel = 4, diesPerChip = 2, planesPerDie = 2;
  uint32_t blocksPerPlane = 2048, pagesPerBlock = 256, pageBytes = 8192;
  // Flash timings (ns) and channel.
  uint64_t readNs = 75000, programNs = 750000, eraseNs = 3800000;
  uint32_t channelWidthBytes = 1;
  double channelMTs = 333;  // mega-transfers per second
  // Static plane allocation: the order in which consecutive logical pages
  // stripe over Channel, Way (chip), Die, Plane; e.g. "CWDP".
  char allocation[4] = {'C', 'W', 'D', 'P'};
  double overProvisioning = 0.07;  // fraction of physical pages not exported
  // GC.
  double gcThreshold = 0.05;      // free-block fraction per plane that triggers GC
  double gcHardThreshold = 0.005; // below it preemptible GC stops yielding to user I/O
  GcPolicy gcPolicy = GcPolicy::GREEDY;
  bool copyback = false;
  bool preemptibleGc = false;
  // Preconditioning (functional, untimed): fill a fraction of the logical
  // pages sequentially, then overwrite `preconditionAge` x logical pages at
  // uniformly random addresses so that the block state is steady (about 3x
  // is needed for GREEDY to settle).
  double preconditionFill = 1.0;
  double preconditionAge = 3.0;
  uint32_t preconditionTemplates = 16;  // planes aged for real; the others copy one (see Ftl::precondition)
  // Replay.
  Mode mode = Mode::TRACE;
  uint32_t closedLoopDepth = 32;
  bool lbaModulo = false;  // map out-of-range LBAs modulo the logical space instead of rejecting
  uint64_t seed = 1;
};

// Thrown for configurations the simulator cannot represent; `param` names the field.
struct ConfigError : std::runtime_error {
  std::string param;
  ConfigError(const std::string& p, const std::string& msg) : std::runtime_error(msg), param(p) {}
};

// Thrown when the FTL cannot find a free page (over-provisioning too small to make GC progress).
struct DeviceFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ssdsim
