{
  # Three addons. ssdtune_native needs only libraries every Linux system has
  # (bz2, lzma, zstd, zlib). Each feature whose library is optional is an addon of
  # its own under features/, so that a machine without that library still
  # loads the rest; such a feature is compiled without its library when the
  # headers are absent and then says why at run time (src/native.ts,
  # `ssdtune doctor`).
  #   features/ssdtune_ebpf.node   live capture (libbpf; BPF program embedded as a skeleton)
  #   features/ssdtune_uring.node  live replay evaluator (liburing)
  # scripts/prebuild.sh packs all three for npm (prebuildify layout).
  # Each exports `sourceStamp`, the hash of the sources it was built from
  # (native_stamp below), which src/native.ts checks at load.
  "variables": {
    "have_libbpf%": "<!(sh -c 'test -f /usr/include/bpf/libbpf.h && echo 1 || echo 0')",
    "have_liburing%": "<!(sh -c 'test -f /usr/include/liburing.h && echo 1 || echo 0')"
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden", "-fopenmp-simd", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "targets": [
    {
      # The sources' stamp (scripts/native-stamp.cjs) as a header,
      # native/src/source_stamp.h's SSDTUNE_SOURCE_STAMP. Its inputs are the
      # hashed files, so make writes it afresh whenever one of them changes.
      "target_name": "native_stamp",
      "type": "none",
      "actions": [{
        "action_name": "native_stamp",
        "inputs": ["<!@(node scripts/native-stamp.cjs --inputs)", "scripts/native-stamp.cjs"],
        "outputs": ["<(SHARED_INTERMEDIATE_DIR)/stamp/ssdtune_stamp.h"],
        "action": ["node", "scripts/native-stamp.cjs", "--header", "<(SHARED_INTERMEDIATE_DIR)/stamp/ssdtune_stamp.h"]
      }]
    },
    {
      # One module per native subsystem. Each exports an Init<Name>(Napi::Env,
      # Napi::Object) declared in native/src/modules.h and called from
      # native/src/addon.cc.
      "target_name": "ssdtune_native",
      "dependencies": ["native_stamp"],
      "include_dirs": ["<(SHARED_INTERMEDIATE_DIR)/stamp"],
      "sources": [
        "native/src/addon.cc",
        "native/src/decompress.cc",
        "native/src/blktrace_parser.cc",
        "native/src/blktrace_reader.cc",
        "native/src/ssdsim/ftl.cc",
        "native/src/ssdsim/sim.cc",
        "native/src/ssdsim/host.cc",
        "native/src/ssdsim/cache.cc",
        "native/src/ssdsim/fmap.cc",
        "native/src/ssdsim/flash.cc",
        "native/src/ssdsim/binding.cc",
        "native/src/collector/collector.cc",
        "native/src/collector/blktrace_ioctl.cc",
        "native/src/textscan.cc",
        "native/src/descriptors.cc",
        "native/src/linalg.cc",
        "native/src/file_lock.cc"
      ],
      "libraries": ["-lbz2", "-llzma", "-lzstd", "-lz"]
    },
    {
      # The eBPF program, compiled and turned into a skeleton header
      # (bpftool gen skeleton) that the ssdtune_ebpf addon embeds. Without
      # clang/bpftool the script falls back to a skeleton shipped in the npm
      # package, else writes a header that says why there is none.
      "target_name": "biotrace_skel",
      "type": "none",
      "actions": [{
        "action_name": "build_bpf_skeleton",
        "inputs": ["native/bpf/biotrace.bpf.c", "native/bpf/biotrace.h", "scripts/build-bpf.sh"],
        "outputs": ["<(SHARED_INTERMEDIATE_DIR)/bpf/biotrace.skel.h"],
        "action": ["bash", "scripts/build-bpf.sh", "<(SHARED_INTERMEDIATE_DIR)/bpf"]
      }]
    },
    {
      "target_name": "ssdtune_ebpf",
      "product_dir": "<(PRODUCT_DIR)/features",
      "dependencies": ["biotrace_skel", "native_stamp"],
      "sources": ["native/src/collector/ebpf_session.cc"],
      "include_dirs": ["<(SHARED_INTERMEDIATE_DIR)/bpf", "<(SHARED_INTERMEDIATE_DIR)/stamp"],
      "conditions": [
        ["have_libbpf==1", {
          "defines": ["SSDTUNE_HAVE_LIBBPF=1"],
          "libraries": ["-lbpf", "-lelf", "-lz"]
        }]
      ]
    },
    {
      "target_name": "ssdtune_uring",
      "product_dir": "<(PRODUCT_DIR)/features",
      "dependencies": ["native_stamp"],
      "include_dirs": ["<(SHARED_INTERMEDIATE_DIR)/stamp"],
      "sources": ["native/src/replay/replay_addon.cc"],
      "conditions": [
        ["have_liburing==1", {
          "defines": ["SSDTUNE_HAVE_LIBURING=1"],
          "sources": ["native/src/replay/replay.cc"],
          "libraries": ["-luring"]
        }]
      ]
    }
  ]
}
