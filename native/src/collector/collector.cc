// Registers the collector's native exports under `collector`: the kernel
// blktrace ioctls. The eBPF backend is an addon of its own
// (features/ssdtune_ebpf.node, ebpf_session.cc) because it needs libbpf.
#include "collector/collector.h"

#include "modules.h"

namespace ssdtune {

void InitCollector(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  InitBlktraceIoctl(env, c);
  exports.Set("collector", c);
}

}  // namespace ssdtune
