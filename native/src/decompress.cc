// Streaming decompressors behind one interface. Each `push` runs on the libuv
// thread pool (an AsyncWorker), so decompression overlaps with the JS parsing
// of the previous chunk; the JS side never has two pushes in flight.
#include "decompress.h"

#include <bzlib.h>
#include <lzma.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ssdtune {
namespace {

constexpr size_t kOutChunk = 1024 * 1024;

// Decompressed output handed to JS without a copy (Buffer over this memory).
struct Chunk {
  char* data;
  size_t len;
};

// Output space for one decoder call, filled in place; take() keeps what was
// written as a Chunk (shrunk when mostly empty) and starts a fresh block.
class OutBlock {
 public:
  OutBlock() : p_(new char[kOutChunk]) {}
  ~OutBlock() { delete[] p_; }
  char* data() { return p_; }
  void take(size_t got, std::vector<Chunk>& out) {
    if (got == 0) return;
    if (got < kOutChunk / 4) {
      char* small = new char[got];
      std::memcpy(small, p_, got);
      out.push_back({small, got});
    } else {
      out.push_back({p_, got});
      p_ = new char[kOutChunk];
    }
  }

 private:
  char* p_;
};

void FreeChunks(std::vector<Chunk>& v) {
  for (auto& c : v) delete[] c.data;
  v.clear();
}

// One compressed stream. feed() appends decompressed chunks to `out` and
// returns false with `err` set on corrupt data; finished() says whether the
// input seen so far ends at a clean stream boundary (else: truncated).
class Engine {
 public:
  virtual ~Engine() = default;
  virtual bool feed(const uint8_t* in, size_t n, std::vector<Chunk>& out, std::string& err) = 0;
  virtual bool finished() const = 0;
};

class Bz2Engine : public Engine {
 public:
  Bz2Engine() { init(); }
  ~Bz2Engine() override {
    if (active_) BZ2_bzDecompressEnd(&s_);
  }
  bool feed(const uint8_t* in, size_t n, std::vector<Chunk>& out, std::string& err) override {
    s_.next_in = const_cast<char*>(reinterpret_cast<const char*>(in));
    s_.avail_in = static_cast<unsigned>(n);
    OutBlock buf;
    for (;;) {
      if (!active_) {
        if (s_.avail_in == 0) break;
        // pbzip2 and `cat a.bz2 b.bz2` give concatenated streams: start the next one.
        char* next = s_.next_in;
        unsigned avail = s_.avail_in;
        init();
        if (!active_) {
          err = "out of memory";
          return false;
        }
        s_.next_in = next;
        s_.avail_in = avail;
      }
      s_.next_out = buf.data();
      s_.avail_out = kOutChunk;
      int rc = BZ2_bzDecompress(&s_);
      buf.take(kOutChunk - s_.avail_out, out);
      if (rc == BZ_STREAM_END) {
        BZ2_bzDecompressEnd(&s_);
        active_ = false;
        ended_ = true;
        continue;
      }
      if (rc != BZ_OK) {
        err = rc == BZ_DATA_ERROR_MAGIC ? "bad stream header (not bzip2 data)"
              : rc == BZ_MEM_ERROR      ? "out of memory"
                                        : "corrupt compressed data (BZ_DATA_ERROR)";
        return false;
      }
      // Stop when the input is used up and the decoder had no more output to give.
      if (s_.avail_in == 0 && s_.avail_out != 0) break;
    }
    return true;
  }
  bool finished() const override { return ended_ && !active_; }

 private:
  void init() {
    s_ = bz_stream{};
    active_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK;
    ended_ = false;
  }
  bz_stream s_{};
  bool active_ = false;
  bool ended_ = false;
};

class XzEngine : public Engine {
 public:
  XzEngine() { ok_ = lzma_stream_decoder(&s_, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK; }
  ~XzEngine() override { lzma_end(&s_); }
  bool feed(const uint8_t* in, size_t n, std::vector<Chunk>& out, std::string& err) override {
    if (!ok_) {
      err = "cannot initialise the decoder";
      return false;
    }
    s_.next_in = in;
    s_.avail_in = n;
    return run(LZMA_RUN, out, err);
  }
  bool finished() const override { return ended_; }
  // With LZMA_CONCATENATED the decoder only knows the input ended cleanly when told so.
  bool finish(std::vector<Chunk>& out, std::string& err) {
    s_.next_in = nullptr;
    s_.avail_in = 0;
    return run(LZMA_FINISH, out, err);
  }

 private:
  bool run(lzma_action action, std::vector<Chunk>& out, std::string& err) {
    OutBlock buf;
    for (;;) {
      s_.next_out = reinterpret_cast<uint8_t*>(buf.data());
      s_.avail_out = kOutChunk;
      lzma_ret rc = lzma_code(&s_, action);
      buf.take(kOutChunk - s_.avail_out, out);
      if (rc == LZMA_STREAM_END) {
        ended_ = true;
        return true;
      }
      if (rc != LZMA_OK) {
        if (action == LZMA_FINISH && rc == LZMA_BUF_ERROR) return true;  // truncated: finished() stays false
        err = rc == LZMA_FORMAT_ERROR    ? "bad stream header (not xz data)"
              : rc == LZMA_DATA_ERROR    ? "corrupt compressed data (LZMA_DATA_ERROR)"
              : rc == LZMA_MEM_ERROR     ? "out of memory"
              : rc == LZMA_OPTIONS_ERROR ? "unsupported compression options"
                                         : "decoder error " + std::to_string(static_cast<int>(rc));
        return false;
      }
      if (s_.avail_in == 0 && s_.avail_out != 0) return true;
    }
  }
  lzma_stream s_ = LZMA_STREAM_INIT;
  bool ok_ = false;
  bool ended_ = false;
};

class ZstdEngine : public Engine {
 public:
  ZstdEngine() : s_(ZSTD_createDStream()) {
    if (s_) ZSTD_initDStream(s_);
  }
  ~ZstdEngine() override { ZSTD_freeDStream(s_); }
  bool feed(const uint8_t* in, size_t n, std::vector<Chunk>& out, std::string& err) override {
    if (!s_) {
      err = "cannot create the decoder";
      return false;
    }
    ZSTD_inBuffer ib{in, n, 0};
    OutBlock buf;
    for (;;) {
      ZSTD_outBuffer ob{buf.data(), kOutChunk, 0};
      size_t rc = ZSTD_decompressStream(s_, &ob, &ib);
      if (ZSTD_isError(rc)) {
        err = std::string("corrupt compressed data (") + ZSTD_getErrorName(rc) + ")";
        return false;
      }
      buf.take(ob.pos, out);
      last_ = rc;  // 0: a frame is complete and flushed
      if (ib.pos == ib.size && ob.pos < ob.size) return true;
    }
  }
  bool finished() const override { return last_ == 0; }

