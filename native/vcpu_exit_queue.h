// The exits of several VcpuThreads, in the order they happened, for the one
// thread that handles them (the JavaScript thread: QEMU's big lock). Each
// thread pushes its index (and the exit's reason, so the handler needs no
// second call to learn it) when it stops at an exit; the handler waits in
// Wait() for all of them instead of one callback per exit through the event
// loop, which costs an eventfd wake-up and a turn of libuv each (see
// docs/architecture.md, "vCPU exit -> device"). Wait() first spins a bounded,
// adaptive while (spin_wait.h) and only then sleeps on the condition
// variable: when exits come fast, a futex sleep + wake-up (~30 us here)
// would cost more than the exit. Neither side takes a lock while exits
// come fast (see Slot).
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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

  // `threads`: how many VcpuThreads may report here (start() counts them).
  explicit ExitQueueState(uint32_t threads) : capacity(threads), mask(RingSize(threads) - 1), ring(new Slot[mask + 1]) {
    for (uint64_t i = 0; i <= mask; ++i) ring[i].seq.store(i, std::memory_order_relaxed);
  }

  // The exits waiting, in a ring with no lock on either side (a mutex and a
  // deque cost each exit ~0.9 us more here: the lock's and the deque's lines
  // crossing cores both ways). A thread has at most one exit queued: it
  // pushes, then waits for its resume(), which refuses while that exit is
  // not taken (Queued()). So `capacity` threads never fill the ring, and a
  // pusher's slot is always free: no pusher ever waits for the handler.
  // A slot's `seq` says whose it is: ticket t may fill slot t & mask once
  // seq == t (the handler freed it), and the handler takes it once seq == t + 1.
  struct alignas(64) Slot {
    std::atomic<uint64_t> seq{0};
    int index = 0;
    int code = 0;
    int cpu = -1;  // where the pushing thread was (AdaptiveSpin::NoteOtherCpu)
    uint64_t pushedNs = 0;
  };
  const uint32_t capacity;
  const uint64_t mask;
  const std::unique_ptr<Slot[]> ring;
  std::atomic<uint32_t> producers{0};  // threads started on this queue

  // The pushers' next ticket, on its own cache line.
  alignas(64) std::atomic<uint64_t> tail{0};

  // The words the spinners poll, each on its own cache line (a pusher's
  // write to one does not take the line of another from its reader):
  // The CPU the handler runs on (where it took its last exit) while it
  // handles exits or spins for the next, -1 while it sleeps or is idle: a
  // vCPU thread waiting for its resume need not yield while the handler
  // runs on another CPU. (Written only when it changes: its line stays shared.)
  alignas(64) std::atomic<int> handlerCpu{-1};
  // vCPU threads resume() woke from a sleep that have not run yet (they
  // may wait for the handler's core): the handler's spin then yields.
  std::atomic<int> waking{0};
  // The handler sleeps on cv (set under m, read by pushers: only then they notify).
  std::atomic<int> sleeping{0};

  // Handler side only (one handling thread at a time):
  alignas(64) uint64_t head = 0;  // the next ticket to take
  AdaptiveSpin spin;
  // The handler wants a core: while it spins, from a push that wakes it,
  // from taking an exit or resuming a vCPU, until its next Wait() or Idle().
  BusyMark handlerBusy;
  // Statistics (stats()): exits taken, push -> taken ns summed, spin outcomes.
  uint64_t taken = 0, handoffNs = 0;
  SpinCounters spins;
  // For the handler's sleep.
  std::mutex m;
  std::condition_variable cv;

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

  // A pusher's place in the order of exits (taken under the thread's own
  // lock, so that its resume() can tell whether the exit is still queued).
  uint64_t Reserve() { return tail.fetch_add(1, std::memory_order_relaxed); }

  // Fills the slot of `ticket`. `nowNs`: MonoNs() at the exit (KVM_RUN's return), `cpu` the pusher's.
  void Push(uint64_t ticket, int index, int code, int cpu, uint64_t nowNs) {
    Slot& s = ring[ticket & mask];
    // Free by the one-exit-per-thread rule; the load orders our writes after the handler's taking.
    while (s.seq.load(std::memory_order_acquire) != ticket) CpuRelax();
    s.index = index;
    s.code = code;
    s.cpu = cpu;
    s.pushedNs = nowNs;
    // (seq_cst: ordered before the load of `sleeping`, against Wait()'s store then load)
    s.seq.store(ticket + 1, std::memory_order_seq_cst);
    if (sleeping.load(std::memory_order_seq_cst) != 0) {
      { std::lock_guard<std::mutex> g(m); }  // the handler is inside cv.wait(), or saw the slot
      handlerBusy.Set(true);
      cv.notify_one();
    }
  }

  // Whether the exit of `ticket` is still in the ring (handler thread only).
  bool Queued(uint64_t ticket) const { return ticket >= head; }

  // The next thread at an exit (index and code, see kIndexSpan), or -1
  // after `ms` milliseconds. `nowNs`: MonoNs() if the caller just read it, else 0.
  // (handlerBusy stays set into the spin, which clears it if it gives up:
  // no write to the shared busy count when the handler goes on at once.)
  int Wait(uint64_t ms, uint64_t nowNs = 0) {
    Slot& s = ring[head & mask];
    auto ready = [&] { return s.seq.load(std::memory_order_acquire) == head + 1; };
    if (!ready()) {
      // The vCPU threads run elsewhere, unless one was woken and has not run yet.
      auto where = [&](int) { return waking.load(std::memory_order_relaxed) > 0 ? OtherSide::kUnknown : OtherSide::kElsewhere; };
      spin.Spin(ready, handlerBusy, spins, nowNs != 0 ? nowNs : MonoNs(), where);
    }
    if (!ready()) {
      SetHandlerCpu(-1);
      handlerBusy.Set(false);  // (a spin that saw nothing left it set)
      std::unique_lock<std::mutex> lk(m);
      sleeping.store(1, std::memory_order_seq_cst);
      bool got = cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return s.seq.load(std::memory_order_seq_cst) == head + 1; });
      sleeping.store(0, std::memory_order_relaxed);
      if (!got) return -1;
    }
    int result = s.index + kIndexSpan * s.code;
    int cpu = s.cpu;
    uint64_t pushedNs = s.pushedNs;
    s.seq.store(head + mask + 1, std::memory_order_release);  // free for the ticket one lap on
    ++head;
    ++taken;
    handoffNs += MonoNs() - pushedNs;
    int mine = sched_getcpu();
    spin.NoteOtherCpu(cpu, mine);
    SetHandlerCpu(mine);
    handlerBusy.Set(true);
    return result;
  }

 private:
  static uint64_t RingSize(uint32_t threads) {
    uint64_t n = 1;
    while (n < threads) n <<= 1;
    return n;
  }
};

// The JavaScript object's state, for VcpuThread.start(queue, index).
std::shared_ptr<ExitQueueState> UnwrapExitQueue(Napi::Value v);

}  // namespace nkvm
