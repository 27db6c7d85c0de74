// Node binding of the bounded decoders (decompress_engine.h):
//   new Decompressor(kind: 'gzip'|'bz2'|'xz'|'zstd', memLimit: number, outChunk: number)
//   d.decode(input: Buffer | null, eof: boolean, cb: (err, out: Buffer | null, status: number, inputLeft: number) => void)
// Each decode runs on the libuv thread pool (an AsyncWorker) and returns at most
// outChunk bytes: the JS side asks for the next piece only when its consumer
// wants more (src/readers/decompress.ts), so memory stays bounded whatever the
// compression ratio. `input` lends the next compressed slice (only when the
// previous one is used up); status is the Status enum: 0 output full (ask
// again), 1 need input, 2 end.
#include "decompress.h"

#include <cstring>
#include <memory>
#include <string>

#include "decompress_engine.h"

namespace ssdtune {
namespace {

using decompress::Engine;
using decompress::Result;
using decompress::Status;

class Decompressor : public Napi::ObjectWrap<Decompressor> {
 public:
  static Napi::Function Define(Napi::Env env) { return DefineClass(env, "Decompressor", {InstanceMethod("decode", &Decompressor::Decode)}); }

  explicit Decompressor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Decompressor>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "Decompressor(kind: string, memLimit: number, outChunk: number)");
    double mem = info[1].As<Napi::Number>().DoubleValue();
    double chunk = info[2].As<Napi::Number>().DoubleValue();
    if (!(mem >= 1 << 20) || !(chunk >= 1) || chunk > (1 << 30)) throw Napi::RangeError::New(env, "Decompressor: memLimit >= 1 MiB, 1 <= outChunk <= 1 GiB");
    engine_ = decompress::makeEngine(info[0].As<Napi::String>().Utf8Value(), static_cast<uint64_t>(mem));
    if (!engine_) throw Napi::TypeError::New(env, "Decompressor: kind must be 'gzip', 'bz2', 'xz' or 'zstd'");
    outChunk_ = static_cast<size_t>(chunk);
  }

 private:
  class DecodeWorker : public Napi::AsyncWorker {
   public:
    DecodeWorker(Napi::Function cb, Decompressor* owner, bool eof) : Napi::AsyncWorker(cb), owner_(owner), eof_(eof) {
      // Keep the decompressor (and through it the lent input) alive while the pool thread works.
      owner_ref_ = Napi::Persistent(owner->Value());
    }
    ~DecodeWorker() override { delete[] out_; }
    void Execute() override {
      out_ = new uint8_t[owner_->outChunk_];
      res_ = owner_->engine_->decode(out_, owner_->outChunk_, eof_);
      if (res_.status == Status::ERROR) SetError(res_.error);
    }
    void OnOK() override {
      Napi::Env env = Env();
      owner_->busy_ = false;
      Napi::Value out = env.Null();
      if (res_.produced > 0) {
        uint8_t* data = out_;
        if (res_.produced < owner_->outChunk_ / 4) {
          // Mostly empty: hand over a right-sized copy, not the whole block.
          data = new uint8_t[res_.produced];
          std::memcpy(data, out_, res_.produced);
        } else {
          out_ = nullptr;
        }
        out = Napi::Buffer<uint8_t>::New(env, data, res_.produced, [](Napi::Env, uint8_t* p) { delete[] p; });
      }
      size_t left = owner_->engine_->inputLeft();
      if (left == 0) owner_->input_.Reset();
      Callback().Call({env.Null(), out, Napi::Number::New(env, static_cast<double>(res_.status)), Napi::Number::New(env, static_cast<double>(left))});
    }
    void OnError(const Napi::Error& e) override {
      owner_->busy_ = false;
      Napi::Env env = Env();
      Callback().Call({e.Value(), env.Null(), Napi::Number::New(env, 3), Napi::Number::New(env, static_cast<double>(owner_->engine_->inputLeft()))});
    }

   private:
    Decompressor* owner_;
    bool eof_;
    Napi::ObjectReference owner_ref_;
    uint8_t* out_ = nullptr;
    Result res_;
  };

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !(info[0].IsBuffer() || info[0].IsNull()) || !info[1].IsBoolean() || !info[2].IsFunction())
      throw Napi::TypeError::New(env, "decode(input: Buffer | null, eof: boolean, callback)");
    if (busy_) throw Napi::Error::New(env, "decode: a decode is already running");
    if (info[0].IsBuffer()) {
      if (engine_->inputLeft() != 0) throw Napi::Error::New(env, "decode: the previous input is not used up");
      auto buf = info[0].As<Napi::Buffer<uint8_t>>();
      input_ = Napi::Persistent(buf);
      engine_->setInput(buf.Data(), buf.Length());
    }
    busy_ = true;
    (new DecodeWorker(info[2].As<Napi::Function>(), this, info[1].As<Napi::Boolean>().Value()))->Queue();
    return env.Undefined();
  }

  std::unique_ptr<Engine> engine_;
  size_t outChunk_ = 0;
  bool busy_ = false;
  Napi::Reference<Napi::Buffer<uint8_t>> input_;
};

}  // namespace

void InitDecompress(Napi::Env env, Napi::Object exports) {
  exports.Set("Decompressor", Decompressor::Define(env));
  exports.Set("decompressVersions", Napi::String::New(env, std::string("zlib ") + zlibVersion() + ", bzip2 " + BZ2_bzlibVersion() + ", xz " +
                                                               lzma_version_string() + ", zstd " + ZSTD_versionString()));
}

}  // namespace ssdtune