 private:
  ZSTD_DStream* s_;
  size_t last_ = 1;
};

// Hands the chunks' memory to JS Buffers (freed by their finalizers); `v` is left empty.
Napi::Array ToBuffers(Napi::Env env, std::vector<Chunk>& v) {
  Napi::Array arr = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++)
    arr.Set(i, Napi::Buffer<char>::New(env, v[i].data, v[i].len, [](Napi::Env, char* p) { delete[] p; }));
  v.clear();
  return arr;
}

class Decompressor : public Napi::ObjectWrap<Decompressor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Decompressor",
                       {InstanceMethod("push", &Decompressor::Push), InstanceMethod("end", &Decompressor::End)});
  }

  explicit Decompressor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Decompressor>(info) {
    std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (kind == "bz2")
      engine_ = std::make_unique<Bz2Engine>();
    else if (kind == "xz")
      engine_ = std::make_unique<XzEngine>();
    else if (kind == "zstd")
      engine_ = std::make_unique<ZstdEngine>();
    else
      throw Napi::TypeError::New(info.Env(), "Decompressor: kind must be 'bz2', 'xz' or 'zstd'");
    kind_ = kind;
  }

  Engine* engine() { return engine_.get(); }

 private:
  class PushWorker : public Napi::AsyncWorker {
   public:
    PushWorker(Napi::Function cb, Decompressor* owner, Napi::Buffer<uint8_t> input)
        : Napi::AsyncWorker(cb), owner_(owner), data_(input.Data()), size_(input.Length()) {
      // Keep the input and the decompressor alive while the pool thread uses them.
      input_ref_ = Napi::Persistent(input);
      owner_ref_ = Napi::Persistent(owner->Value());
    }
    void Execute() override {
      std::string err;
      if (!owner_->engine()->feed(data_, size_, out_, err)) SetError(err);
    }
    void OnOK() override {
      Napi::Env env = Env();
      Napi::Array arr = ToBuffers(env, out_);
      Callback().Call({env.Null(), arr});
    }
    ~PushWorker() override { FreeChunks(out_); }

   private:
    Decompressor* owner_;
    const uint8_t* data_;
    size_t size_;
    Napi::Reference<Napi::Buffer<uint8_t>> input_ref_;
    Napi::ObjectReference owner_ref_;
    std::vector<Chunk> out_;
  };

  // push(chunk: Buffer, cb: (err, chunks: Buffer[]) => void)
  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "push(buffer, callback)");
    auto* w = new PushWorker(info[1].As<Napi::Function>(), this, info[0].As<Napi::Buffer<uint8_t>>());
    w->Queue();
    return env.Undefined();
  }

  // end(): Buffer[] of the last output; throws when the input stopped mid-stream.
  Napi::Value End(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<Chunk> out;
    std::string err;
    bool ok = kind_ != "xz" || static_cast<XzEngine*>(engine_.get())->finish(out, err);
    if (ok && !engine_->finished()) {
      ok = false;
      err = "the data ends before the end of the compressed stream";
    }
    if (!ok) {
      FreeChunks(out);
      throw Napi::Error::New(env, err);
    }
    return ToBuffers(env, out);
  }

  std::unique_ptr<Engine> engine_;
  std::string kind_;
};

}  // namespace

void InitDecompress(Napi::Env env, Napi::Object exports) {
  exports.Set("Decompressor", Decompressor::Define(env));
  exports.Set("decompressVersions",
              Napi::String::New(env, std::string("bzip2 ") + BZ2_bzlibVersion() + ", xz " + lzma_version_string() +
                                         ", zstd " + ZSTD_versionString()));
}

}  // namespace ssdtune
