// The errors of system calls that Node cannot make itself (ioctls, flock), thrown to
// JavaScript as Node throws its own: the message, `errno` and `syscall`.
#pragma once
#include <napi.h>
#include <string.h>

#include <string>

namespace ssdtune {

inline Napi::Error SysError(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

/** The first argument, a file descriptor. */
inline int FdArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "file descriptor expected");
  return info[0].As<Napi::Number>().Int32Value();
}

}  // namespace ssdtune
