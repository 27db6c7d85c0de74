// Node binding of the text tokenizer (textscan.h):
//   textScan(buf: Uint8Array, pos: number, kinds: Uint8Array, out: Float64Array, state: Float64Array): number
// Scans the complete lines of buf from pos, writing rows of kinds.length fields
// (+ line index + byte offset, see rowWidth) into out; returns the row count.
// state receives [next pos, lines consumed, SLOW line's '\n' index, stop reason].
// Typed arrays in and out, no objects per call: the loop over rows stays in JS.
#include "modules.h"
#include "textscan.h"

namespace ssdtune {
namespace {

Napi::Value TextScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsTypedArray() || !info[4].IsTypedArray())
    throw Napi::TypeError::New(env, "textScan(buf: Uint8Array, pos: number, kinds: Uint8Array, out: Float64Array, state: Float64Array)");
  auto buf = info[0].As<Napi::Uint8Array>();
  auto kinds = info[2].As<Napi::Uint8Array>();
  auto out = info[3].As<Napi::Float64Array>();
  auto state = info[4].As<Napi::Float64Array>();
  if (buf.TypedArrayType() != napi_uint8_array || kinds.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_float64_array ||
      state.TypedArrayType() != napi_float64_array || state.ElementLength() < 4)
    throw Napi::TypeError::New(env, "textScan: buf and kinds must be Uint8Arrays, out and state (>= 4) Float64Arrays");
  size_t nFields = kinds.ElementLength();
  if (nFields == 0) throw Napi::RangeError::New(env, "textScan: kinds must name at least one field");
  for (size_t i = 0; i < nFields; i++)
    if (kinds[i] > textscan::BIT) throw Napi::RangeError::New(env, "textScan: field kinds are 0 (int), 1 (decimal) or 2 (0/1)");
  double p = info[1].As<Napi::Number>().DoubleValue();
  size_t len = buf.ElementLength();
  if (!(p >= 0) || p > static_cast<double>(len)) throw Napi::RangeError::New(env, "textScan: pos outside the buffer");
  size_t maxRows = out.ElementLength() / textscan::rowWidth(nFields);
  textscan::Result r = textscan::scan(buf.Data(), static_cast<size_t>(p), len, kinds.Data(), nFields, out.Data(), maxRows);
  state[0] = static_cast<double>(r.pos);
  state[1] = static_cast<double>(r.lines);
  state[2] = static_cast<double>(r.lineEnd);
  state[3] = static_cast<double>(r.stop);
  return Napi::Number::New(env, static_cast<double>(r.rows));
}

}  // namespace

void InitTextScan(Napi::Env env, Napi::Object exports) { exports.Set("textScan", Napi::Function::New(env, TextScan, "textScan")); }

}  // namespace ssdtune
