// Loader of native/bpf/biotrace.bpf.o: opens the object, sets its device
// filter, loads and attaches the tp_btf programs, and polls the BPF ring
// buffer on a background thread, handing batches of fixed-size records to JS
// through a ThreadSafeFunction. One cleanup path (Shutdown) detaches
// everything, whether JS calls stop(), an error occurs, or the environment is
// torn down at exit.
#include "collector/collector.h"

#ifdef SSDTUNE_HAVE_LIBBPF

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include <atomic>
#include <cstdarg>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../bpf/biotrace.h"

namespace ssdtune {
namespace {

// libbpf reports why a load failed (verifier log, missing BTF) only through
// its print callback: keep the recent lines so the JS error can quote them.
std::mutex g_log_mu;
std::string g_log;

int CaptureLibbpfLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, args);
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log.append(buf);
  if (g_log.size() > 8192) g_log.erase(0, g_log.size() - 8192);
  return n;
}

std::string TakeLog() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::string s;
  s.swap(g_log);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Describe(const std::string& what, int err) {
  std::string msg = what + ": " + strerror(err < 0 ? -err : err);
  std::string log = TakeLog();
  if (!log.empty()) msg += " (libbpf: " + log + ")";
  return msg;
}

// Write one variable of a `const volatile` global into the .rodata image,
// found through the object's BTF (what a generated skeleton does by offset).
bool SetRodataVar(struct btf* btf, std::vector<char>& image, const char* name, const void* value, size_t size) {
  int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0) return false;
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vs = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++, vs++) {
    const struct btf_type* var = btf__type_by_id(btf, vs->type);
    if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0) continue;
    if (vs->size != size || vs->offset + size > image.size()) return false;
    memcpy(image.data() + vs->offset, value, size);
    return true;
  }
  return false;
}

class EbpfSession;
std::mutex g_sessions_mu;
std::set<EbpfSession*> g_sessions;

struct Chunk {
  std::vector<char> data;
};

