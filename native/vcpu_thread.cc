// VcpuThread: runs one vCPU's KVM_RUN on a dedicated native thread, so the
// JavaScript thread stays free (to commit memory map changes, for instance)
// while the guest runs.
//
// Mechanism only; the policy (what to do with an exit, when to hold) is in
// lib/kvm/vcpu-thread.ts.  The thread works on its own dup() of the vCPU fd
// and its own mapping of the kvm_run page (the same kernel page the Vcpu
// object shows to JavaScript), so its lifetime does not depend on the Vcpu
// object's.
//
//   resume([immediate])  let the thread do KVM_RUN (again) after an exit was
//                 handled; `immediate`: with immediate_exit set, so KVM only
//                 finishes a pending I/O instruction and reports KVM_EXIT_INTR
//   resumeWait(untilMs, maxMs)  started with a queue: resume(), then the
//                 queue's wait until its clock (clockMs()) reads untilMs, at
//                 most maxMs; -2 if untilMs had passed (resumed, not waited).
//                 One call per exit, no clock read in JavaScript between the
//                 exit's taking and the resume (the SMP run loop's per-exit step)
//   poll()/wait() the pending exit: exit_reason, or -1 while the guest runs
//   hold()        kick the thread out of KVM_RUN (immediate_exit + signal),
//                 wait until it has left the ioctl, keep it out until release();
//                 an exit caused only by the hold is not reported and the
//                 thread re-enters KVM_RUN after the last release()
//   kick()        a user-visible kick: the run reports KVM_EXIT_INTR
//   start(queue, index)  report exits by pushing `index` to a VcpuExitQueue
//                 (vcpu_exit_queue.h) instead of calling back through libuv;
//                 the thread then spins a bounded, adaptive while for its
//                 resume() before it sleeps (spin_wait.h: the policy)
//   stats()       counters, and where a queued exit's time goes (ns summed)
//   threadId      the thread's kernel thread id (HMP's `info cpus`)
//   VcpuThread.currentThreadId()  the calling thread's (one vCPU runs on the JS thread)
//   stop()        end and join the thread, close the fd, unmap the page
//
// The thread is also stopped when its JavaScript environment is torn down (a
// Worker that ends or is terminated): a cleanup hook, since nothing else would
// stop a guest spinning there, and the exit callback must not outlive the env.
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "errors.h"
#include "handles.h"
#include "spin_wait.h"
#include "vcpu_exit_queue.h"

namespace nkvm {

// Same signal as vcpu.cc's kick; its process-wide handler (installed by
// Vcpu::Init) sets immediate_exit on the kvm_run page passed in sival_ptr.
static int ThreadKickSignal() { return SIGRTMIN + 4; }

class VcpuThread : public Napi::ObjectWrap<VcpuThread> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit VcpuThread(const Napi::CallbackInfo& info);
  ~VcpuThread() override;

 private:
  static void OnEnvCleanup(void* self) { static_cast<VcpuThread*>(self)->Stop(); }
  void Loop();
  void Stop();
  void Signal();
  Napi::Value JsStart(const Napi::CallbackInfo& info);
  Napi::Value JsResume(const Napi::CallbackInfo& info);
  Napi::Value JsResumeWait(const Napi::CallbackInfo& info);
  uint64_t Resume(Napi::Env env, const char* what, bool immediate);
  Napi::Value JsPoll(const Napi::CallbackInfo& info);
  Napi::Value JsWait(const Napi::CallbackInfo& info);
  Napi::Value JsHold(const Napi::CallbackInfo& info);
  Napi::Value JsRelease(const Napi::CallbackInfo& info);
  Napi::Value JsKick(const Napi::CallbackInfo& info);
  Napi::Value JsStop(const Napi::CallbackInfo& info);
  Napi::Value JsClosed(const Napi::CallbackInfo& info);
  Napi::Value JsThreadId(const Napi::CallbackInfo& info);
  static Napi::Value JsCurrentThreadId(const Napi::CallbackInfo& info);
  Napi::Value JsStats(const Napi::CallbackInfo& info);
  Napi::Value PendingResult(Napi::Env env);
  // Under m_, when the thread runs again after a sleep: no longer `waking` on the queue.
  void NoteRunning() {
    if (!woken_) return;
    woken_ = false;
    if (queue_) queue_->waking.fetch_sub(1, std::memory_order_relaxed);
  }
  // wakeSeq_ for the spinner, cv_.notify_all() for the sleeper, after a change
  // made under m_: called after m_ is released, so a spinner that sees the
  // new wakeSeq_ finds m_ free (it takes m_ and checks again before sleeping).
  void Wake();

