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

void Mapping::Unmap() {
  if (unmapped.exchange(true)) return;
  if (registered) Unregister(this);
  if (reservation != nullptr) {
    munmap(reservation, reservationSize);
    liveMappings--;
  }
  if (fd >= 0) close(fd);
  fd = -1;
}

Mapping::~Mapping() { Unmap(); }

std::shared_ptr<Mapping> FindMapping(uint64_t addr, uint64_t size) {
  std::lock_guard<std::mutex> g(registryLock);
  auto it = registry.upper_bound(static_cast<uintptr_t>(addr));
  if (it == registry.begin()) return nullptr;
  --it;
  std::shared_ptr<Mapping> m = it->second.lock();
  if (!m || m->unmapped) return nullptr;
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

// new HostMemory(size: bigint, memfdName?: string)
HostMemory::HostMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostMemory>(info) {
  Napi::Env env = info.Env();
  uint64_t requested = ArgU64(info, 0, "size");
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
      int err = errno;
      m->Unmap();  // nothing mapped yet: only closes the memfd
      ThrowErrno(env, "ftruncate", err);
    }
  } else if (!info[1].IsUndefined() && !info[1].IsNull()) {
    ThrowType(env, "memfdName must be a string when given");
  }

  // Reserve size + align bytes, then place the real mapping at the first aligned address.
  void* res = mmap(nullptr, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) {
    int err = errno;
    m->Unmap();  // closes the memfd, if any
    ThrowErrno(env, "mmap", err);
  }
  m->Adopt(res, size + align);
  uintptr_t aligned = (reinterpret_cast<uintptr_t>(res) + align - 1) & ~(uintptr_t(align) - 1);
  int flags = MAP_FIXED | MAP_NORESERVE | (m->fd >= 0 ? MAP_SHARED : (MAP_PRIVATE | MAP_ANONYMOUS));
  void* p = mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, flags, m->fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    m->Unmap();
    ThrowErrno(env, "mmap", err);
  }
  m->addr = static_cast<uint8_t*>(p);
  m->size = size;
  m->registered = true;
  Register(m);
  memory_ = std::make_unique<MappedBuffer>(std::move(m));
}

Napi::ArrayBuffer MappedBuffer::Buffer(Napi::Env env, const char* what) {
  if (mapping_->unmapped) ThrowErrno(env, what, EBADF);
  if (!buffer_.IsEmpty()) {
    Napi::Value v = buffer_.Value();
    if (!v.IsEmpty() && v.IsArrayBuffer()) return v.As<Napi::ArrayBuffer>();
  }
  auto* hint = new std::shared_ptr<Mapping>(mapping_);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, mapping_->addr, mapping_->size,
      [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hint);
  buffer_ = Napi::Weak(ab);
  return ab;
}

void MappedBuffer::Close() {
  if (mapping_->unmapped) return;
  if (!buffer_.IsEmpty()) {
    Napi::Value v = buffer_.Value();
    if (!v.IsEmpty() && v.IsArrayBuffer()) v.As<Napi::ArrayBuffer>().Detach();
    buffer_.Reset();
  }
  mapping_->Unmap();
}

// buffer(): the zero-copy ArrayBuffer over the whole mapping (the same one while it lives).
Napi::Value HostMemory::Buffer(const Napi::CallbackInfo& info) {
  return memory_->Buffer(info.Env(), "HostMemory.buffer");
}

Napi::Value HostMemory::Close(const Napi::CallbackInfo& info) {
  // A KVM slot still points here: unmapping would let the guest reach
  // whatever the host maps at this address next.
  if (memory_->mapping()->slotRefs > 0 && !memory_->mapping()->unmapped)
    ThrowErrno(info.Env(), "HostMemory.close", EBUSY);
  memory_->Close();
  return info.Env().Undefined();
}

Napi::Value HostMemory::GetSize(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(memory_->mapping()->size));
}

Napi::Value HostMemory::GetHostAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(memory_->mapping()->addr)));
}

Napi::Value HostMemory::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), memory_->mapping()->unmapped.load());
}

Napi::Value HostMemory::GetSlotRefs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), memory_->mapping()->slotRefs.load());
}

}  // namespace nkvm
