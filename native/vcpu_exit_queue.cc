// VcpuExitQueue: the JavaScript handle of an ExitQueueState (see the header).
//   new VcpuExitQueue(threads)  for up to `threads` VcpuThreads (1..65536)
//   wait(ms) -> -1, or a thread at an exit: its index
//                         + 65536 * (exit reason + 1, or 0 for a KVM_RUN error)
//   idle()  the handler takes no exits for now (spin admission, spin_wait.h)
//   clockMs() the monotonic clock the native side times with (MonoNs()), in
//           milliseconds: for VcpuThread.resumeWait()'s deadline
//   stats() -> { taken, handoffNs, spinHits, spinMisses, spinSkipped, spinRefused }
#include <napi.h>

#include "errors.h"
#include "handles.h"
#include "vcpu_exit_queue.h"

namespace nkvm {

class VcpuExitQueue : public Napi::ObjectWrap<VcpuExitQueue> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "VcpuExitQueue", {InstanceMethod<&VcpuExitQueue::JsWait>("wait"),
                                                  InstanceMethod<&VcpuExitQueue::JsIdle>("idle"),
                                                  InstanceMethod<&VcpuExitQueue::JsClockMs>("clockMs"),
                                                  InstanceMethod<&VcpuExitQueue::JsStats>("stats")});
  }
  explicit VcpuExitQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VcpuExitQueue>(info) {
    TagObject(info, kVcpuExitQueueTag);
    uint64_t threads = ArgU64(info, 0, "threads");
    if (threads < 1 || threads > ExitQueueState::kIndexSpan) ThrowRange(info.Env(), "threads must be 1 to 65536");
    state_ = std::make_shared<ExitQueueState>(static_cast<uint32_t>(threads));
  }
  std::shared_ptr<ExitQueueState> state_;

 private:
  // Blocks the JavaScript thread: the caller bounds `ms` (a run's slice).
  Napi::Value JsWait(const Napi::CallbackInfo& info) {
    uint64_t ms = ArgU64(info, 0, "ms");
    return Napi::Number::New(info.Env(), state_->Wait(ms));
  }

  Napi::Value JsIdle(const Napi::CallbackInfo& info) {
    state_->Idle();
    return info.Env().Undefined();
  }

  Napi::Value JsClockMs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(MonoNs()) / 1e6);
  }

  // For benchmarks and tests: exits taken, the time from their push to
  // their taking summed (the handoff to JavaScript), how the waits went.
  Napi::Value JsStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ExitQueueState& q = *state_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("taken", Napi::Number::New(env, static_cast<double>(q.taken)));
    o.Set("handoffNs", Napi::Number::New(env, static_cast<double>(q.handoffNs)));
    SetSpinStats(env, o, q.spins);
    return o;
  }
};

std::shared_ptr<ExitQueueState> UnwrapExitQueue(Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kVcpuExitQueueTag)) return nullptr;
  VcpuExitQueue* q = Napi::ObjectWrap<VcpuExitQueue>::Unwrap(v.As<Napi::Object>());
  return q == nullptr ? nullptr : q->state_;
}

Napi::Function InitVcpuExitQueue(Napi::Env env) { return VcpuExitQueue::Init(env); }

}  // namespace nkvm
