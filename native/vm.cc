#include <errno.h>
#include <linux/kvm.h>

#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "handles.h"
#include "ioctl.h"

namespace nkvm {

void VmState::Opened() {
  std::lock_guard<std::mutex> g(lock);
  ++openFds;
}

void VmState::Closed() {
  std::lock_guard<std::mutex> g(lock);
  if (--openFds > 0) return;
  for (auto& [id, slot] : slots) slot.mapping->slotRefs--;
  slots.clear();
}

Napi::Function Vm::Init(Napi::Env env) {
  return DefineClass(env, "Vm", {
      InstanceMethod<&Vm::Ioctl>("ioctl"),
      InstanceMethod<&Vm::CreateVcpu>("createVcpu"),
      InstanceMethod<&Vm::SetUserMemoryRegion>("setUserMemoryRegion"),
      InstanceMethod<&Vm::GetDirtyLog>("getDirtyLog"),
      InstanceMethod<&Vm::Close>("close"),
      InstanceAccessor<&Vm::GetClosed>("closed"),
  });
}

// Only Kvm.createVm() can make one: it passes the new fd in an External.
Vm::Vm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vm>(info) {
  if (!info[0].IsExternal()) ThrowType(info.Env(), "use kvm.createVm() to create a VM");
  const int* init = info[0].As<Napi::External<int>>().Data();
  fd_.Adopt(init[0]);
  TagObject(info, kVmTag);  // if it throws, ~Fd closes the fd
  state_ = std::make_shared<VmState>();
  state_->vcpuMmapSize = static_cast<size_t>(init[1]);
  state_->Opened();
}

Vm::~Vm() { CloseFd(); }

void Vm::CloseFd() {
  if (fd_.Close()) state_->Closed();
}

Napi::Value Vm::Ioctl(const Napi::CallbackInfo& info) { return IssueIoctl(info, fd_.get(), kVm); }

Napi::Value Vm::CreateVcpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = ArgU32(info, 0, "id");
  if (fd_.get() < 0) ThrowErrno(env, "KVM_CREATE_VCPU", EBADF);
  int vcpufd = RetryIoctl(fd_.get(), KVM_CREATE_VCPU, reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
  if (vcpufd < 0) ThrowErrno(env, "KVM_CREATE_VCPU", errno);
  struct {
    int fd;
    std::shared_ptr<VmState>* state;
  } init{vcpufd, &state_};
  auto* data = env.GetInstanceData<AddonData>();
  return data->vcpuClass.New({Napi::External<decltype(init)>::New(env, &init)});
}

// setUserMemoryRegion(slot, flags, guestPhysAddr, memorySize, userspaceAddr)
// A non-empty slot must lie inside a live HostMemory mapping: the kernel would
// otherwise let the guest read and write arbitrary memory of this process.
Napi::Value Vm::SetUserMemoryRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_userspace_memory_region r{};
  r.slot = ArgU32(info, 0, "slot");
  r.flags = ArgU32(info, 1, "flags");
  r.guest_phys_addr = ArgU64(info, 2, "guestPhysAddr");
  r.memory_size = ArgU64(info, 3, "memorySize");
  r.userspace_addr = ArgU64(info, 4, "userspaceAddr");
  if (fd_.get() < 0) ThrowErrno(env, "KVM_SET_USER_MEMORY_REGION", EBADF);
  std::shared_ptr<Mapping> mapping;
  if (r.memory_size != 0) {
    mapping = FindMapping(r.userspace_addr, r.memory_size);
    if (!mapping) ThrowRange(env, "userspaceAddr..+memorySize is not inside a live mapping from allocateHostMemory()");
  }
  if (RetryIoctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0) ThrowErrno(env, "KVM_SET_USER_MEMORY_REGION", errno);

  std::lock_guard<std::mutex> g(state_->lock);
  auto it = state_->slots.find(r.slot);
  if (it != state_->slots.end()) {
    it->second.mapping->slotRefs--;
    state_->slots.erase(it);
  }
  if (mapping) {
    mapping->slotRefs++;
    state_->slots[r.slot] = {mapping, r.guest_phys_addr, r.memory_size};
  }
  return env.Undefined();
}

// getDirtyLog(slot, bitmap: Uint8Array): fills one bit per 4 KiB page (and
// clears the kernel's log for that slot).
Napi::Value Vm::GetDirtyLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot = ArgU32(info, 0, "slot");
  Napi::Uint8Array bitmap = ArgBytes(info, 1, "bitmap");
  if (fd_.get() < 0) ThrowErrno(env, "KVM_GET_DIRTY_LOG", EBADF);
  uint64_t size;
  {
    std::lock_guard<std::mutex> g(state_->lock);
    auto it = state_->slots.find(slot);
    if (it == state_->slots.end()) ThrowErrno(env, "KVM_GET_DIRTY_LOG", ENOENT);
    size = it->second.memorySize;
  }
  uint64_t pages = (size + 4095) / 4096;
  size_t need = static_cast<size_t>((pages + 63) / 64 * 8);
  if (bitmap.ByteLength() < need)
    ThrowRange(env, "bitmap needs " + std::to_string(need) + " bytes for this slot");
  // A private buffer (never JavaScript memory, see ioctl.h), reused: this runs
  // on every snapshot restore.
  thread_local std::vector<uint8_t> copy;
  if (copy.size() < need) copy.resize(need);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = copy.data();
  if (RetryIoctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) ThrowErrno(env, "KVM_GET_DIRTY_LOG", errno);
  if (bitmap.ByteLength() >= need) std::memcpy(bitmap.Data(), copy.data(), need);
  return env.Undefined();
}

Napi::Value Vm::Close(const Napi::CallbackInfo& info) {
  CloseFd();
  return info.Env().Undefined();
}

Napi::Value Vm::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_.get() < 0);
}

}  // namespace nkvm
