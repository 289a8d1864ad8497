// Bounded, adaptive spinning before a blocking wait, for the two sides of
// the SMP exit handoff (a VcpuThread waiting for its exit to be handled, the
// JavaScript thread waiting on the VcpuExitQueue for the next exit).
//
// Why: on this kind of host a futex sleep + wake-up costs ~30 us, several
// times a KVM_RUN exit; when the other side answers within a few tens of
// microseconds, watching a shared word costs far less than sleeping.
//
// Policy (the cost side):
//  - Admission: a thread spins only while the threads of this process that
//    want a core -- vCPU threads resumed and not stopped at an exit yet,
//    threads spinning here, exit handlers with an exit to handle -- fit the
//    CPUs we may run on (the affinity mask, read once), itself included.
//    With more runnable threads than cores a spinner would only delay the
//    thread it waits for. The count is an estimate: a vCPU halted inside
//    KVM_RUN counts as busy (we cannot tell; erring there only costs a
//    sleep), and a thread woken but not running yet is not always counted
//    (a spinner then shares a core with the thread it waits for, which the
//    yields below turn into a cooperative handoff, not a stolen core).
//  - Bounded: at most kWindowNs per wait, then the caller blocks as before.
//    Every kYieldEveryNs the spinner yields (sched_yield) -- unless the
//    caller knows the thread it waits for runs on another CPU (Where): if
//    the scheduler put that thread on the same core, it runs at once (then
//    the spin works like a cooperative handoff on one core, still far
//    cheaper than a futex sleep); a foreign process waiting there runs too.
//    When the other side is known to run elsewhere the spinner only pauses
//    (a yield is a syscall and a pass through the scheduler, ~0.5 us here,
//    that delays seeing the answer), and yields every kFallbackYieldNs.
//  - Adaptive: after kMissesToBackOff spins in a row ran out (or saw the
//    other side only after kSlowHitNs), a waiter sleeps at once, and spins
//    again only on one wait in kRetryEvery; a hit turns spinning back on. A
//    guest that halts or rarely exits thus costs a few windows per
//    kRetryEvery waits (one wait per run slice when nothing exits), not a
//    busy core.
#pragma once
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdint>

namespace nkvm {

// Threads of this process that want a core, for admission (see above).
inline std::atomic<int> g_busyThreads{0};
// Counters for stats(): waits that spun and succeeded, that spun in vain,
// that did not spin because the window was off (backed off) or because the
// busy threads filled the cores (refused).
struct SpinCounters {
  std::atomic<uint64_t> hits{0}, misses{0}, skipped{0}, refused{0};
};

inline int UsableCores() {
  static const int cores = [] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return 1;
  }();
  return cores;
}

