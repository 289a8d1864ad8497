// machine.hooks: Unicorn-style instrumentation of a running guest (issue 15).
// `memory` hooks guest-physical ranges (lib/machine-memory-hooks.ts); code
// hooks and breakpoints join here.
import { type MemoryHook, type MemoryHookCallback, type MemoryHookRange, MemoryHooks, type MemoryHooksHost } from './machine-memory-hooks';

export type { MemoryAccess, MemoryHook, MemoryHookAccess, MemoryHookCallback, MemoryHookRange } from './machine-memory-hooks';

export class MachineHooks {
  private readonly memoryHooks: MemoryHooks;

  /** @internal made by the Machine */
  constructor(host: MemoryHooksHost) {
    this.memoryHooks = new MemoryHooks(host);
  }

  /**
   * Calls `cb` after every guest read and/or write (`access`: 'read',
   * 'write' or 'access' for both, default 'access') that touches a byte of
   * [start, end] (guest-physical, end inclusive), in any ring, with the
   * access's address, size, value (for a write the new bytes; `oldValue` the
   * bytes before), RIP and vCPU.  The range's RAM pages lose their KVM slots
   * while hooked, so every guest access to those pages exits (a few µs each);
   * the rest of RAM keeps full speed.  A callback that throws ends the run
   * (a DeviceError naming 'memory hook'); one that calls machine.stop() ends
   * it after this access.  The guest must not execute code from, or keep its
   * page tables in, a hooked RAM page: KVM can neither fetch instructions nor
   * walk page tables through MMIO (the run ends with 'internalError').
   */
  memory(range: MemoryHookRange, cb: MemoryHookCallback): MemoryHook {
    return this.memoryHooks.add(range, cb);
  }
}