  int fd_ = -1;
  kvm_run* run_ = nullptr;
  size_t runSize_ = 0;
  std::shared_ptr<VmState> state_;

  std::thread thread_;
  pthread_t tid_{};
  int osTid_ = 0;  // gettid() of the thread, set by Loop() before start() returns
  // m_ and what resume() writes, on one cache line: the line the JavaScript
  // thread takes from the vCPU thread's core to resume it, and back (each
  // cross-core move of a line costs ~0.2 us here: a handoff is a few of them).
  alignas(64) std::mutex m_;
  uint64_t resumedAt_ = 0;  // (see resumeNs_)
  int resumedOn_ = -1;      // the CPU resume() ran on (AdaptiveSpin::NoteOtherCpu)
  int exitErrno_ = 0;
  uint64_t queuedTicket_ = 0;  // the queue's ticket + 1 of the last exit pushed (0: none)
  bool runRequested_ = false;
  bool exitPending_ = false;
  // Under m_: the thread sleeps on cv_; resume() woke it from that sleep and
  // counted it in the queue's `waking` until it runs (NoteRunning()).
  bool sleeping_ = false, woken_ = false;
  BusyMark wantsCore_;  // from resume() (or a spin that saw it) to the next reported exit (spin admission)
  alignas(64) std::condition_variable cv_;
  bool started_ = false;
  bool stop_ = false;
  bool inRun_ = false;
  bool holdKicked_ = false;
  int holds_ = 0;
  int exitReason_ = 0;
  uint64_t runs_ = 0, holdExits_ = 0, holdsTaken_ = 0;
  // Where the time goes (under m_): inside KVM_RUN; from resume() to the
  // thread's next KVM_RUN (the resume handoff), over `resumes_` resumes.
  uint64_t guestNs_ = 0, resumeNs_ = 0, resumes_ = 0;
  // Bumped by Wake(): the thread spins on it after pushing an exit, so it
  // sees resume() without sleeping on cv_ (then takes m_ and checks again).
  // On a cache line of its own: the JavaScript thread writes it, the vCPU thread polls it.
  alignas(64) std::atomic<uint32_t> wakeSeq_{0};
  alignas(64) AdaptiveSpin spin_;  // the thread's own
  SpinCounters spins_;
  bool hasTsfn_ = false;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<ExitQueueState> queue_;  // start(queue, index): where exits go
  int queueIndex_ = -1;
  napi_env env_ = nullptr;  // where OnEnvCleanup is registered
};

Napi::Function VcpuThread::Init(Napi::Env env) {
  return DefineClass(env, "VcpuThread", {
      InstanceMethod<&VcpuThread::JsStart>("start"),
      InstanceMethod<&VcpuThread::JsResume>("resume"),
      InstanceMethod<&VcpuThread::JsResumeWait>("resumeWait"),
      InstanceMethod<&VcpuThread::JsPoll>("poll"),
      InstanceMethod<&VcpuThread::JsWait>("wait"),
      InstanceMethod<&VcpuThread::JsHold>("hold"),
      InstanceMethod<&VcpuThread::JsRelease>("release"),
      InstanceMethod<&VcpuThread::JsKick>("kick"),
      InstanceMethod<&VcpuThread::JsStop>("stop"),
      InstanceMethod<&VcpuThread::JsStats>("stats"),
      InstanceAccessor<&VcpuThread::JsClosed>("closed"),
      InstanceAccessor<&VcpuThread::JsThreadId>("threadId"),
      StaticMethod<&VcpuThread::JsCurrentThreadId>("currentThreadId"),
  });
}

// new VcpuThread(vcpuHandle)
VcpuThread::VcpuThread(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VcpuThread>(info) {
  Napi::Env env = info.Env();
  TagObject(info, kVcpuThreadTag);
  const char* expects = "VcpuThread expects a native vCPU handle (vcpu.native of a Vcpu from vm.createVcpu())";
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kVcpuTag)) ThrowType(env, expects);
  Vcpu* vcpu = Napi::ObjectWrap<Vcpu>::Unwrap(info[0].As<Napi::Object>());
  if (vcpu == nullptr) ThrowType(env, expects);
  if (vcpu->fd_.get() < 0) ThrowErrno(env, "VcpuThread", EBADF);
  int fd = dup(vcpu->fd_.get());
  if (fd < 0) ThrowErrno(env, "dup", errno);
  size_t size = vcpu->state_->vcpuMmapSize;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "mmap", err);
  }
  fd_ = fd;
  run_ = static_cast<kvm_run*>(p);
  runSize_ = size;
  state_ = vcpu->state_;
  state_->Opened();  // the dup keeps the VM (and its slots' memory) alive too
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, this) == napi_ok) env_ = env;
}

