{
  # One addon, one module per native subsystem. Each subsystem exports an
  # Init<Name>(Napi::Env, Napi::Object) declared in native/src/modules.h and
  # called from native/src/addon.cc.
  "targets": [
    {
      "target_name": "ssdtune_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/decompress.cc",
        "native/src/blktrace_parser.cc",
        "native/src/blktrace_reader.cc",
        "native/src/ssdsim/ftl.cc",
        "native/src/ssdsim/sim.cc",
        "native/src/ssdsim/binding.cc",
        "native/src/textscan.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lbz2", "-llzma", "-lzstd"]
    }
  ]
}
