{
  "targets": [
    {
      "target_name": "node_kvm",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/host_memory.cc",
        "native/ioctl.cc",
        "native/system.cc",
        "native/vcpu.cc",
        "native/vcpu_exit_queue.cc",
        "native/vcpu_thread.cc",
        "native/vm.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lpthread", "-lrt"]
    }
  ]
}