VcpuThread::~VcpuThread() {
  Stop();
  if (env_ != nullptr) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
}

void VcpuThread::Loop() {
  // Only the kick signal is for this thread. Signals sent to the process
  // (SIGCHLD, SIGPROF, ...) are left to Node's threads: here they would only
  // interrupt KVM_RUN.
  sigset_t others;
  sigfillset(&others);
  sigdelset(&others, ThreadKickSignal());
  pthread_sigmask(SIG_BLOCK, &others, nullptr);
  std::unique_lock<std::mutex> lk(m_);
  osTid_ = static_cast<int>(syscall(SYS_gettid));
  cv_.notify_all();  // start() waits for osTid_
  for (;;) {
    if (!stop_ && !(runRequested_ && holds_ == 0)) {
      sleeping_ = true;
      cv_.wait(lk, [&] { return stop_ || (runRequested_ && holds_ == 0); });
      sleeping_ = false;
    }
    NoteRunning();
    if (stop_) break;
    inRun_ = true;
    uint64_t t0 = MonoNs();
    if (resumedAt_ != 0) {
      resumeNs_ += t0 - resumedAt_;
      ++resumes_;
      resumedAt_ = 0;
      spin_.NoteOtherCpu(resumedOn_, sched_getcpu());
    }
    lk.unlock();
    int r = ioctl(fd_, KVM_RUN, 0);
    int err = errno;
    uint64_t t1 = MonoNs();
    lk.lock();
    guestNs_ += t1 - t0;
    inRun_ = false;
    ++runs_;
    bool ours = holdKicked_;
    holdKicked_ = false;
    if (ours) run_->immediate_exit = 0;  // our own kick, consumed
    cv_.notify_all();                     // a holder waits for !inRun_
    bool interrupted = r < 0 && (err == EINTR || err == EAGAIN);
    if (interrupted && ours) {  // only the hold stopped it: run again after release
      ++holdExits_;
      continue;
    }
    // Interrupted by no kick of ours (immediate_exit unset): not an exit.
    if (interrupted && run_->immediate_exit == 0 && !stop_) continue;
    runRequested_ = false;
    exitPending_ = true;
    exitErrno_ = (r < 0 && !interrupted) ? err : 0;
    exitReason_ = r < 0 ? KVM_EXIT_INTR : static_cast<int>(run_->exit_reason);
    // Not after a kick (KVM_EXIT_INTR: a stop, the end of a run slice): the
    // resume comes after the event loop's turn, if at all.
    bool kicked = exitReason_ == KVM_EXIT_INTR;
    // A thread about to spin wants a core on (the spin clears this when it
    // gives up): no write to the shared busy count between exit and push.
    if (!queue_ || kicked) wantsCore_.Set(false);
    if (queue_) {
      // The exit's place in the queue under m_ (resume() refuses while it
      // is not taken), its push without m_ held (the handler's poll() takes
      // it next); then watch wakeSeq_ for the resume, which the loop's wait
      // checks under m_.
      uint64_t ticket = queue_->Reserve();
      queuedTicket_ = ticket + 1;
      uint32_t seq = wakeSeq_.load(std::memory_order_relaxed);
      int code = exitErrno_ != 0 ? 0 : exitReason_ + 1;
      lk.unlock();
      queue_->Push(ticket, queueIndex_, code, sched_getcpu(), t1);
      if (!kicked) {
        ExitQueueState* q = queue_.get();
        spin_.Spin([&] { return wakeSeq_.load(std::memory_order_acquire) != seq; }, wantsCore_, spins_, t1,
                   [q](int cpu) { return q->Handler(cpu); });
      }
      LockSpinning(m_);
      lk = std::unique_lock<std::mutex>(m_, std::adopt_lock);
    } else if (hasTsfn_) {
      int reason = exitReason_;
      // env is null when the call is dropped at teardown. A callback that
      // throws becomes an uncaught exception in its environment; one that
      // cannot run (the environment is stopping) is dropped, never aborts
      // the process (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, CMakeLists.txt).
      tsfn_.NonBlockingCall([reason](Napi::Env env, Napi::Function cb) {
        if (env == nullptr || cb.IsEmpty() || EnvStopping(env)) return;
        cb.Call({Napi::Number::New(env, reason)});
      });
    }
  }
}

void VcpuThread::Signal() {
  sigval v{};
  v.sival_ptr = run_;
  pthread_sigqueue(tid_, ThreadKickSignal(), v);
}

