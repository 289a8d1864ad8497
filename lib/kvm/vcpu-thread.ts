// A vCPU that runs KVM_RUN on its own native thread, so JavaScript stays free
// while the guest runs (e.g. to change the memory map under it).  The memory
// listener holds such vCPUs outside KVM_RUN while it deletes slots, which is
// what makes a split / merge / move atomic for the guest.
import { native } from '../binding';
import { callNative, KvmError, translateNativeError } from '../errors';
import { checkOptions } from '../options';
import { errno } from '../util/errno';
import { decodeExit, type VcpuExit } from './exits';
import type { Vcpu } from './vcpu';
import type { SpinStats, VcpuExitQueue } from './vcpu-exit-queue';

interface NativeVcpuThread {
  start(onExit?: (reason: number) => void): void;
  start(queue: unknown, index: number): void;
  resume(immediate?: boolean): void;
  resumeWait(untilMs: number, maxMs: number): number;
  poll(): number;
  wait(ms: number): number;
  hold(): boolean;
  release(): void;
  kick(): void;
  stop(): void;
  stats(): VcpuThreadStats;
  readonly closed: boolean;
  readonly threadId: number;
}

type NativeVcpuThreadClass = (new (v: unknown) => NativeVcpuThread) & { currentThreadId(): number };
const nativeClass = () => (native() as unknown as { VcpuThread: NativeVcpuThreadClass }).VcpuThread;

/** The kernel thread id (gettid) of the calling thread: where a vCPU runs that has no VcpuThread. */
export function currentThreadId(): number {
  return nativeClass().currentThreadId();
}

/** VcpuThread.stats(): counters, where the time of queued exits goes, and how its waits for resume() after a queued exit went. */
export interface VcpuThreadStats extends SpinStats {
  /** KVM_RUN calls, runs ended only by a hold, holds taken. */
  runs: number;
  holdExits: number;
  holds: number;
  /** Resumed and not stopped at an exit yet. */
  running: boolean;
  /** Nanoseconds inside KVM_RUN, summed (guest code and the exit itself). */
  guestNs: number;
  /** Nanoseconds from resume() to the thread's next KVM_RUN, summed over `resumes` (the resume handoff). */
  resumeNs: number;
  resumes: number;
}

const threads = new WeakMap<Vcpu, VcpuThread>();
/** VcpuThread.stop() calls in this process, for threadStops(). */
let stops = 0;

/**
 * @internal How many times VcpuThread.stop() was called in this process: the
 * SMP run loop looks for a stopped thread of its own only when this changed.
 */
export function threadStops(): number {
  return stops;
}

/** The thread running `vcpu`, if any (used by Vm.holdVcpus). */
export function threadOf(vcpu: Vcpu): VcpuThread | undefined {
  const t = threads.get(vcpu);
  return t && !t.closed ? t : undefined;
}

export interface VcpuThreadOptions {
  /**
   * Called on the JavaScript thread for every exit (the vCPU then waits for
   * resume()).  With a callback the thread keeps the event loop alive until
   * stop().  Without one, use poll() / wait().
   */
  onExit?: (exit: VcpuExit) => void;
  /**
   * Instead of onExit: every exit pushes `index` to `queue`, whose wait()
   * the handler blocks in (several vCPUs, one handling thread).
   */
  exitQueue?: { queue: VcpuExitQueue; index: number };
}

export class VcpuThread {
  private readonly handle: NativeVcpuThread;
  private readonly page: ArrayBuffer;
  private readonly view: DataView;

