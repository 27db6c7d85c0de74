#include "blktrace_reader.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "blktrace_parser.h"

namespace ssdtune {
namespace bt = blktrace;

namespace {

/** Rethrow a core error as a JS Error carrying code, file, offset and expected. */
[[noreturn]] void throwJs(Napi::Env env, const bt::ParseError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  err.Set("file", Napi::String::New(env, e.file));
  err.Set("offset", Napi::Number::New(env, static_cast<double>(e.offset)));
  err.Set("expected", Napi::String::New(env, e.expected));
  throw err;
}

using Buffers = std::vector<std::pair<const char*, Napi::ArrayBuffer>>;

/** A fresh buffer of `max` rows for one column, remembered for wrapping after the fill. */
template <typename T>
T* column(Napi::Env env, const char* name, size_t max, Buffers& bufs) {
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, max * sizeof(T));
  bufs.emplace_back(name, ab);
  return static_cast<T*>(ab.Data());
}

class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BlktraceReader", {InstanceMethod("next", &Reader::Next), InstanceMethod("meta", &Reader::Meta), InstanceMethod("close", &Reader::Close)});
  }

  Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "BlktraceReader(path: string, opts?)");
    path_ = info[0].As<Napi::String>().Utf8Value();
    bt::ParserOptions po;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      if (o.Has("skipBad")) po.skipBad = o.Get("skipBad").ToBoolean();
      if (o.Has("mode")) events_ = o.Get("mode").ToString().Utf8Value() == "events";
      if (o.Has("bufferBytes") && o.Get("bufferBytes").IsNumber()) po.bufBytes = static_cast<size_t>(o.Get("bufferBytes").As<Napi::Number>().Int64Value());
    }
    try {
      files_ = bt::findSetFiles(path_, missing_);
      std::vector<std::unique_ptr<bt::RecordStream>> streams;
      for (const std::string& f : files_) streams.push_back(std::make_unique<bt::RecordStream>(std::make_unique<bt::FileSource>(f), f, po.bufBytes, po.skipBad));
      parser_ = std::make_unique<bt::Parser>(std::move(streams), po);
    } catch (const bt::ParseError& e) {
      throwJs(env, e);
    }
  }

 private:
  Napi::Value Next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!parser_) return env.Null();
    size_t max = info.Length() > 0 && info[0].IsNumber() ? static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()) : 65536;
    if (max < 1) max = 1;
    if (max > (1u << 24)) max = 1u << 24;
    Napi::Object out = Napi::Object::New(env);
    Buffers bufs;
    size_t n;
    std::vector<int> kinds;  // typed array kind per column
    try {
      if (events_) {
        bt::EventCols c;
        c.timeNs = column<double>(env, "timeNs", max, bufs);
        c.sector = column<double>(env, "sector", max, bufs);
        c.bytes = column<uint32_t>(env, "bytes", max, bufs);
        c.act = column<uint16_t>(env, "act", max, bufs);
        c.category = column<uint32_t>(env, "category", max, bufs);
        c.pid = column<uint32_t>(env, "pid", max, bufs);
        c.device = column<uint32_t>(env, "device", max, bufs);
        c.cpu = column<uint32_t>(env, "cpu", max, bufs);
        c.sequence = column<uint32_t>(env, "sequence", max, bufs);
        c.error = column<uint16_t>(env, "error", max, bufs);
        c.auxSector = column<double>(env, "auxSector", max, bufs);
        c.auxDevice = column<uint32_t>(env, "auxDevice", max, bufs);
        kinds = {64, 64, 32, 16, 32, 32, 32, 32, 32, 16, 64, 32};
        n = parser_->nextEvents(c, max);
      } else {
        bt::RequestCols c;
        c.timeNs = column<double>(env, "timeNs", max, bufs);
        c.sector = column<double>(env, "sector", max, bufs);
        c.bytes = column<uint32_t>(env, "bytes", max, bufs);
        c.op = column<uint16_t>(env, "op", max, bufs);
        c.device = column<uint32_t>(env, "device", max, bufs);
        c.pid = column<uint32_t>(env, "pid", max, bufs);
        c.issueNs = column<double>(env, "issueNs", max, bufs);
        c.completeNs = column<double>(env, "completeNs", max, bufs);
        kinds = {64, 64, 32, 16, 32, 32, 64, 64};
        n = parser_->nextRequests(c, max);
      }
    } catch (const bt::ParseError& e) {
      throwJs(env, e);
    }
    if (n == 0) return env.Null();
    // Views of exactly n rows over the buffers the core filled: no copy.
    for (size_t i = 0; i < bufs.size(); i++) {
      Napi::ArrayBuffer ab = bufs[i].second;
      Napi::Value v;
      if (kinds[i] == 64) v = Napi::Float64Array::New(env, n, ab, 0);
      else if (kinds[i] == 32) v = Napi::Uint32Array::New(env, n, ab, 0);
      else v = Napi::Uint16Array::New(env, n, ab, 0);
      out.Set(bufs[i].first, v);
    }
    out.Set("length", Napi::Number::New(env, static_cast<double>(n)));
    return out;
  }

  Napi::Value Meta(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object m = Napi::Object::New(env);
    Napi::Array files = Napi::Array::New(env, files_.size());
    for (size_t i = 0; i < files_.size(); i++) files.Set(i, Napi::String::New(env, files_[i]));
    m.Set("files", files);
    Napi::Array miss = Napi::Array::New(env, missing_.size());
    for (size_t i = 0; i < missing_.size(); i++) miss.Set(i, Napi::Number::New(env, missing_[i]));
    m.Set("missingCpus", miss);
    if (!parser_) return m;
    m.Set("baseTimeNs", Napi::Number::New(env, parser_->baseTimeNs()));
    Napi::Array procs = Napi::Array::New(env);
    uint32_t k = 0;
    for (auto& [pid, name] : parser_->processes()) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, pid));
      pair.Set(1u, Napi::String::New(env, name));
      procs.Set(k++, pair);
    }
    m.Set("processes", procs);
    m.Set("skipped", Napi::Number::New(env, static_cast<double>(parser_->skipped())));
    const bt::Stats& s = parser_->stats();
    Napi::Object st = Napi::Object::New(env);
    auto num = [&](const char* name, uint64_t v) { st.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
    num("events", s.events);
    num("pcEvents", s.pcEvents);
    num("completedWithoutIssue", s.completedWithoutIssue);
    num("merged", s.merged);
    num("remapped", s.remapped);
    num("splits", s.splits);
    num("requeues", s.requeues);
    num("aborted", s.aborted);
    num("partialCompletions", s.partialCompletions);
    num("incomplete", s.incomplete);
    num("requests", s.requests);
    Napi::Array byAct = Napi::Array::New(env, 32), unpaired = Napi::Array::New(env, 32), notify = Napi::Array::New(env, 4);
    for (uint32_t i = 0; i < 32; i++) {
      byAct.Set(i, Napi::Number::New(env, static_cast<double>(s.byAct[i])));
      unpaired.Set(i, Napi::Number::New(env, static_cast<double>(s.unpaired[i])));
    }
    for (uint32_t i = 0; i < 4; i++) notify.Set(i, Napi::Number::New(env, static_cast<double>(s.notify[i])));
    st.Set("byAct", byAct);
    st.Set("unpaired", unpaired);
    st.Set("notify", notify);
    m.Set("stats", st);
    Napi::Array versions = Napi::Array::New(env);
    uint32_t vi = 0;
    for (auto& str : parser_->streams()) {
      Napi::Object v = Napi::Object::New(env);
      v.Set("file", Napi::String::New(env, str->name()));
      v.Set("version", Napi::Number::New(env, str->layout().version));
      v.Set("bigEndian", Napi::Boolean::New(env, str->layout().swap != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)));
      v.Set("records", Napi::Number::New(env, static_cast<double>(str->records())));
      versions.Set(vi++, v);
    }
    m.Set("streams", versions);
    return m;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    parser_.reset();  // closes the files; meta() keeps the file list
    return info.Env().Undefined();
  }

  std::string path_;
  bool events_ = false;
  std::vector<std::string> files_;
  std::vector<unsigned> missing_;
  std::unique_ptr<bt::Parser> parser_;
};

}  // namespace

void InitBlktrace(Napi::Env env, Napi::Object exports) { exports.Set("BlktraceReader", Reader::Define(env)); }

}  // namespace ssdtune
