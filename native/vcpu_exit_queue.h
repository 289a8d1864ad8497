// The exits of several VcpuThreads, in the order they happened, for the one
// thread that handles them (the JavaScript thread: QEMU's big lock). Each
// thread pushes its index (and the exit's reason, so the handler needs no
// second call to learn it) when it stops at an exit; the handler waits in
// Wait() for all of them instead of one callback per exit through the event
// loop, which costs an eventfd wake-up and a turn of libuv each (see
// docs/architecture.md, "vCPU exit -> device"). Wait() first spins a bounded,
// adaptive while (spin_wait.h) and only then sleeps on the condition
// variable: when exits come fast, a futex sleep + wake-up (~30 us here)
// would cost more than the exit.
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "spin_wait.h"

namespace nkvm {

// A SpinCounters as the spinHits/spinMisses/spinSkipped/spinRefused fields of
// a stats() object (the queue's and each VcpuThread's).
inline void SetSpinStats(Napi::Env env, Napi::Object o, const SpinCounters& c) {
  o.Set("spinHits", Napi::Number::New(env, static_cast<double>(c.hits.load())));
  o.Set("spinMisses", Napi::Number::New(env, static_cast<double>(c.misses.load())));
  o.Set("spinSkipped", Napi::Number::New(env, static_cast<double>(c.skipped.load())));
  o.Set("spinRefused", Napi::Number::New(env, static_cast<double>(c.refused.load())));
}

struct ExitQueueState {
  // Wait()'s result: -1, or index + kIndexSpan * code, where code is the
  // exit reason + 1, or 0 when the exit carries a KVM_RUN error (the handler
  // reads it from the thread, which throws it).
  static constexpr int kIndexSpan = 1 << 16;
  struct Entry {
    int index;
    int code;
    int cpu;  // where the pushing thread was (AdaptiveSpin::NoteOtherCpu)
    uint64_t pushedNs;
  };

  // Under m, for pushers and the handler:
  std::mutex m;
  std::condition_variable cv;
  std::deque<Entry> ready;
  int sleepers = 0;  // handlers blocked on cv (under m): only then notify

  // The words the spinners poll, each on its own cache line (a pusher's
  // write to one does not take the line of another from its reader):
  // About ready.size(), for the spinner (read without m): raised after m is
  // released, so a spinner that sees it finds m free; may lag or dip below
  // 0 for an instant (the spinner waits for > 0, then checks under m).
  alignas(64) std::atomic<int> count{0};
  // The CPU the handler runs on (where it took its last exit) while it
  // handles exits or spins for the next, -1 while it sleeps or is idle: a
  // vCPU thread waiting for its resume need not yield while the handler
  // runs on another CPU. (Written only when it changes: its line stays shared.)
  alignas(64) std::atomic<int> handlerCpu{-1};
  // vCPU threads resume() woke from a sleep that have not run yet (they
  // may wait for the handler's core): the handler's spin then yields.
  std::atomic<int> waking{0};

  // Handler side only (one handling thread at a time):
  alignas(64) AdaptiveSpin spin;
  // The handler wants a core: while it spins, from a push that wakes it,
  // from taking an exit or resuming a vCPU, until its next Wait() or Idle().
  BusyMark handlerBusy;
  // Statistics (stats()): exits taken, push -> taken ns summed, spin outcomes.
  uint64_t taken = 0, handoffNs = 0;
  SpinCounters spins;

  // The handler stops taking exits for now (the run's end, a turn of the
  // event loop): it no longer counts as a thread that wants a core.
  void Idle() {
    SetHandlerCpu(-1);
    handlerBusy.Set(false);
  }
  void SetHandlerCpu(int cpu) {
    if (handlerCpu.load(std::memory_order_relaxed) != cpu) handlerCpu.store(cpu, std::memory_order_relaxed);
  }

  // Where a vCPU thread waiting for its resume finds the handler (AdaptiveSpin::Spin's `where`).
  OtherSide Handler(int cpu) const {
    int h = handlerCpu.load(std::memory_order_relaxed);
    return h < 0 ? OtherSide::kUnknown : h == cpu ? OtherSide::kHere : OtherSide::kElsewhere;
  }

  // `nowNs`: MonoNs() at the exit (KVM_RUN's return), `cpu` the pusher's.
  void Push(int index, int code, int cpu, uint64_t nowNs) {
    bool wake;
    {
      std::lock_guard<std::mutex> g(m);
      ready.push_back({index, code, cpu, nowNs});
      wake = sleepers > 0;
    }
    count.fetch_add(1, std::memory_order_release);
    if (wake) {
      handlerBusy.Set(true);
      cv.notify_one();
    }
  }

  // The next thread at an exit (index and code, see kIndexSpan), or -1
  // after `ms` milliseconds. `nowNs`: MonoNs() if the caller just read it, else 0.
  // (handlerBusy stays set into the spin, which clears it if it gives up:
  // no write to the shared busy count when the handler goes on at once.)
  int Wait(uint64_t ms, uint64_t nowNs = 0) {
    if (count.load(std::memory_order_acquire) <= 0) {
      // The vCPU threads run elsewhere, unless one was woken and has not run yet.
      auto where = [&](int) { return waking.load(std::memory_order_relaxed) > 0 ? OtherSide::kUnknown : OtherSide::kElsewhere; };
      spin.Spin([&] { return count.load(std::memory_order_acquire) > 0; }, handlerBusy, spins, nowNs != 0 ? nowNs : MonoNs(), where);
    }
    LockSpinning(m);
    std::unique_lock<std::mutex> lk(m, std::adopt_lock);
    if (ready.empty()) {
      SetHandlerCpu(-1);
      handlerBusy.Set(false);  // (a spin that saw `count` in vain left it set)
      ++sleepers;
      bool got = cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return !ready.empty(); });
      --sleepers;
      if (!got) return -1;
    }
    Entry e = ready.front();
    ready.pop_front();
    count.fetch_sub(1, std::memory_order_relaxed);
    lk.unlock();
    ++taken;
    handoffNs += MonoNs() - e.pushedNs;
    int mine = sched_getcpu();
    spin.NoteOtherCpu(e.cpu, mine);
    SetHandlerCpu(mine);
    handlerBusy.Set(true);
    return e.index + kIndexSpan * e.code;
  }
};

// The JavaScript object's state, for VcpuThread.start(queue, index).
std::shared_ptr<ExitQueueState> UnwrapExitQueue(Napi::Value v);

}  // namespace nkvm
