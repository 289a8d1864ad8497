#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "errors.h"
#include "handles.h"
#include "ioctl.h"

namespace nkvm {

bool Fd::Close() {
  if (fd_ < 0) return false;
  close(fd_);
  fd_ = -1;
  return true;
}

Napi::Function Kvm::Init(Napi::Env env) {
  return DefineClass(env, "Kvm", {
      InstanceMethod<&Kvm::Ioctl>("ioctl"),
      InstanceMethod<&Kvm::CreateVm>("createVm"),
      InstanceMethod<&Kvm::Close>("close"),
      InstanceAccessor<&Kvm::GetClosed>("closed"),
  });
}

// new Kvm(path: string): opens the KVM system device.
Kvm::Kvm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Kvm>(info) {
  TagObject(info, kKvmTag);
  if (!info[0].IsString()) ThrowType(info.Env(), "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "open", errno);
  fd_.Adopt(fd);
}

Napi::Value Kvm::Ioctl(const Napi::CallbackInfo& info) { return IssueIoctl(info, fd_.get(), kSystem); }

// createVm(type = 0): a Vm handle.
Napi::Value Kvm::CreateVm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_.get() < 0) ThrowErrno(env, "KVM_CREATE_VM", EBADF);
  uint64_t type = info[0].IsUndefined() ? 0 : ArgU64(info, 0, "type");
  int mmapSize = RetryIoctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, nullptr);
  if (mmapSize < 0) ThrowErrno(env, "KVM_GET_VCPU_MMAP_SIZE", errno);
  int vmfd = RetryIoctl(fd_.get(), KVM_CREATE_VM, reinterpret_cast<void*>(static_cast<uintptr_t>(type)));
  if (vmfd < 0) ThrowErrno(env, "KVM_CREATE_VM", errno);
  // Vm's constructor takes ownership of the fd; it only accepts this External.
  auto* data = env.GetInstanceData<AddonData>();
  int init[2] = {vmfd, mmapSize};
  return data->vmClass.New({Napi::External<int>::New(env, init)});
}

Napi::Value Kvm::Close(const Napi::CallbackInfo& info) {
  fd_.Close();
  return info.Env().Undefined();
}

Napi::Value Kvm::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_.get() < 0);
}

}  // namespace nkvm
