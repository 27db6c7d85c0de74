// The ssdtune_uring addon (features/ssdtune_uring.node): the replay loop of
// the live evaluator. replayRun(options) -> Promise<result>, run on a worker
// thread (AsyncWorker) so the event loop stays free while the device is busy;
// replayDropCache(path) is synchronous. liburing is optional: built without
// it, the addon exports only why (src/native.ts reports it).
#include <napi.h>

#include "source_stamp.h"

#ifdef SSDTUNE_HAVE_LIBURING

#include <liburing.h>

#include <stdexcept>
#include <string>

#include "replay/replay.h"

namespace ssdtune {
namespace {

class ReplayWorker : public Napi::AsyncWorker {
 public:
  ReplayWorker(Napi::Env env, replay::Options opts, std::vector<replay::Request> reqs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), opts_(std::move(opts)), reqs_(std::move(reqs)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      res_ = replay::Run(opts_, reqs_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("elapsedNs", Napi::Number::New(env, res_.elapsed_ns));
    o.Set("bytes", Napi::Number::New(env, double(res_.bytes)));
    o.Set("completed", Napi::Number::New(env, double(res_.completed)));
    o.Set("errors", Napi::Number::New(env, double(res_.errors)));
    o.Set("firstError", Napi::String::New(env, res_.first_error));
    Napi::Float64Array lat = Napi::Float64Array::New(env, res_.latency_ns.size());
    std::copy(res_.latency_ns.begin(), res_.latency_ns.end(), lat.Data());
    o.Set("latencyNs", lat);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  replay::Options opts_;
  std::vector<replay::Request> reqs_;
  replay::Result res_;
};

template <typename T>
T TypedArg(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(o.Env(), std::string("replayRun: ") + name + " must be a typed array");
  return v.As<T>();
}

Napi::Value ReplayRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "replayRun(options) expects an object");
  Napi::Object o = info[0].As<Napi::Object>();
  replay::Options opts;
  if (!o.Get("path").IsString()) throw Napi::TypeError::New(env, "replayRun: path must be a string");
  opts.path = o.Get("path").As<Napi::String>().Utf8Value();
  auto flag = [&](const char* k, bool def) {
    Napi::Value v = o.Get(k);
    return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
  };
  auto num = [&](const char* k, double def) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
  };
  opts.direct = flag("direct", false);
  opts.allow_write = flag("allowWrite", false);
  opts.timed = flag("timed", false);
  opts.drop_cache = flag("dropCache", true);
  opts.time_scale = num("timeScale", 1.0);
  opts.queue_depth = unsigned(num("queueDepth", 1));
  auto offsets = TypedArg<Napi::Float64Array>(o, "offsets");
  auto lengths = TypedArg<Napi::Uint32Array>(o, "lengths");
  auto writes = TypedArg<Napi::Uint8Array>(o, "writes");
  auto times = TypedArg<Napi::Float64Array>(o, "timesNs");
  const size_t n = offsets.ElementLength();
  if (lengths.ElementLength() != n || writes.ElementLength() != n || times.ElementLength() != n) {
    throw Napi::RangeError::New(env, "replayRun: offsets, lengths, writes and timesNs must have the same length");
  }
  std::vector<replay::Request> reqs(n);
  for (size_t i = 0; i < n; i++) reqs[i] = {uint64_t(offsets[i]), lengths[i], writes[i] != 0, times[i]};
  auto* w = new ReplayWorker(env, std::move(opts), std::move(reqs));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value ReplayDropCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "replayDropCache(path) expects a string");
  try {
    replay::DropCache(info[0].As<Napi::String>().Utf8Value());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ExportSourceStamp(env, exports);
  exports.Set("available", Napi::Boolean::New(env, true));
#ifdef IO_URING_VERSION_MAJOR  // liburing >= 2.4
  exports.Set("library", Napi::String::New(env, "liburing " + std::to_string(IO_URING_VERSION_MAJOR) + "." + std::to_string(IO_URING_VERSION_MINOR)));
#else
  exports.Set("library", Napi::String::New(env, "liburing (< 2.4)"));
#endif
  exports.Set("replayRun", Napi::Function::New(env, ReplayRun, "replayRun"));
  exports.Set("replayDropCache", Napi::Function::New(env, ReplayDropCache, "replayDropCache"));
  return exports;
}

}  // namespace
}  // namespace ssdtune

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ssdtune::Init(env, exports); }

NODE_API_MODULE(ssdtune_uring, InitAddon)

#else  // built without liburing

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ssdtune::ExportSourceStamp(env, exports);
  exports.Set("available", Napi::Boolean::New(env, false));
  exports.Set("reason", Napi::String::New(env, "the addon was built without liburing (liburing-dev was not installed at build time)"));
  exports.Set("fix", Napi::String::New(env, "apt-get install liburing-dev, then npm run build:native"));
  return exports;
}

NODE_API_MODULE(ssdtune_uring, Init)

#endif
