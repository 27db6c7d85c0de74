// N-API face of the blktrace reader: `new BlktraceReader(path, {mode, skipBad})`
// with `next(maxRows)` returning typed-array columns filled in place by the
// parsing core (blktrace_parser.h), and `meta()` for processes, times, counters.
#pragma once
#include <napi.h>

namespace ssdtune {
void InitBlktrace(Napi::Env env, Napi::Object exports);
}