void VcpuThread::Stop() {
  {
    std::unique_lock<std::mutex> lk(m_);
    stop_ = true;
    if (started_ && inRun_) {
      run_->immediate_exit = 1;
      Signal();
    }
  }
  Wake();
  if (thread_.joinable()) {
    // Re-signal until the thread is out (a signal could land between the
    // immediate_exit check and a long KVM_RUN only if the page write raced;
    // immediate_exit makes that impossible, the loop is belt and braces).
    for (;;) {
      std::unique_lock<std::mutex> lk(m_);
      if (cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return !inRun_; })) break;
      Signal();
    }
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> g(m_);
    NoteRunning();  // (woken, and now never to run again)
  }
  wantsCore_.Set(false);  // resumed, and now never to run again
  if (hasTsfn_) {
    tsfn_.Release();
    hasTsfn_ = false;
  }
  if (run_ != nullptr) {
    munmap(run_, runSize_);
    run_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
    state_->Closed();
  }
}

// start([onExit]): create the thread (idle until resume()).  onExit(exitReason)
// is called on the JavaScript thread for every reported exit; while started
// with a callback the runner keeps the event loop alive until stop().
// start(queue, index): every reported exit pushes `index` to the queue.
Napi::Value VcpuThread::JsStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, "VcpuThread.start", EBADF);
  if (started_) ThrowRange(env, "the vCPU thread is already started");
  if (info.Length() > 1) {
    std::shared_ptr<ExitQueueState> queue = UnwrapExitQueue(info[0]);
    if (!queue) ThrowType(env, "start(queue, index) expects a VcpuExitQueue");
    uint64_t index = ArgU64(info, 1, "index");
    if (index >= ExitQueueState::kIndexSpan) ThrowRange(env, "index must be below 65536");
    // (Each started thread stays counted: the ring keeps a slot for it.)
    if (queue->producers.fetch_add(1) >= queue->capacity) {
      queue->producers.fetch_sub(1);
      uint32_t n = queue->capacity;
      ThrowRange(env, "this exit queue was made for " + std::to_string(n) + (n == 1 ? " vCPU thread" : " vCPU threads") + ", and all have started");
    }
    queue_ = std::move(queue);
    queueIndex_ = static_cast<int>(index);
  } else if (info.Length() > 0 && info[0].IsFunction()) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "node-kvm vcpu exit", 0, 1);
    hasTsfn_ = true;
  } else if (info.Length() > 0 && !info[0].IsUndefined()) {
    ThrowType(env, "onExit must be a function");
  }
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  tid_ = thread_.native_handle();
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait(lk, [&] { return osTid_ != 0; });
  return env.Undefined();
}

