// Entry point of the ssdtune native addon: calls each subsystem's Init.
#include "modules.h"
#include "source_stamp.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  ssdtune::ExportSourceStamp(env, exports);
  ssdtune::InitDecompress(env, exports);
  ssdtune::InitBlktrace(env, exports);
  ssdtune::InitSsdSim(env, exports);
  ssdtune::InitCollector(env, exports);
  ssdtune::InitTextScan(env, exports);
  ssdtune::InitDescriptors(env, exports);
  ssdtune::InitLinalg(env, exports);
  ssdtune::InitFileLock(env, exports);
  return exports;
}

NODE_API_MODULE(ssdtune_native, InitAddon)
