// io_uring replay loop. One ring, queue_depth slots each with its own
// page-aligned buffer (O_DIRECT needs alignment); closed loop keeps every
// slot busy, timed mode waits for each request's arrival time and only falls
// behind when all slots are busy (as a real device queue would).
#include "replay/replay.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace ssdtune {
namespace replay {

static double NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

static std::string Errno(const std::string& what, int err) { return what + ": " + std::strerror(err); }

void DropCache(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(Errno("open " + path, errno));
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
    // Writes back and invalidates the block device's buffer cache (needs CAP_SYS_ADMIN;
    // fadvise below still drops clean pages without it).
    (void)ioctl(fd, BLKFLSBUF, 0);
  } else {
    fdatasync(fd);
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

namespace {

struct Slot {
  void* buf = nullptr;
  size_t index = 0;  // request index
  double submit_ns = 0;
  bool busy = false;
};

class Ring {
 public:
  explicit Ring(unsigned depth) {
    int rc = io_uring_queue_init(std::max(2u, depth), &ring_, 0);
    if (rc < 0) throw std::runtime_error(Errno("io_uring_queue_init", -rc));
  }
  ~Ring() { io_uring_queue_exit(&ring_); }
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result Run(const Options& opts, const std::vector<Request>& reqs) {
  if (opts.queue_depth < 1 || opts.queue_depth > 4096) throw std::runtime_error("queue depth must be 1..4096");
  bool any_write = false;
  uint32_t max_len = 4096;
  for (const auto& r : reqs) {
    any_write = any_write || r.write;
    max_len = std::max(max_len, r.length);
    if (opts.direct && (r.offset % 512 != 0 || r.length % 512 != 0)) {
      throw std::runtime_error("O_DIRECT needs 512-byte aligned offsets and lengths");
    }
  }
  if (any_write && !opts.allow_write) throw std::runtime_error("the trace has writes but the device is not declared scratch");
  if (opts.drop_cache) DropCache(opts.path);

  int flags = (opts.allow_write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (opts.direct ? O_DIRECT : 0);
  Fd fd(open(opts.path.c_str(), flags));
  if (fd.get() < 0) throw std::runtime_error(Errno("open " + opts.path, errno));

  Ring ring(opts.queue_depth);
  std::vector<Slot> slots(opts.queue_depth);
  const size_t buf_len = (size_t(max_len) + 4095) / 4096 * 4096;
  for (auto& s : slots) {
    if (posix_memalign(&s.buf, 4096, buf_len) != 0) {
      for (auto& t : slots) free(t.buf);
      throw std::runtime_error("out of memory for I/O buffers");
    }
    std::memset(s.buf, 0x5a, buf_len);  // written data on scratch devices
  }

  Result res;
  res.latency_ns.assign(reqs.size(), 0.0);
  std::vector<size_t> free_slots;
  for (size_t i = slots.size(); i-- > 0;) free_slots.push_back(i);
  size_t next = 0, in_flight = 0;
  const double start = NowNs();

  auto reap = [&](io_uring_cqe* cqe) {
    Slot& s = slots[size_t(io_uring_cqe_get_data64(cqe))];
    const double now = NowNs();
    res.latency_ns[s.index] = now - s.submit_ns;
    if (cqe->res < 0) {
      if (res.errors++ == 0) res.first_error = Errno("request " + std::to_string(s.index), -cqe->res);
    } else {
      res.bytes += uint64_t(cqe->res);
      res.completed++;
    }
    io_uring_cqe_seen(ring.get(), cqe);
    s.busy = false;
    free_slots.push_back(size_t(&s - slots.data()));
    in_flight--;
  };

  try {
    while (next < reqs.size() || in_flight > 0) {
      // Submit everything that is due and has a slot.
      unsigned queued = 0;
      double wait_until = -1;
      while (next < reqs.size() && !free_slots.empty()) {
        if (opts.timed) {
          const double due = start + reqs[next].time_ns * opts.time_scale;
          if (NowNs() < due) {
            wait_until = due;
            break;
          }
        }
        const size_t si = free_slots.back();
        free_slots.pop_back();
        Slot& s = slots[si];
        const Request& r = reqs[next];
        io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
        if (!sqe) {
          free_slots.push_back(si);
          break;
        }
        if (r.write)
          io_uring_prep_write(sqe, fd.get(), s.buf, r.length, r.offset);
        else
          io_uring_prep_read(sqe, fd.get(), s.buf, r.length, r.offset);
        io_uring_sqe_set_data64(sqe, si);
        s.busy = true;
        s.index = next++;
        s.submit_ns = NowNs();
        in_flight++;
        queued++;
      }
      if (queued) {
        int rc = io_uring_submit(ring.get());
        if (rc < 0) throw std::runtime_error(Errno("io_uring_submit", -rc));
      }
      io_uring_cqe* cqe = nullptr;
      if (in_flight > 0 && (free_slots.empty() || wait_until < 0 || next >= reqs.size())) {
        // Nothing more can be submitted now: block for a completion.
        int rc = io_uring_wait_cqe(ring.get(), &cqe);
        if (rc < 0) throw std::runtime_error(Errno("io_uring_wait_cqe", -rc));
        reap(cqe);
      } else if (wait_until >= 0) {
        // Timed mode: wait for a completion or the next arrival, whichever comes first.
        double d = wait_until - NowNs();
        if (d > 0) {
          __kernel_timespec ts{int64_t(d / 1e9), int64_t(std::fmod(d, 1e9))};
          int rc = in_flight > 0 ? io_uring_wait_cqe_timeout(ring.get(), &cqe, &ts) : -ETIME;
          if (rc == 0)
            reap(cqe);
          else if (in_flight == 0) {
            timespec sl{time_t(d / 1e9), long(std::fmod(d, 1e9))};
            nanosleep(&sl, nullptr);
          } else if (rc != -ETIME && rc != -EINTR) {
            throw std::runtime_error(Errno("io_uring_wait_cqe_timeout", -rc));
          }
        }
      }
      // Drain whatever else completed without blocking.
      while (in_flight > 0 && io_uring_peek_cqe(ring.get(), &cqe) == 0 && cqe) reap(cqe);
    }
  } catch (...) {
    // Reap outstanding requests before freeing their buffers.
    while (in_flight > 0) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(ring.get(), &cqe) < 0) break;
      reap(cqe);
    }
    for (auto& s : slots) free(s.buf);
    throw;
  }
  res.elapsed_ns = NowNs() - start;
  for (auto& s : slots) free(s.buf);
  return res;
}

}  // namespace replay
}  // namespace ssdtune
