// Bounded streaming decoders for gzip, bzip2, xz and zstd behind one pull
// interface, with no Node dependency (the libFuzzer harness uses it as is).
//
// Pull model: the caller lends an input slice, then asks for output into a
// buffer of its own size; each call stops when that buffer is full or when the
// decoder needs more input, so the memory of a decode is the caller's buffer
// plus the codec's own state, whatever the compression ratio (a 785-byte bzip2
// file of 1 GiB of zeros gives 1 GiB only as fast as the caller asks for it).
// The codec state is bounded too: xz by a memory limit, zstd by its window
// limit (ZSTD_d_windowLogMax), bzip2 and gzip by their formats (< 4 MiB, 32 KiB).
#pragma once
#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ssdtune {
namespace decompress {

enum class Status {
  OUTPUT_FULL,  // `out` is full: call again (with the same input) for more
  NEED_INPUT,   // the input slice is used up and no more output can come without more
  END,          // eof was given and every stream ended cleanly: no more output
  ERROR,        // corrupt data or a limit: `error` says which
};

struct Result {
  Status status = Status::NEED_INPUT;
  size_t produced = 0;  // bytes written to out
  std::string error;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Lend the next input slice (the previous one must be used up: inputLeft() == 0).
  void setInput(const uint8_t* in, size_t n) {
    in_ = in;
    avail_ = n;
  }
  size_t inputLeft() const { return avail_; }
  // Decode into out[0, cap). `eof`: no input will follow the current slice.
  virtual Result decode(uint8_t* out, size_t cap, bool eof) = 0;

 protected:
  static Result full(Result& r) {
    r.status = Status::OUTPUT_FULL;
    return r;
  }
  static Result fail(Result& r, std::string msg) {
    r.status = Status::ERROR;
    r.error = std::move(msg);
    return r;
  }
  const uint8_t* in_ = nullptr;
  size_t avail_ = 0;
};

// ---------------------------------------------------------------- gzip -----
// zlib inflate with gzip headers; members concatenated (`cat a.gz b.gz`,
// pigz) are read in turn. Bytes after the last member that do not start a new
// one are ignored, as gzip(1) and Node's zlib do.
class GzipEngine : public Engine {
 public:
  GzipEngine() { ok_ = inflateInit2(&z_, 16 + MAX_WBITS) == Z_OK; }
  ~GzipEngine() override { inflateEnd(&z_); }
  Result decode(uint8_t* out, size_t cap, bool eof) override {
    Result r;
    if (!ok_) return fail(r, "cannot initialise the gzip decoder");
    z_.next_out = out;
    z_.avail_out = static_cast<uInt>(cap);
    for (;;) {
      if (trailing_) {
        avail_ = 0;  // ignored, as gzip(1) does
        r.produced = cap - z_.avail_out;
        r.status = eof ? Status::END : Status::NEED_INPUT;
        return r;
      }
      if (memberEnded_) {
        if (avail_ == 0) {
          r.produced = cap - z_.avail_out;
          r.status = eof ? Status::END : Status::NEED_INPUT;
          return r;
        }
        if (in_[0] != 0x1f) {
          trailing_ = true;
          continue;
        }
        inflateReset(&z_);
        memberEnded_ = false;
      }
      z_.next_in = const_cast<Bytef*>(in_);
      z_.avail_in = static_cast<uInt>(avail_ > UINT32_MAX ? UINT32_MAX : avail_);
      size_t before = z_.avail_in;
      int rc = inflate(&z_, Z_NO_FLUSH);
      size_t used = before - z_.avail_in;
      in_ += used;
      avail_ -= used;
      r.produced = cap - z_.avail_out;
      if (rc == Z_STREAM_END) {
        memberEnded_ = true;
        if (z_.avail_out == 0) return full(r);
        continue;
      }
      if (rc == Z_OK || rc == Z_BUF_ERROR) {
        if (z_.avail_out == 0) return full(r);
        if (avail_ == 0) {
          if (eof) return fail(r, "the data ends before the end of the compressed stream");
          r.status = Status::NEED_INPUT;
          return r;
        }
        if (rc == Z_BUF_ERROR) return fail(r, "decoder made no progress");
        continue;
      }
      return fail(r, rc == Z_DATA_ERROR  ? std::string("corrupt compressed data (") + (z_.msg ? z_.msg : "Z_DATA_ERROR") + ")"
                     : rc == Z_MEM_ERROR ? "out of memory"
                                         : "decoder error " + std::to_string(rc));
    }
  }