inline uint64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Whether one thread wants a core, counted in g_busyThreads: a vCPU thread
// from resume() to its next reported exit (runnable or inside KVM_RUN), an
// exit handler from an exit's push until it waits again. Set from either
// side of the handoff (the waker marks the wakee: a thread woken but not yet
// running wants a core too), hence atomic.
class BusyMark {
 public:
  ~BusyMark() { Set(false); }
  void Set(bool busy) {
    // (The load first: most calls change nothing, and then need no locked instruction.)
    if (busy_.load(std::memory_order_relaxed) == busy) return;
    if (busy_.exchange(busy, std::memory_order_relaxed) != busy) g_busyThreads.fetch_add(busy ? 1 : -1, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool> busy_{false};
};

// Where the thread a spinner waits for is, as far as the caller knows
// (AdaptiveSpin::Spin's `where`): running on another CPU, unknown (it may be
// asleep, or woken and waiting for a core: maybe ours), or on our CPU.
enum class OtherSide { kElsewhere, kUnknown, kHere };

// One waiter's spin state (one per side of a handoff; used by one thread at a time).
class AdaptiveSpin {
 public:
  // Tuned with bench/smp.js on a 2-core software-paging KVM host, where a
  // futex wake-up takes ~30 us and a port exit ~8 us: the window covers a
  // few exits plus one wake-up of the other side (so a side that slept can
  // rejoin), and is short enough that a miss costs little.
  static constexpr uint64_t kWindowNs = 50000;
  // Misses in a row before spinning is off; then one wait in kRetryEvery spins.
  // A hit that took longer than kSlowHitNs counts as a miss here: the other
  // side is slow (a guest that computes between exits, a device that works,
  // or cores shared with other processes, which the yields hand the core to
  // for whole time slices), and sleeping costs about as much without
  // burning a core. (Above the 20-35 us hiccups a timer tick or a
  // preemption causes every few ms here: at 20 us those chained into
  // back-offs, each a few sleeping handoffs, and cost ~20 % at 8 us exits.)
  static constexpr unsigned kMissesToBackOff = 3;
  static constexpr uint64_t kSlowHitNs = 40000;
  static constexpr unsigned kRetryEvery = 8;
  // A spinner yields its core this often: when the thread it waits for was
  // woken onto the same core (the scheduler puts a wakee next to its waker),
  // pause alone would keep it from running until the window ends.
  static constexpr uint64_t kYieldEveryNs = 2000;
  // The yield period when the other side is known to run on another CPU: a
  // guard against a stale answer (it was preempted and moved here meanwhile).
  static constexpr uint64_t kFallbackYieldNs = 20000;

  // Spins until ready() or the window ends; true if ready() was seen. The
  // caller then takes its lock and checks again (ready() is only a hint).
  // `self` is the caller's own mark: set while it spins, and left set after
  // a hit (the caller runs on), cleared after a miss (the caller sleeps).
  // `start`: MonoNs() now (the caller has read the clock already). `where(cpu)`:
  // an OtherSide for the thread waited for, given the spinner's CPU; asked
  // every kYieldEveryNs, before a yield.
  template <class Ready, class Where>
  bool Spin(Ready ready, BusyMark& self, SpinCounters& stats, uint64_t start, Where where) {
    // Admission first: a refusal is cheap and says the most.
    self.Set(true);
    if (g_busyThreads.load(std::memory_order_relaxed) > UsableCores()) {
      self.Set(false);
      return Skip(stats.refused);
    }
    if (missesInRow_ >= kMissesToBackOff) {
      if (++skippedInRow_ < kRetryEvery) {
        self.Set(false);
        return Skip(stats.skipped);
      }
      skippedInRow_ = 0;
    }
    const uint64_t deadline = start + kWindowNs;
    uint64_t nextYield = start + kYieldEveryNs, nextFallback = start + kFallbackYieldNs, t = start;
    const int me = sched_getcpu();
    bool here = colocated_;
    bool seen = false;
    for (unsigned i = 1;; ++i) {
      if (ready()) {
        seen = true;
        break;
      }
      if (here) {  // the other side shares our core: let it run at once
        sched_yield();
        t = MonoNs();
        if (t >= deadline) break;
        continue;
      }
      CpuRelax();
      if ((i & 31) != 0) continue;
      t = MonoNs();
      if (t >= deadline) break;
      if (t >= nextYield) {
        OtherSide other = where(me);
        if (other == OtherSide::kHere) {
          here = true;
          continue;
        }
        if (other == OtherSide::kUnknown || t >= nextFallback) {
          sched_yield();
          t = MonoNs();
          nextFallback = t + kFallbackYieldNs;
        }
        nextYield = t + kYieldEveryNs;
      }
    }
    if (seen) {
      // (t: the last clock read, at most 32 pauses or one yield old)
      missesInRow_ = t - start > kSlowHitNs ? missesInRow_ + 1 : 0;
      stats.hits.fetch_add(1, std::memory_order_relaxed);
    } else {
      self.Set(false);
      ++missesInRow_;
      stats.misses.fetch_add(1, std::memory_order_relaxed);
    }
    return seen;
  }

  // After a wait: the CPU the other side was on when it answered, and ours.
  // When they are the same, the next spin yields at once instead of pausing first.
  void NoteOtherCpu(int cpu, int mine) { colocated_ = cpu >= 0 && cpu == mine; }

 private:
  static bool Skip(std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  unsigned missesInRow_ = 0, skippedInRow_ = 0;
  bool colocated_ = false;
};

// Takes `m` after a successful spin without sleeping in the futex if the
// other side still holds it for a few instructions (a plain mutex would
// sleep at once, and the wake-up is the cost the spin was to avoid).
template <class Mutex>
void LockSpinning(Mutex& m) {
  for (unsigned i = 0; i < 4096; ++i) {
    if (m.try_lock()) return;
    CpuRelax();
  }
  m.lock();
}

}  // namespace nkvm
