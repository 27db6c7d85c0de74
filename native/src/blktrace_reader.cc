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

struct ColSpec {
  const char* name;
  int bits;  // 64: Float64Array, 32: Uint32Array, 16: Uint16Array
};
// Order matters: Next() hands the pointers to EventCols / RequestCols in this order.
constexpr ColSpec kEventCols[] = {{"timeNs", 64}, {"sector", 64}, {"bytes", 32},    {"act", 16},   {"category", 32},  {"pid", 32},
                                  {"device", 32}, {"cpu", 32},    {"sequence", 32}, {"error", 16}, {"auxSector", 64}, {"auxDevice", 32}};
constexpr ColSpec kRequestCols[] = {{"timeNs", 64}, {"sector", 64}, {"bytes", 32},   {"op", 16},
                                    {"device", 32}, {"pid", 32},    {"issueNs", 64}, {"completeNs", 64}};

/**
 * One batch's columns carved out of one allocation, 8-byte aligned. A Node
 * Buffer is not zero-filled (an ArrayBuffer is, and that memset was a tenth of
 * the read time), and every row is written before it is exposed anyway.
 */
class Batch {
 public:
  template <size_t N>
  Batch(Napi::Env env, const ColSpec (&cols)[N], size_t max) : cols_(cols), n_(N) {
    size_t total = 0;
    for (size_t i = 0; i < N; i++) {
      offs_[i] = total;
      total += (max * static_cast<size_t>(cols[i].bits / 8) + 7) & ~size_t(7);
    }
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, std::max<size_t>(total, 8));
    ab_ = buf.ArrayBuffer();
    base_ = buf.ByteOffset();
    if (base_ % 8) {  // never seen, but typed arrays need aligned offsets
      ab_ = Napi::ArrayBuffer::New(env, std::max<size_t>(total, 8));
      base_ = 0;
    }
    data_ = static_cast<uint8_t*>(ab_.Data()) + base_;
  }
  template <typename T>
  T* at(size_t i) const {
    return reinterpret_cast<T*>(data_ + offs_[i]);
  }
  /** Typed-array views of the first n rows of every column: no copy. */
  void expose(Napi::Env env, Napi::Object out, size_t n) const {
    for (size_t i = 0; i < n_; i++) {
      size_t off = base_ + offs_[i];
      Napi::Value v;
      if (cols_[i].bits == 64)
        v = Napi::Float64Array::New(env, n, ab_, off);
      else if (cols_[i].bits == 32)
        v = Napi::Uint32Array::New(env, n, ab_, off);
      else
        v = Napi::Uint16Array::New(env, n, ab_, off);
      out.Set(cols_[i].name, v);
    }
  }

 private:
  const ColSpec* cols_;
  size_t n_;
  size_t offs_[16] = {};
  Napi::ArrayBuffer ab_;
  size_t base_ = 0;
  uint8_t* data_ = nullptr;
};

class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BlktraceReader",
                       {InstanceMethod("next", &Reader::Next), InstanceMethod("meta", &Reader::Meta), InstanceMethod("close", &Reader::Close)});
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
      for (const std::string& f : files_)
        streams.push_back(std::make_unique<bt::RecordStream>(std::make_unique<bt::FileSource>(f), f, po.bufBytes, po.skipBad));
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
    size_t n;
    try {
      if (events_) {
        Batch b(env, kEventCols, max);
        bt::EventCols c{b.at<double>(0),   b.at<double>(1),   b.at<uint32_t>(2), b.at<uint16_t>(3), b.at<uint32_t>(4), b.at<uint32_t>(5),
                        b.at<uint32_t>(6), b.at<uint32_t>(7), b.at<uint32_t>(8), b.at<uint16_t>(9), b.at<double>(10),  b.at<uint32_t>(11)};
        n = parser_->nextEvents(c, max);
        if (n) b.expose(env, out, n);
      } else {
        Batch b(env, kRequestCols, max);
        bt::RequestCols c{b.at<double>(0),   b.at<double>(1),   b.at<uint32_t>(2), b.at<uint16_t>(3),
                          b.at<uint32_t>(4), b.at<uint32_t>(5), b.at<double>(6),   b.at<double>(7)};
        n = parser_->nextRequests(c, max);
        if (n) b.expose(env, out, n);
      }
    } catch (const bt::ParseError& e) {
      throwJs(env, e);
    }
    if (n == 0) return env.Null();
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
    m.Set("bytesRead", Napi::Number::New(env, static_cast<double>(parser_->bytesRead())));
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
