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
        "native/src/replay/replay.cc",
        "native/src/replay/replay_addon.cc",
        "native/src/collector/collector.cc",
        "native/src/collector/ebpf_session.cc",
        "native/src/collector/blktrace_ioctl.cc",
        "native/src/textscan.cc",
        "native/src/descriptors.cc",
        "native/src/linalg.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fopenmp-simd", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lbz2", "-llzma", "-lzstd", "-lz", "-luring"],
      "conditions": [
        # collector: link libbpf when its headers are installed; otherwise the
        # eBPF backend reports that it was built without (ssdtune doctor).
        ["<!(sh -c 'test -f /usr/include/bpf/libbpf.h && echo 1 || echo 0')==1", {
          "defines": ["SSDTUNE_HAVE_LIBBPF=1"],
          "libraries": ["-lbpf", "-lelf", "-lz"]
        }]
      ]
    },
    {
      # collector: the eBPF object, built with clang when the toolchain is here
      # (scripts/build-bpf.sh never fails the build; it records why not).
      "target_name": "biotrace_bpf",
      "type": "none",
      "actions": [{
        "action_name": "build_bpf",
        "inputs": ["native/bpf/biotrace.bpf.c", "native/bpf/biotrace.h", "scripts/build-bpf.sh"],
        "outputs": ["native/bpf/build-status.json"],
        "action": ["bash", "scripts/build-bpf.sh"]
      }]
    }
  ]
}
