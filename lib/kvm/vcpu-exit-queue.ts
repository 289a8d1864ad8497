// Where several VcpuThreads report their exits, in order, to the one thread
// that handles them (native/vcpu_exit_queue.h): the JavaScript thread blocks
// in wait() for any of them, as the one-vCPU run loop blocks in KVM_RUN.
import { native } from '../binding';
import { callNative } from '../errors';

interface NativeExitQueue {
  wait(ms: number): number;
}

export class VcpuExitQueue {
  /** @internal the native handle VcpuThread.start() takes */
  readonly handle: NativeExitQueue;

  constructor() {
    const Ctor = (native() as unknown as { VcpuExitQueue: new () => NativeExitQueue }).VcpuExitQueue;
    this.handle = callNative(() => new Ctor());
  }

  /**
   * The index (given to the VcpuThread) of the next vCPU stopped at an exit,
   * or -1 when none stops within `ms` milliseconds. Blocks the JavaScript thread.
   */
  wait(ms: number): number {
    return this.handle.wait(ms);
  }
}
