// VcpuExitQueue: the JavaScript handle of an ExitQueueState (see the header).
//   new VcpuExitQueue()   wait(ms) -> index of a thread at an exit, or -1
#include <napi.h>

#include "errors.h"
#include "handles.h"
#include "vcpu_exit_queue.h"

namespace nkvm {

class VcpuExitQueue : public Napi::ObjectWrap<VcpuExitQueue> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "VcpuExitQueue", {InstanceMethod<&VcpuExitQueue::JsWait>("wait")});
  }
  explicit VcpuExitQueue(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<VcpuExitQueue>(info), state_(std::make_shared<ExitQueueState>()) {
    TagObject(info, kVcpuExitQueueTag);
  }
  std::shared_ptr<ExitQueueState> state_;

 private:
  // Blocks the JavaScript thread: the caller bounds `ms` (a run's slice).
  Napi::Value JsWait(const Napi::CallbackInfo& info) {
    uint64_t ms = ArgU64(info, 0, "ms");
    return Napi::Number::New(info.Env(), state_->Wait(ms));
  }
};

std::shared_ptr<ExitQueueState> UnwrapExitQueue(Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kVcpuExitQueueTag)) return nullptr;
  VcpuExitQueue* q = Napi::ObjectWrap<VcpuExitQueue>::Unwrap(v.As<Napi::Object>());
  return q == nullptr ? nullptr : q->state_;
}

Napi::Function InitVcpuExitQueue(Napi::Env env) { return VcpuExitQueue::Init(env); }

}  // namespace nkvm
