#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

#include "errors.h"
#include "handles.h"
#include "ioctl.h"

namespace nkvm {
namespace {

// The signal that kicks a vCPU out of KVM_RUN (a timeout or another thread's
// kick). Its handler only sets kvm_run.immediate_exit: if the signal lands
// just before KVM_RUN is entered, KVM_RUN then returns at once instead of the
// kick being lost.
int KickSignal() { return SIGRTMIN + 4; }

void OnKick(int, siginfo_t* si, void*) {
  auto* run = static_cast<kvm_run*>(si->si_value.sival_ptr);
  if (run != nullptr) run->immediate_exit = 1;
}

void InstallKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnKick;
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: KVM_RUN must return EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(KickSignal(), &sa, nullptr);
  });
}

}  // namespace

Napi::Function Vcpu::Init(Napi::Env env) {
  InstallKickHandler();
  return DefineClass(env, "Vcpu", {
      InstanceMethod<&Vcpu::Ioctl>("ioctl"),
      InstanceMethod<&Vcpu::Run>("run"),
      InstanceMethod<&Vcpu::RunBuffer>("runBuffer"),
      InstanceMethod<&Vcpu::SetTimer>("setTimer"),
      InstanceMethod<&Vcpu::Kick>("kick"),
      InstanceMethod<&Vcpu::Close>("close"),
      InstanceAccessor<&Vcpu::GetClosed>("closed"),
  });
}

// Only Vm.createVcpu() can make one.
Vcpu::Vcpu(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vcpu>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) ThrowType(env, "use vm.createVcpu() to create a vCPU");
  struct Init {
    int fd;
    std::shared_ptr<VmState>* state;
  };
  const Init* init = info[0].As<Napi::External<Init>>().Data();
  fd_.Adopt(init->fd);
  state_ = *init->state;
  size_t size = state_->vcpuMmapSize;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) {
    int err = errno;
    fd_.Close();
    ThrowErrno(env, "mmap", err);
  }
  auto m = std::make_shared<Mapping>();
  m->addr = static_cast<uint8_t*>(p);
  m->size = size;
  m->Adopt(p, size);
  run_ = std::make_unique<MappedBuffer>(std::move(m));
  runPage_ = static_cast<kvm_run*>(p);
  state_->Opened();
}

Vcpu::~Vcpu() { CloseAll(); }

void Vcpu::DeleteTimer() {
  if (!hasTimer_) return;
  timer_delete(static_cast<timer_t>(timer_));
  hasTimer_ = false;
}

void Vcpu::CloseAll() {
  if (fd_.get() < 0) return;
  DeleteTimer();  // before the page its signal writes to goes away
  if (run_) run_->Close();
  runPage_ = nullptr;
  fd_.Close();
  state_->Closed();
}

Napi::Value Vcpu::Ioctl(const Napi::CallbackInfo& info) { return IssueIoctl(info, fd_.get(), kVcpu); }

// run(): one KVM_RUN. Returns kvm_run.exit_reason (KVM_EXIT_INTR when a kick
// or the timer interrupted it). Everything else is read from runBuffer().
Napi::Value Vcpu::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_.get() < 0) ThrowErrno(env, "KVM_RUN", EBADF);
  runThread_ = static_cast<unsigned long>(pthread_self());
  if (ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    int err = errno;
    if (err == EINTR || err == EAGAIN) return Napi::Number::New(env, KVM_EXIT_INTR);
    ThrowErrno(env, "KVM_RUN", err);
  }
  return Napi::Number::New(env, runPage_->exit_reason);
}

Napi::Value Vcpu::RunBuffer(const Napi::CallbackInfo& info) {
  if (!run_) ThrowErrno(info.Env(), "Vcpu.runBuffer", EBADF);
  return run_->Buffer(info.Env(), "Vcpu.runBuffer");
}

// setTimer(ms): after `ms` milliseconds the vCPU is kicked out of KVM_RUN and
// stays out (immediate_exit) until setTimer(0) disarms and clears it.
// The timer signals the calling thread, which must be the one that runs the vCPU.
Napi::Value Vcpu::SetTimer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t ms = ArgU64(info, 0, "ms");
  if (fd_.get() < 0) ThrowErrno(env, "timer_settime", EBADF);
  if (!hasTimer_ && ms > 0) {
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = KickSignal();
    sev.sigev_value.sival_ptr = runPage_;
    sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) < 0) ThrowErrno(env, "timer_create", errno);
    timer_ = t;
    hasTimer_ = true;
  }
  if (hasTimer_) {
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
    if (timer_settime(static_cast<timer_t>(timer_), 0, &spec, nullptr) < 0) ThrowErrno(env, "timer_settime", errno);
  }
  // Disarmed above before clearing, so an expiry cannot re-set it behind us.
  runPage_->immediate_exit = 0;
  return env.Undefined();
}

// kick(): make the current or next KVM_RUN return (from any thread).
Napi::Value Vcpu::Kick(const Napi::CallbackInfo& info) {
  if (fd_.get() < 0) ThrowErrno(info.Env(), "Vcpu.kick", EBADF);
  runPage_->immediate_exit = 1;
  pthread_t target = static_cast<pthread_t>(runThread_);
  if (runThread_ != 0 && !pthread_equal(target, pthread_self())) {
    sigval v{};
    v.sival_ptr = runPage_;
    pthread_sigqueue(target, KickSignal(), v);
  }
  return info.Env().Undefined();
}

Napi::Value Vcpu::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

Napi::Value Vcpu::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_.get() < 0);
}

}  // namespace nkvm