 private:
  z_stream z_{};
  bool ok_ = false;
  bool memberEnded_ = false;
  bool trailing_ = false;
};

// --------------------------------------------------------------- bzip2 -----
// Concatenated streams (pbzip2, `cat a.bz2 b.bz2`) are read in turn.
class Bz2Engine : public Engine {
 public:
  Bz2Engine() { init(); }
  ~Bz2Engine() override {
    if (active_) BZ2_bzDecompressEnd(&s_);
  }
  Result decode(uint8_t* out, size_t cap, bool eof) override {
    Result r;
    char* o = reinterpret_cast<char*>(out);
    size_t room = cap;
    for (;;) {
      if (!active_) {
        if (avail_ == 0) {
          r.produced = cap - room;
          if (!ended_) return fail(r, "out of memory");
          r.status = eof ? Status::END : Status::NEED_INPUT;
          return r;
        }
        init();
        if (!active_) return fail(r, "out of memory");
      }
      s_.next_in = const_cast<char*>(reinterpret_cast<const char*>(in_));
      s_.avail_in = static_cast<unsigned>(avail_ > UINT32_MAX ? UINT32_MAX : avail_);
      s_.next_out = o;
      s_.avail_out = static_cast<unsigned>(room > UINT32_MAX ? UINT32_MAX : room);
      unsigned inBefore = s_.avail_in, outBefore = s_.avail_out;
      int rc = BZ2_bzDecompress(&s_);
      size_t used = inBefore - s_.avail_in, made = outBefore - s_.avail_out;
      in_ += used;
      avail_ -= used;
      o += made;
      room -= made;
      r.produced = cap - room;
      if (rc == BZ_STREAM_END) {
        BZ2_bzDecompressEnd(&s_);
        active_ = false;
        ended_ = true;
        if (room == 0) return full(r);
        continue;
      }
      if (rc != BZ_OK)
        return fail(r, rc == BZ_DATA_ERROR_MAGIC ? "bad stream header (not bzip2 data)"
                       : rc == BZ_MEM_ERROR      ? "out of memory"
                                                 : "corrupt compressed data (BZ_DATA_ERROR)");
      if (room == 0) return full(r);
      if (made == 0 && used == 0) {
        if (avail_ != 0) return fail(r, "decoder made no progress");
        if (eof) return fail(r, "the data ends before the end of the compressed stream");
        r.status = Status::NEED_INPUT;
        return r;
      }
    }
  }

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

// ------------------------------------------------------------------ xz -----
class XzEngine : public Engine {
 public:
  explicit XzEngine(uint64_t memLimit) : limit_(memLimit) { ok_ = lzma_stream_decoder(&s_, memLimit, LZMA_CONCATENATED) == LZMA_OK; }
  ~XzEngine() override { lzma_end(&s_); }
  Result decode(uint8_t* out, size_t cap, bool eof) override {
    Result r;
    if (!ok_) return fail(r, "cannot initialise the xz decoder");
    for (;;) {
      if (ended_) {
        r.status = r.produced == cap ? Status::OUTPUT_FULL : Status::END;
        return r;
      }
      s_.next_in = in_;
      s_.avail_in = avail_;
      s_.next_out = out + r.produced;
      s_.avail_out = cap - r.produced;
      size_t inBefore = avail_, outBefore = r.produced;
      // With LZMA_CONCATENATED the decoder only knows the input ended cleanly when told so.
      lzma_ret rc = lzma_code(&s_, eof ? LZMA_FINISH : LZMA_RUN);
      in_ = s_.next_in;
      avail_ = s_.avail_in;
      r.produced = cap - s_.avail_out;
      if (rc == LZMA_STREAM_END) {
        ended_ = true;
        continue;
      }
      if (rc == LZMA_OK || rc == LZMA_BUF_ERROR) {
        if (r.produced == cap) {
          r.status = Status::OUTPUT_FULL;
          return r;
        }
        bool progress = avail_ != inBefore || r.produced != outBefore;
        if (!eof && avail_ == 0) {
          r.status = Status::NEED_INPUT;
          return r;
        }
        if (!progress) return fail(r, eof ? "the data ends before the end of the compressed stream" : "decoder made no progress");
        continue;
      }
      if (rc == LZMA_MEMLIMIT_ERROR)
        return fail(r, "the stream needs " + std::to_string(lzma_memusage(&s_) >> 20) + " MiB of decoder memory, above the limit of " +
                           std::to_string(limit_ >> 20) + " MiB");
      return fail(r, rc == LZMA_FORMAT_ERROR    ? "bad stream header (not xz data)"
                     : rc == LZMA_DATA_ERROR    ? "corrupt compressed data (LZMA_DATA_ERROR)"
                     : rc == LZMA_MEM_ERROR     ? "out of memory"
                     : rc == LZMA_OPTIONS_ERROR ? "unsupported compression options"
                                                : "decoder error " + std::to_string(static_cast<int>(rc)));
    }
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
  uint64_t limit_;
  bool ok_ = false;
  bool ended_ = false;
};

// ---------------------------------------------------------------- zstd -----
class ZstdEngine : public Engine {
 public:
  explicit ZstdEngine(uint64_t memLimit) : s_(ZSTD_createDCtx()) {
    if (!s_) return;
    // The window is the decoder's memory: allow the largest power of two within the limit.
    int log = 10;
    while (log < 31 && (uint64_t{1} << (log + 1)) <= memLimit) log++;
    ZSTD_DCtx_setParameter(s_, ZSTD_d_windowLogMax, log);
  }
  ~ZstdEngine() override { ZSTD_freeDCtx(s_); }
  Result decode(uint8_t* out, size_t cap, bool eof) override {
    Result r;
    if (!s_) return fail(r, "cannot create the zstd decoder");
    ZSTD_outBuffer ob{out, cap, 0};
    for (;;) {
      size_t outBefore = ob.pos;
      ZSTD_inBuffer ib{in_, avail_, 0};
      size_t rc = ZSTD_decompressStream(s_, &ob, &ib);
      in_ += ib.pos;
      avail_ -= ib.pos;
      r.produced = ob.pos;
      if (ZSTD_isError(rc)) {
        if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) return fail(r, "the frame's window is larger than the decoder memory limit");
        return fail(r, std::string("corrupt compressed data (") + ZSTD_getErrorName(rc) + ")");
      }
      // rc == 0: a frame is complete and fully flushed. A call that moved no
      // byte says nothing new (after a complete frame, zstd answers the size
      // of the next frame's header): only calls that made progress count.
      // With a full output the decoder may still hold data: the caller asks
      // again, and that call settles it. (Judging by the last call alone made
      // outputs of exact multiples of the output size look truncated.)
      bool progress = ib.pos != 0 || ob.pos != outBefore;
      if (progress) frameDone_ = rc == 0;
      if (ob.pos == ob.size) {
        r.status = Status::OUTPUT_FULL;
        return r;
      }
      if (avail_ == 0) {
        if (!eof) {
          r.status = Status::NEED_INPUT;
          return r;
        }
        if (frameDone_) {
          r.status = Status::END;
          return r;
        }
        if (!progress) return fail(r, "the data ends before the end of the compressed stream");
        continue;
      }
      if (!progress) return fail(r, "decoder made no progress");
    }
  }

 private:
  ZSTD_DCtx* s_;
  bool frameDone_ = true;  // no input is zero frames: complete
};

// "gzip", "bz2", "xz" or "zstd"; nullptr for another name. `memLimit` bounds
// the codec's own state where the format lets it grow (xz, zstd).
inline std::unique_ptr<Engine> makeEngine(const std::string& kind, uint64_t memLimit) {
  if (kind == "gzip") return std::make_unique<GzipEngine>();
  if (kind == "bz2") return std::make_unique<Bz2Engine>();
  if (kind == "xz") return std::make_unique<XzEngine>(memLimit);
  if (kind == "zstd") return std::make_unique<ZstdEngine>(memLimit);
  return nullptr;
}

}  // namespace decompress
}  // namespace ssdtune
