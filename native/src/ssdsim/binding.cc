// N-API binding of the SSD simulator: class SsdSim { feed(), run() -> Promise,
// cancel(), results() }. run() executes on the libuv thread pool
// (Napi::AsyncWorker), so replays never block the JS thread; feed() copies a
// batch into the simulator's input buffer on the JS thread and may only be
// called while no run() is in flight.
#include <memory>
#include <string>

#include "modules.h"
#include "ssdsim/sim.h"

namespace ssdtune {
namespace {

using ssdsim::ConfigError;
using ssdsim::DeviceFull;
using ssdsim::SimConfig;

Napi::Error codedError(Napi::Env env, const char* code, const std::string& msg, const std::string& param = "") {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  if (!param.empty()) e.Set("param", Napi::String::New(env, param));
  return e;
}

double num(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) throw ConfigError(key, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == d)) throw ConfigError(key, std::string(key) + " must be a number");
  return d;
}

uint32_t u32(const Napi::Object& o, const char* key, uint32_t dflt) {
  double d = num(o, key, dflt);
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw ConfigError(key, std::string(key) + " must be a non-negative integer");
  return static_cast<uint32_t>(d);
}

uint64_t u64(const Napi::Object& o, const char* key, uint64_t dflt) {
  double d = num(o, key, static_cast<double>(dflt));
  if (d < 0 || d > 9007199254740992.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw ConfigError(key, std::string(key) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

bool flag(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsBoolean()) throw ConfigError(key, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string str(const Napi::Object& o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsString()) throw ConfigError(key, std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

SimConfig parseConfig(const Napi::Object& o) {
  SimConfig c;
  c.queueDepth = u32(o, "queueDepth", c.queueDepth);
  c.pcieLanes = u32(o, "pcieLanes", c.pcieLanes);
  c.pcieLaneGBps = num(o, "pcieLaneGBps", c.pcieLaneGBps);
  c.queueFetchSize = u32(o, "queueFetchSize", c.queueFetchSize);
  c.dataCacheBytes = u64(o, "dataCacheBytes", c.dataCacheBytes);
  c.cmtBytes = u64(o, "cmtBytes", c.cmtBytes);
  c.channels = u32(o, "channels", c.channels);
  c.chipsPerChannel = u32(o, "chipsPerChannel", c.chipsPerChannel);
  c.diesPerChip = u32(o, "diesPerChip", c.diesPerChip);
  c.planesPerDie = u32(o, "planesPerDie", c.planesPerDie);
  c.blocksPerPlane = u32(o, "blocksPerPlane", c.blocksPerPlane);
  c.pagesPerBlock = u32(o, "pagesPerBlock", c.pagesPerBlock);
  c.pageBytes = u32(o, "pageBytes", c.pageBytes);
  c.readNs = u64(o, "readLatencyNs", c.readNs);
  c.programNs = u64(o, "programLatencyNs", c.programNs);
  c.eraseNs = u64(o, "eraseLatencyNs", c.eraseNs);
  c.channelWidthBytes = u32(o, "channelWidthBytes", c.channelWidthBytes);
  c.channelMTs = num(o, "channelMTs", c.channelMTs);
  std::string alloc = str(o, "planeAllocation", "CWDP");
  if (alloc.size() != 4) throw ConfigError("planeAllocation", "planeAllocation must be a permutation of C, W, D, P");
  for (int i = 0; i < 4; i++) c.allocation[i] = alloc[i];
  c.overProvisioning = num(o, "overProvisioning", c.overProvisioning);
  c.gcThreshold = num(o, "gcThreshold", c.gcThreshold);
  c.gcHardThreshold = num(o, "gcHardThreshold", c.gcHardThreshold);
  const std::string pol = str(o, "gcPolicy", "GREEDY");
  if (pol == "GREEDY")
    c.gcPolicy = ssdsim::GcPolicy::GREEDY;
  else if (pol == "RGA")
    c.gcPolicy = ssdsim::GcPolicy::RGA;
  else if (pol == "RANDOM")
    c.gcPolicy = ssdsim::GcPolicy::RANDOM;
  else if (pol == "RANDOM_P")
    c.gcPolicy = ssdsim::GcPolicy::RANDOM_P;
  else if (pol == "RANDOM_PP")
    c.gcPolicy = ssdsim::GcPolicy::RANDOM_PP;
  else if (pol == "FIFO")
    c.gcPolicy = ssdsim::GcPolicy::FIFO;
  else
    throw ConfigError("gcPolicy", "gcPolicy must be GREEDY, RGA, RANDOM, RANDOM_P, RANDOM_PP or FIFO");
  c.copyback = flag(o, "copybackGc", c.copyback);
  c.preemptibleGc = flag(o, "preemptibleGc", c.preemptibleGc);
  c.dieInterleaving = flag(o, "dieInterleaving", c.dieInterleaving);
  const std::string unwritten = str(o, "unwrittenReads", "flash");
  if (unwritten != "flash" && unwritten != "zero") throw ConfigError("unwrittenReads", "unwrittenReads must be 'flash' or 'zero'");
  c.unwrittenReadsFromFlash = unwritten == "flash";
  const std::string cmt = str(o, "cmtGranularity", "entry");
  if (cmt != "entry" && cmt != "translation-page") throw ConfigError("cmtGranularity", "cmtGranularity must be 'entry' or 'translation-page'");
  c.cmtPerTranslationPage = cmt == "translation-page";
  c.preconditionFill = num(o, "preconditionFill", c.preconditionFill);
  c.preconditionAge = num(o, "preconditionAge", c.preconditionAge);
  c.preconditionTemplates = u32(o, "preconditionTemplates", c.preconditionTemplates);
  if (c.preconditionTemplates < 1) throw ConfigError("preconditionTemplates", "preconditionTemplates must be at least 1");
  const std::string mode = str(o, "mode", "trace");
  if (mode == "trace")
    c.mode = ssdsim::Mode::TRACE;
  else if (mode == "closed")
    c.mode = ssdsim::Mode::CLOSED;
  else
    throw ConfigError("mode", "mode must be 'trace' or 'closed'");
  c.closedLoopDepth = u32(o, "closedLoopDepth", c.closedLoopDepth);
  const std::string lba = str(o, "lbaPolicy", "modulo");
  if (lba != "reject" && lba != "modulo") throw ConfigError("lbaPolicy", "lbaPolicy must be 'reject' or 'modulo'");
  c.lbaModulo = lba == "modulo";
  c.seed = u64(o, "seed", c.seed);
  return c;
}

class SsdSimWrap : public Napi::ObjectWrap<SsdSimWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "SsdSim",
        {InstanceMethod("feed", &SsdSimWrap::Feed), InstanceMethod("run", &SsdSimWrap::Run), InstanceMethod("cancel", &SsdSimWrap::Cancel),
         InstanceMethod("results", &SsdSimWrap::GetResults), InstanceMethod("close", &SsdSimWrap::Close),
         InstanceAccessor("logicalSectors", &SsdSimWrap::LogicalSectors, nullptr), InstanceAccessor("completed", &SsdSimWrap::Completed, nullptr)});
  }

  explicit SsdSimWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SsdSimWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "SsdSim(config): config object expected");
    try {
      sim_ = std::make_unique<ssdsim::Sim>(parseConfig(info[0].As<Napi::Object>()));
    } catch (const ConfigError& e) {
      throw codedError(env, "SSDSIM_CONFIG", e.what(), e.param);
    } catch (const std::bad_alloc&) {
      throw codedError(env, "SSDSIM_CONFIG", "not enough memory for the device mapping of this configuration", "blocksPerPlane");
    }
  }

  ssdsim::Sim* sim() { return sim_.get(); }
  bool running = false;

 private:
  class RunWorker : public Napi::AsyncWorker {
   public:
    RunWorker(Napi::Env env, SsdSimWrap* owner, bool final)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), final_(final) {
      ref_ = Napi::Persistent(owner->Value());
    }
    Napi::Promise Promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        status_ = owner_->sim()->run(final_);
      } catch (const DeviceFull& e) {
        code_ = "SSDSIM_DEVICE_FULL";
        SetError(e.what());
      } catch (const std::exception& e) {
        code_ = "SSDSIM_INTERNAL";
        SetError(e.what());
      }
    }
    void OnOK() override {
      owner_->running = false;
      Napi::Env env = Env();
      Napi::Object r = Napi::Object::New(env);
      const char* s = status_ == ssdsim::RunStatus::DONE ? "done" : status_ == ssdsim::RunStatus::CANCELLED ? "cancelled" : "need-more";
      r.Set("status", s);
      r.Set("completed", static_cast<double>(owner_->sim()->completed()));
      deferred_.Resolve(r);
      ref_.Reset();
    }
    void OnError(const Napi::Error& e) override {
      owner_->running = false;
      deferred_.Reject(codedError(Env(), code_, e.Message()).Value());
      ref_.Reset();
    }

   private:
    Napi::Promise::Deferred deferred_;
    SsdSimWrap* owner_;
    Napi::ObjectReference ref_;
    bool final_;
    ssdsim::RunStatus status_ = ssdsim::RunStatus::NEED_MORE;
    const char* code_ = "SSDSIM_INTERNAL";
  };

  void busyCheck(Napi::Env env) {
    if (sim_ == nullptr && !running) throw codedError(env, "SSDSIM_BUSY", "the simulator was closed");
    if (running) throw codedError(env, "SSDSIM_BUSY", "the simulator is running: await run() before feeding or running again");
  }

  // feed(timeNs: Float64Array, sector: Float64Array, bytes: Uint32Array, op: Uint16Array)
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    busyCheck(env);
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsTypedArray())
      throw Napi::TypeError::New(env, "feed(timeNs: Float64Array, sector: Float64Array, bytes: Uint32Array, op: Uint16Array)");
    auto t = info[0].As<Napi::TypedArray>();
    auto s = info[1].As<Napi::TypedArray>();
    auto b = info[2].As<Napi::TypedArray>();
    auto o = info[3].As<Napi::TypedArray>();
    if (t.TypedArrayType() != napi_float64_array || s.TypedArrayType() != napi_float64_array || b.TypedArrayType() != napi_uint32_array ||
        o.TypedArrayType() != napi_uint16_array)
      throw Napi::TypeError::New(env, "feed: column types must be Float64Array, Float64Array, Uint32Array, Uint16Array");
    const size_t n = t.ElementLength();
    if (s.ElementLength() != n || b.ElementLength() != n || o.ElementLength() != n) throw Napi::TypeError::New(env, "feed: columns differ in length");
    ssdsim::FeedResult fr =
        sim_->feed(t.As<Napi::Float64Array>().Data(), s.As<Napi::Float64Array>().Data(), b.As<Napi::Uint32Array>().Data(), o.As<Napi::Uint16Array>().Data(), n);
    Napi::Object r = Napi::Object::New(env);
    r.Set("badIndex", static_cast<double>(fr.badIndex));
    r.Set("badLastSector", static_cast<double>(fr.badLastSector));
    r.Set("badSector", fr.badSector);
    return r;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    busyCheck(env);
    bool final = info.Length() > 0 && info[0].ToBoolean().Value();
    running = true;
    auto* w = new RunWorker(env, this, final);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (sim_) sim_->cancel();
    return info.Env().Undefined();
  }

  // Free the device model now: it can be a gigabyte that V8 does not see, so
  // waiting for the wrapper's garbage collection could hold several at once.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    busyCheck(info.Env());
    sim_.reset();
    return info.Env().Undefined();
  }

  void aliveCheck(Napi::Env env) {
    if (!sim_) throw codedError(env, "SSDSIM_BUSY", "the simulator was closed");
  }

  Napi::Value LogicalSectors(const Napi::CallbackInfo& info) {
    aliveCheck(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(sim_->logicalSectors()));
  }
  Napi::Value Completed(const Napi::CallbackInfo& info) {
    aliveCheck(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(sim_->completed()));
  }

  static Napi::Object latency(Napi::Env env, const ssdsim::Histogram& h) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", static_cast<double>(h.count()));
    o.Set("meanNs", h.mean());
    o.Set("sumNs", h.sum());
    o.Set("p50Ns", h.quantile(0.5));
    o.Set("p99Ns", h.quantile(0.99));
    o.Set("p999Ns", h.quantile(0.999));
    o.Set("minNs", static_cast<double>(h.min()));
    o.Set("maxNs", static_cast<double>(h.max()));
    return o;
  }

  static Napi::Object counters(Napi::Env env, const ssdsim::FtlCounters& c) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("hostPrograms", static_cast<double>(c.hostPrograms));
    o.Set("gcPrograms", static_cast<double>(c.gcPrograms));
    o.Set("erases", static_cast<double>(c.erases));
    o.Set("gcInvocations", static_cast<double>(c.gcInvocations));
    return o;
  }

  Napi::Value GetResults(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    busyCheck(env);
    ssdsim::Results r = sim_->results();
    Napi::Object o = Napi::Object::New(env);
    auto d = [](uint64_t v) { return static_cast<double>(v); };
    o.Set("requests", d(r.requests));
    o.Set("completed", d(sim_->completed()));
    o.Set("reads", d(r.reads));
    o.Set("writes", d(r.writes));
    o.Set("skipped", d(r.skipped));
    o.Set("unmappedReads", d(r.unmappedReads));
    o.Set("clampedArrivals", d(r.clampedArrivals));
    o.Set("foldedRequests", d(r.foldedRequests));
    o.Set("readBytes", d(r.readBytes));
    o.Set("writeBytes", d(r.writeBytes));
    o.Set("firstArrivalNs", d(r.firstArrivalNs));
    o.Set("preconditionCpuNs", d(r.preconditionCpuNs));
    o.Set("replayCpuNs", d(r.replayCpuNs));
    o.Set("preconditionWallNs", d(r.preconditionWallNs));
    o.Set("lastCompletionNs", d(r.lastCompletionNs));
    o.Set("read", latency(env, *r.readLat));
    o.Set("write", latency(env, *r.writeLat));
    o.Set("all", latency(env, *r.allLat));
    o.Set("deviceResponse", latency(env, *r.deviceResp));
    o.Set("ftl", counters(env, r.ftl));
    o.Set("precondition", counters(env, r.precondition));
    o.Set("flashReads", d(r.flashReads));
    o.Set("updateReads", d(r.updateReads));
    o.Set("mappingReads", d(r.mappingReads));
    o.Set("mappingPrograms", d(r.mappingPrograms));
    o.Set("cacheReadHits", d(r.cacheReadHits));
    o.Set("cacheReadLookups", d(r.cacheReadLookups));
    o.Set("cacheWriteHits", d(r.cacheWriteHits));
    o.Set("cacheWriteLookups", d(r.cacheWriteLookups));
    o.Set("cacheEvictions", d(r.cacheEvictions));
    o.Set("flashCommands", d(r.flashCommands));
    o.Set("multiPlaneCommands", d(r.multiPlaneCommands));
    o.Set("schedulerVisits", d(r.schedulerVisits));
    o.Set("stateBytes", d(r.stateBytes));
    o.Set("cmtHits", d(r.cmtHits));
    o.Set("cmtLookups", d(r.cmtLookups));
    Napi::Object u = Napi::Object::New(env);
    u.Set("channelMean", r.channelUtilMean);
    u.Set("channelMax", r.channelUtilMax);
    u.Set("dieMean", r.dieUtilMean);
    u.Set("dieMax", r.dieUtilMax);
    u.Set("pcieHostToDevice", r.pcieH2dUtil);
    u.Set("pcieDeviceToHost", r.pcieD2hUtil);
    o.Set("utilisation", u);
    Napi::Object p = Napi::Object::New(env);
    p.Set("valid", d(r.validPages));
    p.Set("invalid", d(r.invalidPages));
    p.Set("free", d(r.freePages));
    p.Set("mapping", d(r.mappingPages));
    p.Set("physical", d(r.physicalPages));
    p.Set("logical", d(r.logicalPages));
    o.Set("pages", p);
    return o;
  }

  std::unique_ptr<ssdsim::Sim> sim_;
};

}  // namespace

void InitSsdSim(Napi::Env env, Napi::Object exports) { exports.Set("SsdSim", SsdSimWrap::Define(env)); }

}  // namespace ssdtune
