#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

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

// A kick with a null sival_ptr (the watchdog's) only interrupts KVM_RUN.
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

// Terminating a Worker (worker.terminate(), or process.exit() in the main
// thread, which terminates every Worker first) only stops JavaScript: a
// thread blocked in a long KVM_RUN (a guest spinning in runSync()) would never
// notice, and the terminate, or the whole process exit, would wait forever.
// Nothing can observe the termination from another thread, so this watchdog
// interrupts every KVM_RUN that has lasted a whole period; Vcpu::Run then
// asks N-API whether its environment is stopping, and re-enters KVM_RUN if
// not. Short runs (the exit hot path) are never touched. The thread exists
// only while vCPUs do (and 2 s after the last one closed).
class RunWatchdog {
 public:
  static RunWatchdog& Get() {
    static auto* w = new RunWatchdog();  // never destroyed: a detached thread uses it until exit
    return *w;
  }

  void Add(Vcpu* v) {
    std::lock_guard<std::mutex> g(m_);
    vcpus_.insert(v);
    if (!running_) {
      running_ = true;
      std::thread([this] { Loop(); }).detach();
    }
  }

  void Remove(Vcpu* v) {
    std::lock_guard<std::mutex> g(m_);
    vcpus_.erase(v);
  }

 private:
  static constexpr auto kPeriod = std::chrono::milliseconds(100);
  static constexpr int kIdlePeriods = 20;

  void Loop() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // process signals go to Node's threads, not here
    std::unique_lock<std::mutex> lk(m_);
    // Lingers a while without vCPUs, so that creating and closing machines in
    // a row does not start a thread each time.
    for (int idle = 0; idle < kIdlePeriods; idle = vcpus_.empty() ? idle + 1 : 0) {
      cv_.wait_for(lk, kPeriod);
      for (Vcpu* v : vcpus_) {
        uint64_t runs = v->runs_.load(std::memory_order_relaxed);
        // Remove() needs m_, so v (and the thread inside its Run) is alive here.
        if (v->inRun_.load(std::memory_order_acquire) && runs == v->watchedRuns_) {
          sigval none{};
          pthread_sigqueue(static_cast<pthread_t>(v->runThread_), KickSignal(), none);
        }
        v->watchedRuns_ = runs;
      }
    }
    running_ = false;
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::set<Vcpu*> vcpus_;
  bool running_ = false;
};

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
  TagObject(info, kVcpuTag);  // before anything but fd_ is taken: if it throws, ~Fd closes the fd
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
  RunWatchdog::Get().Add(this);
}

Vcpu::~Vcpu() { CloseAll(); }

void Vcpu::DeleteTimer() {
  if (!hasTimer_) return;
  timer_delete(static_cast<timer_t>(timer_));
  hasTimer_ = false;
}

void Vcpu::CloseAll() {
  if (fd_.get() < 0) return;
  RunWatchdog::Get().Remove(this);
  DeleteTimer();  // before the page its signal writes to goes away
  if (run_) run_->Close();
  runPage_ = nullptr;
  fd_.Close();
  state_->Closed();
}

Napi::Value Vcpu::Ioctl(const Napi::CallbackInfo& info) { return IssueIoctl(info, fd_.get(), kVcpu); }

// run(): one KVM_RUN. Returns kvm_run.exit_reason (KVM_EXIT_INTR when a kick
// or the timer interrupted it). Everything else is read from runBuffer().
//
// Every signal that interrupts KVM_RUN makes it return EINTR, including the
// ones Node handles for itself (SIGCHLD of a child process, the profiler's
// SIGPROF, a SIGTERM listener). Only node-kvm's own interruptions (a kick,
// the timer, requestExit()) set immediate_exit, so anything else re-enters
// KVM_RUN, unless the environment is stopping (see RunWatchdog).
Napi::Value Vcpu::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_.get() < 0) ThrowErrno(env, "KVM_RUN", EBADF);
  runThread_ = static_cast<unsigned long>(pthread_self());
  for (;;) {
    runs_.store(runs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    inRun_.store(true, std::memory_order_release);  // publishes runThread_ to the watchdog
    int r = ioctl(fd_.get(), KVM_RUN, 0);
    int err = errno;
    inRun_.store(false, std::memory_order_relaxed);
    if (r >= 0) return Napi::Number::New(env, runPage_->exit_reason);
    if (err != EINTR && err != EAGAIN) ThrowErrno(env, "KVM_RUN", err);
    if (runPage_->immediate_exit != 0 || EnvStopping(env)) return Napi::Number::New(env, KVM_EXIT_INTR);
  }
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