// resume(): returns the MonoNs() it read.
uint64_t VcpuThread::Resume(Napi::Env env, const char* what, bool immediate) {
  if (fd_ < 0) ThrowErrno(env, what, EBADF);
  if (!started_) ThrowRange(env, "start() the vCPU thread first");
  // Kept here: once m_ is released the thread may run and clear resumedAt_.
  uint64_t at;
  {
    std::lock_guard<std::mutex> g(m_);
    if (runRequested_) ThrowRange(env, "the vCPU is already running");
    // (The handler is this thread: its queue's head is ours to read.)
    if (queuedTicket_ != 0 && queue_->Queued(queuedTicket_ - 1)) ThrowRange(env, "the vCPU's exit is still in its queue: take it with the queue's wait() first");
    exitPending_ = false;
    exitErrno_ = 0;
    // A kick that arrived while stopped is void; resume(true) finishes pending I/O only.
    // Written only when it changes: the kvm_run line it shares with the exit
    // the handler just read would otherwise move to this core, and KVM_RUN's
    // entry on the vCPU's core would have to fetch it back (every exit).
    uint8_t want = immediate ? 1 : 0;
    if (run_->immediate_exit != want) run_->immediate_exit = want;
    runRequested_ = true;
    wantsCore_.Set(true);
    resumedAt_ = at = MonoNs();
    resumedOn_ = sched_getcpu();
    if (sleeping_ && !woken_ && queue_) {  // (held: it sleeps on until release(), counted as waking)
      woken_ = true;
      queue_->waking.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (queue_) queue_->handlerBusy.Set(true);  // the handler runs: it is resuming us
  Wake();
  return at;
}

Napi::Value VcpuThread::JsResume(const Napi::CallbackInfo& info) {
  Resume(info.Env(), "VcpuThread.resume", info.Length() > 0 && info[0].ToBoolean());
  return info.Env().Undefined();
}

// resumeWait(untilMs, maxMs): see the top. Blocks the JavaScript thread.
Napi::Value VcpuThread::JsResumeWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowType(env, "untilMs must be a number");
  double until = info[0].As<Napi::Number>().DoubleValue();
  if (std::isnan(until)) ThrowRange(env, "untilMs must not be NaN");
  uint64_t maxMs = ArgU64(info, 1, "maxMs");
  if (fd_ >= 0 && started_ && !queue_) ThrowRange(env, "resumeWait() needs a thread started with an exit queue");
  uint64_t now = Resume(env, "VcpuThread.resumeWait", false);
  double left = until - static_cast<double>(now) / 1e6;
  if (!(left > 0)) return Napi::Number::New(env, -2);
  uint64_t ms = left >= static_cast<double>(maxMs) ? maxMs : static_cast<uint64_t>(std::ceil(left));
  // (queue_ outlives the thread's stop(): a shared_ptr this object holds)
  return Napi::Number::New(env, queue_->Wait(ms, now));
}

void VcpuThread::Wake() {
  wakeSeq_.fetch_add(1, std::memory_order_release);
  cv_.notify_all();
}

Napi::Value VcpuThread::PendingResult(Napi::Env env) {
  if (!exitPending_) return Napi::Number::New(env, -1);
  if (exitErrno_ != 0) {
    int err = exitErrno_;
    exitErrno_ = 0;
    exitPending_ = false;
    ThrowErrno(env, "KVM_RUN", err);
  }
  return Napi::Number::New(env, exitReason_);
}

// poll(): the pending exit reason, or -1 while the guest runs / nothing happened.
Napi::Value VcpuThread::JsPoll(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> g(m_);
  return PendingResult(info.Env());
}

// wait(ms): like poll(), blocking up to ms milliseconds for an exit.
Napi::Value VcpuThread::JsWait(const Napi::CallbackInfo& info) {
  uint64_t ms = ArgU64(info, 0, "ms");
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] { return exitPending_ || stop_; });
  return PendingResult(info.Env());
}

// hold(): true if the thread was inside KVM_RUN and has been kicked out.
Napi::Value VcpuThread::JsHold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_lock<std::mutex> lk(m_);
  ++holds_;
  ++holdsTaken_;
  if (!inRun_) return Napi::Boolean::New(env, false);
  // If immediate_exit is already set a user kick is pending: let it be
  // reported as an interrupted run rather than swallowing it as ours.
  if (run_->immediate_exit == 0) {
    holdKicked_ = true;
    run_->immediate_exit = 1;
  }
  Signal();
  while (!cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return !inRun_; })) Signal();
  return Napi::Boolean::New(env, true);
}

Napi::Value VcpuThread::JsRelease(const Napi::CallbackInfo& info) {
  bool last;
  {
    std::lock_guard<std::mutex> g(m_);
    if (holds_ == 0) ThrowRange(info.Env(), "release() without hold()");
    last = --holds_ == 0;
  }
  if (last) Wake();
  return info.Env().Undefined();
}

Napi::Value VcpuThread::JsKick(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> g(m_);
  if (run_ != nullptr && runRequested_) {
    run_->immediate_exit = 1;
    if (inRun_) Signal();
  }
  return info.Env().Undefined();
}

Napi::Value VcpuThread::JsStop(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

Napi::Value VcpuThread::JsClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

Napi::Value VcpuThread::JsThreadId(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> g(m_);
  return Napi::Number::New(info.Env(), osTid_);
}

Napi::Value VcpuThread::JsCurrentThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

// stats(): { runs, holdExits, holds, running, guestNs, resumeNs, resumes,
// spinHits, spinMisses, spinSkipped, spinRefused }, for tests and benchmarks.
Napi::Value VcpuThread::JsStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> g(m_);
  Napi::Object o = Napi::Object::New(env);
  o.Set("runs", Napi::Number::New(env, static_cast<double>(runs_)));
  o.Set("holdExits", Napi::Number::New(env, static_cast<double>(holdExits_)));
  o.Set("holds", Napi::Number::New(env, static_cast<double>(holdsTaken_)));
  o.Set("running", Napi::Boolean::New(env, runRequested_));
  o.Set("guestNs", Napi::Number::New(env, static_cast<double>(guestNs_)));
  o.Set("resumeNs", Napi::Number::New(env, static_cast<double>(resumeNs_)));
  o.Set("resumes", Napi::Number::New(env, static_cast<double>(resumes_)));
  SetSpinStats(env, o, spins_);
  return o;
}

Napi::Function InitVcpuThread(Napi::Env env) { return VcpuThread::Init(env); }

}  // namespace nkvm
