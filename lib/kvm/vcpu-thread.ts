// A vCPU that runs KVM_RUN on its own native thread, so JavaScript stays free
// while the guest runs (e.g. to change the memory map under it).  The memory
// listener holds such vCPUs outside KVM_RUN while it deletes slots, which is
// what makes a split / merge / move atomic for the guest.
import { native } from '../binding';
import { callNative, KvmError } from '../errors';
import { checkOptions } from '../options';
import { errno } from '../util/errno';
import { decodeExit, type VcpuExit } from './exits';
import type { Vcpu } from './vcpu';

interface NativeVcpuThread {
  start(onExit?: (reason: number) => void): void;
  resume(): void;
  poll(): number;
  wait(ms: number): number;
  hold(): boolean;
  release(): void;
  kick(): void;
  stop(): void;
  stats(): { runs: number; holdExits: number; holds: number; running: boolean };
  readonly closed: boolean;
}

const threads = new WeakMap<Vcpu, VcpuThread>();

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
}

export class VcpuThread {
  private readonly handle: NativeVcpuThread;
  private readonly page: ArrayBuffer;
  private readonly view: DataView;

  constructor(readonly vcpu: Vcpu, options?: VcpuThreadOptions) {
    const opts = checkOptions(options, { onExit: true }, 'new VcpuThread()');
    if (vcpu.closed) throw new KvmError('VcpuThread', errno('EBADF'), 'the vCPU is closed');
    if (threadOf(vcpu)) throw new RangeError(`vCPU ${vcpu.id} already has a running thread`);
    if (opts.onExit !== undefined && typeof opts.onExit !== 'function') throw new TypeError('onExit must be a function');
    const Ctor = (native() as unknown as { VcpuThread: new (v: unknown) => NativeVcpuThread }).VcpuThread;
    this.handle = callNative(() => new Ctor(vcpu.native));
    this.page = vcpu.runPage;
    this.view = new DataView(this.page);
    const onExit = opts.onExit;
    try {
      callNative(() => this.handle.start(onExit ? (reason: number) => onExit(decodeExit(this.page, this.view, reason)) : undefined));
    } catch (e) {
      this.handle.stop();
      throw e;
    }
    threads.set(vcpu, this);
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** True from resume() until the vCPU's next exit: the vCPU is busy, its own calls are refused. */
  get running(): boolean {
    return !this.handle.closed && this.handle.stats().running;
  }

  /** Let the guest run (again); the previous exit's data must be handled first. */
  resume(): void {
    callNative(() => this.handle.resume());
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
    return this.handle.hold();
  }

  /** @internal */
  release(): void {
    this.handle.release();
  }

  /** Counters: KVM_RUN calls, runs ended only by a hold, holds taken. */
  stats(): { runs: number; holdExits: number; holds: number; running: boolean } {
    return this.handle.stats();
  }

  /** End the thread (the guest is kicked out first). Idempotent. */
  stop(): void {
    this.handle.stop();
    if (threads.get(this.vcpu) === this) threads.delete(this.vcpu);
  }
}
