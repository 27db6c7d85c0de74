// flock(2), which Node cannot call: src/util/pid-lock.ts holds its lock files
// with it. The kernel releases such a lock when the last descriptor of the open
// file closes, that is when its holder ends however it ends (kill -9 included),
// so a lock is never left to a process that no longer exists, and no pid read
// back from a file decides who holds it.
#include <errno.h>
#include <sys/file.h>

#include "modules.h"
#include "sys_error.h"

namespace ssdtune {
namespace {

// flockExclusive(fd) -> true when this open file now holds the exclusive lock
// (or held it already), false when another open file holds it. Never waits.
Napi::Value FlockExclusive(const Napi::CallbackInfo& info) {
  int fd = FdArg(info);
  int r;
  do r = flock(fd, LOCK_EX | LOCK_NB);
  while (r < 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  throw SysError(info.Env(), "flock", errno);
}

}  // namespace

void InitFileLock(Napi::Env env, Napi::Object exports) { exports.Set("flockExclusive", Napi::Function::New(env, FlockExclusive, "flockExclusive")); }

}  // namespace ssdtune
