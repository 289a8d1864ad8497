// Host memory for guest RAM: anonymous (or memfd) mappings exposed to
// JavaScript as zero-copy ArrayBuffers.
//
// Lifetime rules, which are what keep JavaScript from ever touching freed memory:
//  - a Mapping is shared (std::shared_ptr) by its HostMemory wrapper (until
//    close), by every ArrayBuffer created over it (twice: its backing store
//    and the object, see MappedBuffer::Buffer), and by every KVM slot that
//    points into it;
//  - HostMemory.close() refuses with EBUSY while a KVM slot still maps it;
//    otherwise it detaches the ArrayBuffer it knows (views become length 0) and
//    *retires* the mapping: fresh anonymous memory replaces it in place, so its
//    pages are released but the address range stays ours. JavaScript can still
//    hold a pointer there that close() cannot detach (a transferred buffer, a
//    pending fs.read or crypto.randomFill in the threadpool): those accesses
//    land in harmless zero memory, never in memory mapped later by someone else;
//  - the range is unmapped only when the last holder is gone (~Mapping);
//  - the process-wide registry lets a VM check that a userspace address really
//    is inside a live mapping of ours before handing it to the kernel; a
//    retired mapping leaves it, so no KVM slot can ever point at it again.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>

namespace nkvm {

struct Mapping {
  uint8_t* addr = nullptr;  // first byte (aligned start of the usable range)
  size_t size = 0;
  void* reservation = nullptr;  // what to munmap (may start before addr)
  size_t reservationSize = 0;
  int fd = -1;  // memfd, or -1 for anonymous memory
  bool registered = false;  // guest RAM is registered; the kvm_run page is not
  std::atomic<bool> retired{false};  // closed: [addr, addr + size) is placeholder memory
  std::atomic<int> slotRefs{0};  // KVM slots currently pointing into this mapping

  // Takes ownership of [reservation, reservation + reservationSize) and counts it as live.
  void Adopt(void* reservation, size_t reservationSize);
  // Replaces the usable range with fresh anonymous memory and leaves the
  // registry; the reservation stays until the destructor. Idempotent.
  void Retire();
  ~Mapping();  // unmaps the whole reservation
};

// Live (usable) mappings, guest RAM and kvm_run pages, for leak checks.
int64_t LiveMappings();

// Retired mappings whose address range is still reserved because something
// (a view, a transferred buffer, a pending threadpool request) may still hold
// it. Returns to 0 once those holders are garbage-collected.
int64_t RetiredMappings();

// Finds the live mapping that contains [addr, addr + size), or nullptr.
std::shared_ptr<Mapping> FindMapping(uint64_t addr, uint64_t size);

// A mapping plus the ArrayBuffer JavaScript sees over it. The ArrayBuffer holds
// its own references to the mapping, so a view that outlives the owner never
// sees freed memory; Close() detaches it (views become length 0), retires the
// mapping and lets go of it: from then on only what JavaScript still holds
// keeps the range reserved, not the owner object.
class MappedBuffer {
 public:
  explicit MappedBuffer(std::shared_ptr<Mapping> m) : mapping_(std::move(m)), addr_(mapping_->addr), size_(mapping_->size) {}
  // The ArrayBuffer over [offset, offset + length) (default: the whole
  // mapping); the same one while it lives and is attached.
  Napi::ArrayBuffer Buffer(Napi::Env env, const char* what);
  Napi::ArrayBuffer Buffer(Napi::Env env, const char* what, size_t offset, size_t length);
  void Close();
  bool closed() const { return mapping_ == nullptr; }
  int slotRefs() const { return mapping_ ? mapping_->slotRefs.load() : 0; }
  uint8_t* addr() const { return addr_; }
  size_t size() const { return size_; }

 private:
  std::shared_ptr<Mapping> mapping_;  // null once closed
  uint8_t* addr_;  // kept for the accessors after close
  size_t size_;
  // Weak (views keep them alive, not us), by (offset, length). Node cannot
  // make an external ArrayBuffer over more than 4 GiB, so larger mappings are
  // seen through several windows; Close() detaches every one.
  std::map<std::pair<size_t, size_t>, Napi::Reference<Napi::ArrayBuffer>> buffers_;
};

// new HostMemory()'s advice bits (exported as constants HOST_MEMORY_ADVISE_*).
constexpr uint32_t kAdviseHugePage = 1;  // madvise(MADV_HUGEPAGE)
constexpr uint32_t kAdviseDontFork = 2;  // madvise(MADV_DONTFORK)

// The largest external ArrayBuffer Node accepts (napi_create_external_arraybuffer).
constexpr size_t kMaxView = size_t{1} << 32;

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