class EbpfSession : public Napi::ObjectWrap<EbpfSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "EbpfSession",
                       {InstanceMethod("start", &EbpfSession::Start), InstanceMethod("stop", &EbpfSession::Stop),
                        InstanceMethod("stats", &EbpfSession::Stats)});
  }

  // new EbpfSession({ object, dev, sectorLo, sectorHi, ringBytes, slotBits, onRecords })
  explicit EbpfSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EbpfSession>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "EbpfSession: options object expected");
    Napi::Object o = info[0].As<Napi::Object>();
    if (!o.Get("object").IsString()) throw Napi::TypeError::New(env, "EbpfSession: options.object (path) expected");
    if (!o.Get("onRecords").IsFunction()) throw Napi::TypeError::New(env, "EbpfSession: options.onRecords expected");
    object_path_ = o.Get("object").As<Napi::String>().Utf8Value();
    dev_ = o.Has("dev") ? o.Get("dev").ToNumber().Uint32Value() : 0;
    sector_lo_ = o.Has("sectorLo") ? static_cast<uint64_t>(o.Get("sectorLo").ToNumber().DoubleValue()) : 0;
    double hi = o.Has("sectorHi") ? o.Get("sectorHi").ToNumber().DoubleValue() : -1;
    sector_hi_ = hi < 0 ? ~0ULL : static_cast<uint64_t>(hi);
    ring_bytes_ = o.Has("ringBytes") ? o.Get("ringBytes").ToNumber().Uint32Value() : 0;
    if (o.Has("slotBits")) {
      const double b = o.Get("slotBits").ToNumber().DoubleValue();
      if (!(b >= 0 && b <= 20) || b != static_cast<uint32_t>(b)) throw Napi::RangeError::New(env, "EbpfSession: options.slotBits must be an integer in 0..20");
      slot_bits_ = static_cast<uint32_t>(b);
    }
    callback_ = Napi::Persistent(o.Get("onRecords").As<Napi::Function>());
  }

  ~EbpfSession() override { Shutdown(); }

  // Called from the env cleanup hook: the process is exiting.
  void ShutdownAtExit() {
    exiting_ = true;
    Shutdown();
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_) throw Napi::Error::New(env, "EbpfSession already started");
    started_ = true;
    std::string err = Open();
    if (!err.empty()) {
      Shutdown();
      throw Napi::Error::New(env, err);
    }
    // The TSFN delivers chunks to onRecords(buffer); its finalizer signals the
    // end of the stream with onRecords(null) once every queued chunk is out,
    // and only then drops the reference that keeps this object alive (so the
    // finalizer never touches a collected session).
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback_.Value(), "ssdtune-ebpf", 0, 1, this,
                                          [](Napi::Env env, EbpfSession* self) {
                                            if (self->exiting_) return;
                                            try {
                                              if (!self->callback_.IsEmpty()) self->callback_.Value().Call({env.Null()});
                                            } catch (const Napi::Error& e) {
                                              // an exception in onRecords(null) must not abort the process
                                            }
                                            self->Unref();
                                          });
    have_tsfn_ = true;
    running_ = true;
    {
      std::lock_guard<std::mutex> lock(g_sessions_mu);
      g_sessions.insert(this);
    }
    Ref();  // released by the TSFN finalizer above
    thread_ = std::thread([this] { PollLoop(); });
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    uint64_t c[BT_CNT_MAX] = {0};
    if (obj_) ReadCounters(c);
    else memcpy(c, final_counters_, sizeof c);
    s.Set("ringbufFull", Napi::Number::New(env, static_cast<double>(c[BT_CNT_RINGBUF_FULL])));
    s.Set("startMapFull", Napi::Number::New(env, static_cast<double>(c[BT_CNT_START_FULL])));
    s.Set("submitted", Napi::Number::New(env, static_cast<double>(c[BT_CNT_COMPLETED])));
    s.Set("delivered", Napi::Number::New(env, static_cast<double>(delivered_.load())));
    s.Set("running", Napi::Boolean::New(env, running_));
    return s;
  }

  // Returns "" on success, else why it failed (the caller cleans up).
  std::string Open() {
    libbpf_set_print(CaptureLibbpfLog);
    TakeLog();
    obj_ = bpf_object__open_file(object_path_.c_str(), nullptr);
    if (!obj_) {
      int e = errno;
      return Describe("cannot open BPF object " + object_path_, e);
    }
    struct bpf_map* rodata = nullptr;
    struct bpf_map* map;
    bpf_object__for_each_map(map, obj_) {
      const char* name = bpf_map__name(map);
      size_t len = strlen(name);
      if (len >= 7 && strcmp(name + len - 7, ".rodata") == 0) rodata = map;
    }
    if (!rodata) return "BPF object " + object_path_ + " has no .rodata (not built from biotrace.bpf.c?)";
    size_t size = 0;
    const void* init = bpf_map__initial_value(rodata, &size);
    std::vector<char> image(static_cast<const char*>(init), static_cast<const char*>(init) + size);
    struct btf* btf = bpf_object__btf(obj_);
    uint32_t dev = dev_;
    unsigned long long lo = sector_lo_, hi = sector_hi_;
    uint32_t slot_mask = (1u << slot_bits_) - 1;
    if (!btf || !SetRodataVar(btf, image, "target_dev", &dev, sizeof dev) ||
        !SetRodataVar(btf, image, "sector_lo", &lo, sizeof lo) || !SetRodataVar(btf, image, "sector_hi", &hi, sizeof hi) ||
        !SetRodataVar(btf, image, "slot_mask", &slot_mask, sizeof slot_mask))
      return "BPF object " + object_path_ + " lacks the variables target_dev/sector_lo/sector_hi/slot_mask (rebuild: npm run build:native)";
    int err = bpf_map__set_initial_value(rodata, image.data(), image.size());
    if (err) return Describe("cannot set the device filter", err);
    if (ring_bytes_) {
      struct bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
      if (events && (err = bpf_map__set_max_entries(events, ring_bytes_)) != 0)
        return Describe("cannot size the ring buffer", err);
    }
    struct bpf_map* slots = bpf_object__find_map_by_name(obj_, "slots");
    if (!slots || (err = bpf_map__set_max_entries(slots, 1u << slot_bits_)) != 0) return Describe("cannot size the in-flight slot table", slots ? err : -ENOENT);
    err = bpf_object__load(obj_);
    if (err) return Describe("cannot load BPF programs", err);
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      struct bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        int e = errno;
        return Describe(std::string("cannot attach ") + bpf_program__name(prog), e);
      }
      links_.push_back(link);
    }
    counters_fd_ = bpf_object__find_map_fd_by_name(obj_, "counters");
    int events_fd = bpf_object__find_map_fd_by_name(obj_, "events");
    if (events_fd < 0) return "BPF object has no ring buffer map \"events\"";
    rb_ = ring_buffer__new(events_fd, &EbpfSession::OnRecord, this, nullptr);
    if (!rb_) {
      int e = errno;
      return Describe("cannot create the ring buffer reader", e);
    }
    return "";
  }

  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<EbpfSession*>(ctx);
    const char* p = static_cast<const char*>(data);
    self->pending_.insert(self->pending_.end(), p, p + size);
    return 0;
  }

  void Flush() {
    if (pending_.empty() || !have_tsfn_) return;
    auto* chunk = new Chunk{std::move(pending_)};
    pending_.clear();
    size_t n = chunk->data.size() / sizeof(struct biorec);
    napi_status st = tsfn_.NonBlockingCall(chunk, [](Napi::Env env, Napi::Function cb, Chunk* c) {
      if (env == nullptr || cb.IsEmpty()) {
        delete c;
        return;
      }
      size_t len = c->data.size();
      char* ptr = c->data.data();
      auto buf = Napi::Buffer<char>::New(env, ptr, len, [](Napi::Env, char*, Chunk* hint) { delete hint; }, c);
      try {
        cb.Call({buf});
      } catch (const Napi::Error&) {
        // onRecords guards itself (it stops the capture with the error);
        // nothing may escape into the TSFN machinery.
      }
    });
    if (st == napi_ok) delivered_ += n;
    else delete chunk;
  }

  void PollLoop() {
    // 50 ms: short enough that stop() returns promptly and JS sees a steady
    // stream, long enough that an idle capture costs nothing measurable.
    while (running_) {
      int n = ring_buffer__poll(rb_, 50);
      if (n < 0 && n != -EINTR) {
        poll_error_ = n;
        break;
      }
      Flush();
    }
    ring_buffer__consume(rb_);
    Flush();
  }

  void ReadCounters(uint64_t out[BT_CNT_MAX]) {
    if (counters_fd_ < 0) return;
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return;
    std::vector<uint64_t> vals(ncpu);
    for (uint32_t k = 0; k < BT_CNT_MAX; k++) {
      if (bpf_map_lookup_elem(counters_fd_, &k, vals.data()) != 0) continue;
      for (int c = 0; c < ncpu; c++) out[k] += vals[c];
    }
  }

  // The one cleanup path. Detach first so no new records arrive, then let
  // the poll thread drain what is already in the ring buffer.
  void Shutdown() {
    for (auto* l : links_) bpf_link__destroy(l);
    links_.clear();
    if (thread_.joinable()) {
      running_ = false;
      thread_.join();
    }
    running_ = false;
    if (have_tsfn_) {
      have_tsfn_ = false;
      if (exiting_) tsfn_.Abort();
      else tsfn_.Release();
    }
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
    if (obj_) {
      // Keep the last counter values readable after stop.
      ReadCounters(final_counters_);
      bpf_object__close(obj_);
      obj_ = nullptr;
      counters_fd_ = -1;
    }
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    g_sessions.erase(this);
  }

  std::string object_path_;
  uint32_t dev_ = 0;
  uint64_t sector_lo_ = 0, sector_hi_ = ~0ULL;
  uint32_t ring_bytes_ = 0;
  uint32_t slot_bits_ = 16;  // in-flight slot table: 2^slot_bits_ entries (tests use 0 to force the hash fallback)
  Napi::FunctionReference callback_;
  Napi::ThreadSafeFunction tsfn_;
  bool have_tsfn_ = false;
  bool started_ = false;
  bool exiting_ = false;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> delivered_{0};
  int poll_error_ = 0;
  struct bpf_object* obj_ = nullptr;
  std::vector<struct bpf_link*> links_;
  struct ring_buffer* rb_ = nullptr;
  int counters_fd_ = -1;
  uint64_t final_counters_[BT_CNT_MAX] = {0};
  std::vector<char> pending_;
  std::thread thread_;
};

void CleanupAtExit(void*) {
  std::vector<EbpfSession*> all;
  {
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    all.assign(g_sessions.begin(), g_sessions.end());
  }
  for (auto* s : all) s->ShutdownAtExit();
}

}  // namespace

void InitEbpfSession(Napi::Env env, Napi::Object exports) {
  exports.Set("ebpfSupported", Napi::Boolean::New(env, true));
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(libbpf_major_version()) + "." +
                                                          std::to_string(libbpf_minor_version())));
  exports.Set("biorecBytes", Napi::Number::New(env, sizeof(struct biorec)));
  exports.Set("EbpfSession", EbpfSession::Define(env));
  napi_add_env_cleanup_hook(env, CleanupAtExit, nullptr);
}

}  // namespace ssdtune

#else  // built without libbpf: say so, so `ssdtune doctor` can explain

namespace ssdtune {
void InitEbpfSession(Napi::Env env, Napi::Object exports) {
  exports.Set("ebpfSupported", Napi::Boolean::New(env, false));
  exports.Set("ebpfUnsupportedReason",
              Napi::String::New(env, "the addon was built without libbpf (libbpf-dev was not installed at build time)"));
}
}  // namespace ssdtune

#endif
