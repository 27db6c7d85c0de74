// The kernel blktrace control ioctls (BLKTRACESETUP/START/STOP/TEARDOWN),
// which Node cannot issue itself. The per-CPU relay files the kernel then
// creates under debugfs are plain files that JS reads; see
// src/collector/blktrace-kernel.ts.
#include <errno.h>
#include <linux/blktrace_api.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>

#include <string>

#include "collector/collector.h"
#include "sys_error.h"

namespace ssdtune {
namespace {

// blktraceSetup(fd, { bufSize, bufNr, actMask, startLba, endLba }) -> name
// (the directory under <debugfs>/block/ holding trace<cpu> files)
Napi::Value Setup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  struct blk_user_trace_setup s;
  memset(&s, 0, sizeof s);
  s.buf_size = o.Has("bufSize") ? o.Get("bufSize").ToNumber().Uint32Value() : 512 * 1024;
  s.buf_nr = o.Has("bufNr") ? o.Get("bufNr").ToNumber().Uint32Value() : 4;
  s.act_mask = o.Has("actMask") ? static_cast<__u16>(o.Get("actMask").ToNumber().Uint32Value()) : 0xffff;
  s.start_lba = o.Has("startLba") ? static_cast<__u64>(o.Get("startLba").ToNumber().DoubleValue()) : 0;
  s.end_lba = o.Has("endLba") ? static_cast<__u64>(o.Get("endLba").ToNumber().DoubleValue()) : 0;
  if (ioctl(fd, BLKTRACESETUP, &s) < 0) throw SysError(env, "BLKTRACESETUP", errno);
  s.name[sizeof s.name - 1] = 0;
  return Napi::String::New(env, s.name);
}

Napi::Value Simple(const Napi::CallbackInfo& info, unsigned long req, const char* name) {
  if (ioctl(FdArg(info), req) < 0) throw SysError(info.Env(), name, errno);
  return info.Env().Undefined();
}

}  // namespace

void InitBlktraceIoctl(Napi::Env env, Napi::Object exports) {
  exports.Set("blktraceSetup", Napi::Function::New(env, Setup, "blktraceSetup"));
  exports.Set("blktraceStart", Napi::Function::New(
                                   env, [](const Napi::CallbackInfo& i) { return Simple(i, BLKTRACESTART, "BLKTRACESTART"); }, "blktraceStart"));
  exports.Set("blktraceStop", Napi::Function::New(
                                  env, [](const Napi::CallbackInfo& i) { return Simple(i, BLKTRACESTOP, "BLKTRACESTOP"); }, "blktraceStop"));
  exports.Set("blktraceTeardown", Napi::Function::New(
                                      env, [](const Napi::CallbackInfo& i) { return Simple(i, BLKTRACETEARDOWN, "BLKTRACETEARDOWN"); }, "blktraceTeardown"));
}

}  // namespace ssdtune
