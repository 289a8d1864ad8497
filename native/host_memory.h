// Host memory for guest RAM: anonymous (or memfd) mappings exposed to
// JavaScript as zero-copy ArrayBuffers.
//
// Lifetime rules, which are what keep JavaScript from ever touching freed memory:
//  - a Mapping is shared (std::shared_ptr) by its HostMemory wrapper, by the
//    ArrayBuffer created over it, and by every KVM slot that points into it;
//  - HostMemory.close() detaches the ArrayBuffer (views become length 0) before
//    munmap, and refuses with EBUSY while a KVM slot still maps it;
//  - the process-wide registry lets a VM check that a userspace address really
//    is inside a live mapping of ours before handing it to the kernel.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace nkvm {

struct Mapping {
  uint8_t* addr = nullptr;  // first byte (aligned start of the usable range)
  size_t size = 0;
  void* reservation = nullptr;  // what to munmap (may start before addr)
  size_t reservationSize = 0;
  int fd = -1;  // memfd, or -1 for anonymous memory
  bool registered = false;  // guest RAM is registered; the kvm_run page is not
  std::atomic<bool> unmapped{false};
  std::atomic<int> slotRefs{0};  // KVM slots currently pointing into this mapping

  // Takes ownership of [reservation, reservation + reservationSize) and counts it as live.
  void Adopt(void* reservation, size_t reservationSize);
  void Unmap();
  ~Mapping();
};

// Mappings (guest RAM and kvm_run pages) currently mapped, for leak checks.
int64_t LiveMappings();

// Finds the live mapping that contains [addr, addr + size), or nullptr.
std::shared_ptr<Mapping> FindMapping(uint64_t addr, uint64_t size);

// A mapping plus the ArrayBuffer JavaScript sees over it. The ArrayBuffer holds
// its own reference to the mapping, so a view that outlives the owner never
// sees freed memory; Close() detaches it (views become length 0) and unmaps.
class MappedBuffer {
 public:
  explicit MappedBuffer(std::shared_ptr<Mapping> m) : mapping_(std::move(m)) {}
  Napi::ArrayBuffer Buffer(Napi::Env env, const char* what);
  void Close();
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }

 private:
  std::shared_ptr<Mapping> mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;  // weak: views keep it alive, not us
};

class HostMemory : public Napi::ObjectWrap<HostMemory> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit HostMemory(const Napi::CallbackInfo& info);

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetHostAddress(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  Napi::Value GetSlotRefs(const Napi::CallbackInfo& info);

  std::unique_ptr<MappedBuffer> memory_;
};

}  // namespace nkvm
