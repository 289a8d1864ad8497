// The exits of several VcpuThreads, in the order they happened, for the one
// thread that handles them (the JavaScript thread: QEMU's big lock). Each
// thread pushes its index when it stops at an exit; the handler blocks in
// Wait() on one condition variable for all of them instead of one callback
// per exit through the event loop, which costs an eventfd wake-up and a turn
// of libuv each (see docs/architecture.md, "vCPU exit -> device").
#pragma once
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

namespace nkvm {

struct ExitQueueState {
  std::mutex m;
  std::condition_variable cv;
  std::deque<int> ready;

  void Push(int index) {
    {
      std::lock_guard<std::mutex> g(m);
      ready.push_back(index);
    }
    cv.notify_one();
  }

  // The index of the next thread at an exit, or -1 after `ms` milliseconds.
  int Wait(uint64_t ms) {
    std::unique_lock<std::mutex> lk(m);
    if (!cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return !ready.empty(); })) return -1;
    int i = ready.front();
    ready.pop_front();
    return i;
  }
};

// The JavaScript object's state, for VcpuThread.start(queue, index).
std::shared_ptr<ExitQueueState> UnwrapExitQueue(Napi::Value v);

}  // namespace nkvm
