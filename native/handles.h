// The three KVM file descriptors as JavaScript objects: the system handle
// (/dev/kvm), a VM and a vCPU. Each closes its descriptor on close() and, if
// the user forgot, in its GC finalizer.
#pragma once
#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "host_memory.h"

struct kvm_run;

namespace nkvm {

// Per-env constructors, so C++ can create Vm/Vcpu objects for JavaScript.
struct AddonData {
  Napi::FunctionReference vmClass;
  Napi::FunctionReference vcpuClass;
};

// Type tags of the native classes. Every constructor tags its object, and
// native code checks the tag before it unwraps an argument: napi_unwrap alone
// would hand back another class's pointer for an object of the wrong kind.
extern const napi_type_tag kKvmTag, kVmTag, kVcpuTag, kVcpuThreadTag, kVcpuExitQueueTag;

// Tags `self` (a constructor's `this`) as an object of the class `tag` names.
void TagObject(const Napi::CallbackInfo& info, const napi_type_tag& tag);

// True once the JavaScript environment `env` is stopping (its Worker is being
// terminated, or the process is exiting): N-API then refuses to run JavaScript.
bool EnvStopping(Napi::Env env);

// A file descriptor that is closed exactly once.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Adopt(int fd) { Close(); fd_ = fd; }
  bool Close();  // true if it was open
 private:
  int fd_;
};

// State shared by a VM and its vCPUs. The kernel keeps a VM's memory slots
// alive until the VM fd *and* every vCPU fd are closed, so the host mappings
// those slots point at stay referenced until the last of them closes.
struct VmState {
  struct Slot {
    std::shared_ptr<Mapping> mapping;
    uint64_t guestPhysAddr;
    uint64_t memorySize;
  };
  std::mutex lock;
  int openFds = 0;
  size_t vcpuMmapSize = 0;
  std::map<uint32_t, Slot> slots;

  void Opened();
  void Closed();  // releases every slot's mapping when the last fd closes
};

class Kvm : public Napi::ObjectWrap<Kvm> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Kvm(const Napi::CallbackInfo& info);

 private:
  Napi::Value Ioctl(const Napi::CallbackInfo& info);
  Napi::Value CreateVm(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  Fd fd_;
};

class Vm : public Napi::ObjectWrap<Vm> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Vm(const Napi::CallbackInfo& info);
  ~Vm() override;

 private:
  Napi::Value Ioctl(const Napi::CallbackInfo& info);
  Napi::Value CreateVcpu(const Napi::CallbackInfo& info);
  Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info);
  Napi::Value GetDirtyLog(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  void CloseFd();
  Fd fd_;
  std::shared_ptr<VmState> state_;
};

class Vcpu : public Napi::ObjectWrap<Vcpu> {
  friend class VcpuThread;  // vcpu_thread.cc dups fd_ and shares state_
  friend class RunWatchdog;  // vcpu.cc: reads inRun_/runs_, signals runThread_
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Vcpu(const Napi::CallbackInfo& info);
  ~Vcpu() override;

 private:
  Napi::Value Ioctl(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value RunBuffer(const Napi::CallbackInfo& info);
  Napi::Value SetTimer(const Napi::CallbackInfo& info);
  Napi::Value Kick(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  void CloseAll();
  void DeleteTimer();

  Fd fd_;
  std::shared_ptr<VmState> state_;
  std::unique_ptr<MappedBuffer> run_;  // the kvm_run page
  kvm_run* runPage_ = nullptr;
  void* timer_ = nullptr;  // timer_t, created on first SetTimer
  bool hasTimer_ = false;
  unsigned long runThread_ = 0;  // pthread_t of the last KVM_RUN caller
  // Written by the running thread, read by the watchdog (vcpu.cc).
  std::atomic<bool> inRun_{false};
  std::atomic<uint64_t> runs_{0};  // KVM_RUN calls so far
  uint64_t watchedRuns_ = 0;       // runs_ at the watchdog's last look (its own)
};

}  // namespace nkvm