  constructor(readonly vcpu: Vcpu, options?: VcpuThreadOptions) {
    const opts = checkOptions(options, { onExit: true, exitQueue: true }, 'new VcpuThread()');
    if (vcpu.closed) throw new KvmError('VcpuThread', errno('EBADF'), 'the vCPU is closed');
    if (threadOf(vcpu)) throw new RangeError(`vCPU ${vcpu.id} already has a running thread`);
    if (opts.onExit !== undefined && typeof opts.onExit !== 'function') throw new TypeError('onExit must be a function');
    if (opts.onExit !== undefined && opts.exitQueue !== undefined) throw new TypeError('give onExit or exitQueue, not both');
    const Ctor = nativeClass();
    this.handle = callNative(() => new Ctor(vcpu.native));
    this.page = vcpu.runPage;
    this.view = new DataView(this.page);
    const { onExit, exitQueue } = opts;
    try {
      if (exitQueue) callNative(() => this.handle.start(exitQueue.queue.handle, exitQueue.index));
      else callNative(() => this.handle.start(onExit ? (reason: number) => onExit(decodeExit(this.page, this.view, reason)) : undefined));
    } catch (e) {
      this.handle.stop();
      throw e;
    }
    threads.set(vcpu, this);
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** The kernel thread id (gettid) of the thread, as QEMU's `info cpus` shows it (0 once stopped before it started). */
  get threadId(): number {
    return this.handle.threadId;
  }

  /**
   * True from resume() until the vCPU's next exit, except while held: the
   * vCPU is busy, its own calls are refused. A held vCPU is out of KVM_RUN
   * (hold() waited for that), so its state can be read and written.
   */
  get running(): boolean {
    return this.holds === 0 && !this.handle.closed && this.handle.stats().running;
  }

  private holds = 0;

  /**
   * Let the guest run (again); the previous exit's data must be handled first.
   * `immediate`: only finish the pending I/O instruction (KVM_RUN with
   * immediate_exit set), then report KVM_EXIT_INTR (or the instruction's next exit).
   */
  resume(immediate = false): void {
    try { // (not callNative: no closure on the SMP run loop's hot path)
      this.handle.resume(immediate);
    } catch (err) {
      throw translateNativeError(err);
    }
  }

  /**
   * @internal resume(), then the exit queue's wait (VcpuExitQueue.wait: its
   * result) until the queue's clockMs() reads `untilMs`, at most `maxMs`, in
   * one native call: the SMP run loop's per-exit step. RESUMED_AT_DEADLINE:
   * `untilMs` had passed, the vCPU was resumed and nothing waited for. Only
   * for a thread started with an exitQueue.
   */
  resumeWait(untilMs: number, maxMs: number): number {
    try { // (no closure: the hot path)
      return this.handle.resumeWait(untilMs, maxMs);
    } catch (err) {
      throw translateNativeError(err);
    }
  }

  /** @internal The pending exit's raw reason, or -1 while the guest runs (no decoding: the SMP run loop's hot path). */
  pendingReason(): number {
    return this.handle.poll();
  }

  /** The exit the vCPU stopped at, or null while it runs. */
  poll(): VcpuExit | null {
    const r = callNative(() => this.handle.poll());
    return r < 0 ? null : decodeExit(this.page, this.view, r);
  }

  /** Like poll(), blocking the JavaScript thread up to `ms` milliseconds. */
  wait(ms: number): VcpuExit | null {
    if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`ms must be a non-negative integer, got ${ms}`);
    const r = callNative(() => this.handle.wait(ms));
    return r < 0 ? null : decodeExit(this.page, this.view, r);
  }

  /** Make the current run return `interrupted`. */
  kick(): void {
    this.handle.kick();
  }

  /** @internal keep the vCPU out of KVM_RUN until release(); true if it was inside */
  hold(): boolean {
    const inside = this.handle.hold();
    this.holds++;
    return inside;
  }

  /** @internal */
  release(): void {
    this.handle.release();
    this.holds--;
  }

  /** Counters and timings (VcpuThreadStats). */
  stats(): VcpuThreadStats {
    return this.handle.stats();
  }

  /** True once stop() was called (Vcpu.close() calls it): a JavaScript read, for the SMP run loop's hot path. */
  get stopped(): boolean {
    return this.stopCalled;
  }

  private stopCalled = false;

  /** End the thread (the guest is kicked out first). Idempotent. */
  stop(): void {
    this.stopCalled = true;
    stops++;
    this.handle.stop();
    if (threads.get(this.vcpu) === this) threads.delete(this.vcpu);
  }
}
