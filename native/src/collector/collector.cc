// Registers the collector's native exports under `collector`.
#include "collector/collector.h"

#include "modules.h"

namespace ssdtune {

void InitCollector(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  InitEbpfSession(env, c);
  InitBlktraceIoctl(env, c);
  exports.Set("collector", c);
}

}  // namespace ssdtune
