#include "host_memory.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>

#include "errors.h"

namespace nkvm {
namespace {

constexpr size_t kPage = 4096;
// Like QEMU, align large blocks to 2 MiB so transparent huge pages can back them.
constexpr size_t kHugeAlign = 2u << 20;

std::atomic<int64_t> liveMappings{0};
std::atomic<int64_t> retiredMappings{0};
std::mutex registryLock;
std::map<uintptr_t, std::weak_ptr<Mapping>> registry;  // keyed by start address

void Register(const std::shared_ptr<Mapping>& m) {
  std::lock_guard<std::mutex> g(registryLock);
  registry[reinterpret_cast<uintptr_t>(m->addr)] = m;
}

void Unregister(const Mapping* m) {
  std::lock_guard<std::mutex> g(registryLock);
  registry.erase(reinterpret_cast<uintptr_t>(m->addr));
}

}  // namespace

void Mapping::Adopt(void* r, size_t rsize) {
  reservation = r;
  reservationSize = rsize;
  liveMappings++;
}

int64_t LiveMappings() { return liveMappings.load(); }
int64_t RetiredMappings() { return retiredMappings.load(); }

void Mapping::Retire() {
  if (retired.exchange(true)) return;
  if (registered) Unregister(this);
  if (addr != nullptr) {
    // MAP_FIXED swaps the pages atomically: no moment where the range is free
    // for another mmap. If the kernel refuses (ENOMEM), the old pages simply
    // stay: still ours and no longer reachable by any new KVM slot.
    mmap(addr, size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  // The memfd's pages are no longer mapped here; its other users keep theirs.
  if (fd >= 0) close(fd);
  fd = -1;
  if (reservation != nullptr) {
    liveMappings--;
    retiredMappings++;
  }
}

Mapping::~Mapping() {
  if (registered && !retired) Unregister(this);
  if (reservation != nullptr) {
    munmap(reservation, reservationSize);
    (retired ? retiredMappings : liveMappings)--;
  }
  if (fd >= 0) close(fd);
}

std::shared_ptr<Mapping> FindMapping(uint64_t addr, uint64_t size) {
  std::lock_guard<std::mutex> g(registryLock);
  auto it = registry.upper_bound(static_cast<uintptr_t>(addr));
  if (it == registry.begin()) return nullptr;
  --it;
  std::shared_ptr<Mapping> m = it->second.lock();
  if (!m || m->retired) return nullptr;
  uint64_t start = reinterpret_cast<uintptr_t>(m->addr);
  if (addr < start || size > m->size || addr - start > m->size - size) return nullptr;
  return m;
}

Napi::Function HostMemory::Init(Napi::Env env) {
  return DefineClass(env, "HostMemory", {
      InstanceMethod<&HostMemory::Buffer>("buffer"),
      InstanceMethod<&HostMemory::Close>("close"),
      InstanceAccessor<&HostMemory::GetSize>("size"),
      InstanceAccessor<&HostMemory::GetHostAddress>("hostAddress"),
      InstanceAccessor<&HostMemory::GetClosed>("closed"),
      InstanceAccessor<&HostMemory::GetSlotRefs>("slotRefs"),
  });
}

// new HostMemory(size: bigint, memfdName?: string, advice?: number)
// advice: kAdviseHugePage | kAdviseDontFork, madvise(2) hints given to the
// whole mapping once it is made. Hints only: a kernel that refuses one (no
// transparent huge pages built in) leaves the memory as it is, as QEMU's
// qemu_madvise() does.
HostMemory::HostMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostMemory>(info) {
  Napi::Env env = info.Env();
  uint64_t requested = ArgU64(info, 0, "size");
  uint64_t advice = info.Length() > 2 && !info[2].IsUndefined() ? ArgU64(info, 2, "advice") : 0;
  if ((advice & ~uint64_t{kAdviseHugePage | kAdviseDontFork}) != 0) ThrowRange(env, "advice has unknown bits");
  if (requested == 0) ThrowRange(env, "size must be at least 1 byte");
  if (requested > (uint64_t{1} << 46)) ThrowRange(env, "size is larger than this host can map (64 TiB)");
  size_t size = (requested + kPage - 1) & ~(kPage - 1);
  size_t align = size >= kHugeAlign ? kHugeAlign : kPage;

  auto m = std::make_shared<Mapping>();
  if (info[1].IsString()) {
    std::string name = info[1].As<Napi::String>().Utf8Value();
    m->fd = memfd_create(name.c_str(), MFD_CLOEXEC);
    if (m->fd < 0) ThrowErrno(env, "memfd_create", errno);
    if (ftruncate(m->fd, static_cast<off_t>(size)) < 0) {
      ThrowErrno(env, "ftruncate", errno);  // m's destructor closes the memfd
    }
  } else if (!info[1].IsUndefined() && !info[1].IsNull()) {
    ThrowType(env, "memfdName must be a string when given");
  }

  // Reserve size + align bytes, then place the real mapping at the first aligned address.
  void* res = mmap(nullptr, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) {
    ThrowErrno(env, "mmap", errno);  // m's destructor closes the memfd, if any
  }
  m->Adopt(res, size + align);
  uintptr_t aligned = (reinterpret_cast<uintptr_t>(res) + align - 1) & ~(uintptr_t(align) - 1);
  int flags = MAP_FIXED | MAP_NORESERVE | (m->fd >= 0 ? MAP_SHARED : (MAP_PRIVATE | MAP_ANONYMOUS));
  void* p = mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, flags, m->fd, 0);
  if (p == MAP_FAILED) {
    ThrowErrno(env, "mmap", errno);  // m's destructor unmaps the reservation
  }
  if (advice & kAdviseHugePage) madvise(p, size, MADV_HUGEPAGE);
  if (advice & kAdviseDontFork) madvise(p, size, MADV_DONTFORK);
  m->addr = static_cast<uint8_t*>(p);
  m->size = size;
  m->registered = true;
  Register(m);
  memory_ = std::make_unique<MappedBuffer>(std::move(m));
}

Napi::ArrayBuffer MappedBuffer::Buffer(Napi::Env env, const char* what) { return Buffer(env, what, 0, size_); }

Napi::ArrayBuffer MappedBuffer::Buffer(Napi::Env env, const char* what, size_t offset, size_t length) {
  if (closed()) ThrowErrno(env, what, EBADF);
  if (offset > size_ || length > size_ - offset) ThrowRange(env, "the view is outside the mapping");
  if (length > kMaxView) ThrowRange(env, "a view of host memory can be at most 4 GiB (Node's limit for external buffers)");
  auto key = std::make_pair(offset, length);
  auto it = buffers_.find(key);
  if (it != buffers_.end()) {
    Napi::Value v = it->second.Value();
    // A buffer the user detached (ArrayBuffer.prototype.transfer) is replaced.
    if (!v.IsEmpty() && v.IsArrayBuffer() && !v.As<Napi::ArrayBuffer>().IsDetached()) return v.As<Napi::ArrayBuffer>();
    buffers_.erase(it);
  }
  // Forget windows that were collected, so the table stays as small as the views alive.
  for (auto i = buffers_.begin(); i != buffers_.end();) {
    Napi::Value v = i->second.Value();
    i = (v.IsEmpty() || !v.IsArrayBuffer()) ? buffers_.erase(i) : std::next(i);
  }
  // JavaScript holds the memory in two ways, and each keeps the mapping:
  //  - the backing store (the external buffer's finalizer hint) follows the
  //    memory when the buffer is transferred to a new ArrayBuffer;
  //  - the ArrayBuffer object (a finalizer on it) stays reachable while a
  //    threadpool request that took a raw pointer into it is pending (fs.read
  //    and crypto.randomFill keep their buffer argument alive, not the backing
  //    store, which Close()'s Detach() releases).
  using Hold = std::shared_ptr<Mapping>;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, mapping_->addr + offset, length, [](Napi::Env, void*, Hold* h) { delete h; }, new Hold(mapping_));
  ab.AddFinalizer([](Napi::Env, Hold* h) { delete h; }, new Hold(mapping_));
  buffers_[key] = Napi::Weak(ab);
  return ab;
}

void MappedBuffer::Close() {
  if (closed()) return;
  for (auto& [key, ref] : buffers_) {
    Napi::Value v = ref.Value();
    if (!v.IsEmpty() && v.IsArrayBuffer()) v.As<Napi::ArrayBuffer>().Detach();
    ref.Reset();
  }
  buffers_.clear();
  mapping_->Retire();
  mapping_.reset();
}

// buffer(offset?, length?): the zero-copy ArrayBuffer over the whole mapping,
// or over a window of it (at most 4 GiB); the same one while it lives and is
// attached.
Napi::Value HostMemory::Buffer(const Napi::CallbackInfo& info) {
  if (info.Length() == 0) return memory_->Buffer(info.Env(), "HostMemory.buffer");
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t length = ArgU64(info, 1, "length");
  return memory_->Buffer(info.Env(), "HostMemory.buffer", static_cast<size_t>(offset), static_cast<size_t>(length));
}

Napi::Value HostMemory::Close(const Napi::CallbackInfo& info) {
  // A KVM slot still points here: the guest would keep using memory that
  // JavaScript believes is gone.
  if (memory_->slotRefs() > 0) ThrowErrno(info.Env(), "HostMemory.close", EBUSY);
  memory_->Close();
  return info.Env().Undefined();
}

Napi::Value HostMemory::GetSize(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(memory_->size()));
}

Napi::Value HostMemory::GetHostAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(memory_->addr())));
}

Napi::Value HostMemory::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), memory_->closed());
}

Napi::Value HostMemory::GetSlotRefs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), memory_->slotRefs());
}

}  // namespace nkvm
