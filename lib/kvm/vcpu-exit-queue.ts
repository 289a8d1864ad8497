// Where several VcpuThreads report their exits, in order, to the one thread
// that handles them (native/vcpu_exit_queue.h): the JavaScript thread blocks
// in wait() for any of them, as the one-vCPU run loop blocks in KVM_RUN.
import { native } from '../binding';
import { callNative } from '../errors';

/** How a side's waits went (native/spin_wait.h): the queue's wait() calls, or a VcpuThread's waits for resume(). */
export interface SpinStats {
  /** Waits that spun and saw what they waited for, that spun in vain, that did not spin (backed off). */
  spinHits: number;
  spinMisses: number;
  spinSkipped: number;
  /** Waits that did not spin because this process's busy threads filled the cores. */
  spinRefused: number;
}

/** VcpuExitQueue.stats(). */
export interface VcpuExitQueueStats extends SpinStats {
  /** Exits taken by wait(), and the nanoseconds from their push to their taking, summed (the handoff to JavaScript). */
  taken: number;
  handoffNs: number;
}

interface NativeExitQueue {
  wait(ms: number): number;
  idle(): void;
  clockMs(): number;
  stats(): VcpuExitQueueStats;
}

/** wait()'s result packs the vCPU's index and its exit reason (native/vcpu_exit_queue.h). */
const INDEX_SPAN = 65536;
/** The vCPU index of wait()'s result `taken` (not -1). */
export const takenIndex = (taken: number): number => taken % INDEX_SPAN;
/** The raw exit reason of wait()'s result `taken`, or -1: a KVM_RUN error, which the thread's pendingReason() throws. */
export const takenReason = (taken: number): number => Math.floor(taken / INDEX_SPAN) - 1;
/** VcpuThread.resumeWait()'s result when its deadline had passed: the vCPU resumed, no exit waited for. */
export const RESUMED_AT_DEADLINE = -2;

export class VcpuExitQueue {
  /** @internal the native handle VcpuThread.start() takes */
  readonly handle: NativeExitQueue;

  /** For up to `threads` VcpuThreads (1 to 65536): each has a place for its exit, so pushing never waits. */
  constructor(threads: number) {
    const Ctor = (native() as unknown as { VcpuExitQueue: new (threads: number) => NativeExitQueue }).VcpuExitQueue;
    this.handle = callNative(() => new Ctor(threads));
  }

  /**
   * The next vCPU stopped at an exit -- its index (given to the VcpuThread)
   * and exit reason, read with takenIndex() and takenReason() -- or -1 when
   * none stops within `ms` milliseconds. Blocks the JavaScript
   * thread: a bounded, adaptive spin first (tens of microseconds, only while
   * this process's busy threads fit the cores), then a sleep.
   */
  wait(ms: number): number {
    return this.handle.wait(ms);
  }

  /**
   * The handler takes no exits for now (the run ended, the event loop
   * turns): until the next wait() it no longer counts as a thread that
   * wants a core, so vCPU threads of any machine may spin.
   */
  idle(): void {
    this.handle.idle();
  }

  /**
   * The native side's monotonic clock in milliseconds (not performance.now()'s
   * origin): the time base of VcpuThread.resumeWait()'s deadline.
   */
  clockMs(): number {
    return this.handle.clockMs();
  }

  /** Counters and timings, for benchmarks and tests. */
  stats(): VcpuExitQueueStats {
    return this.handle.stats();
  }
}
