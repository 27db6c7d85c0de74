// Replays block requests on a device or file with io_uring (the `live`
// evaluator, docs/tuning.md). Pure C++ (no N-API) so it can run on a worker
// thread; replay_addon.cc wraps it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ssdtune {
namespace replay {

struct Request {
  uint64_t offset;  // bytes, already mapped into the device and aligned
  uint32_t length;  // bytes
  bool write;
  double time_ns;  // arrival time relative to the first request (timed mode)
};

struct Options {
  std::string path;
  bool direct = false;       // O_DIRECT (bypass the page cache, readahead irrelevant)
  bool allow_write = false;  // scratch device: writes permitted
  bool timed = false;        // issue at the trace's arrival times (else closed loop)
  double time_scale = 1.0;   // timed mode: multiply inter-arrival gaps
  unsigned queue_depth = 1;  // in-flight limit (closed loop: always this many)
  bool drop_cache = true;    // flush the device's page cache before starting
};

struct Result {
  double elapsed_ns = 0;
  uint64_t bytes = 0;
  uint64_t completed = 0;
  uint64_t errors = 0;
  std::string first_error;
  std::vector<double> latency_ns;  // per request, in submission order
};

// Throws std::runtime_error on setup failures (open, ring init).
Result Run(const Options& opts, const std::vector<Request>& reqs);

// Drops the page cache of a block device or file: BLKFLSBUF (devices) and
// POSIX_FADV_DONTNEED. Throws on failure to open.
void DropCache(const std::string& path);

}  // namespace replay
}  // namespace ssdtune
