// machine.hooks: Unicorn-style instrumentation of a running guest (issue 15).
// `memory` hooks guest-physical ranges (lib/machine-memory-hooks.ts); code
// hooks and breakpoints join here.
import { type MemoryHook, type MemoryHookCallback, type MemoryHookRange, MemoryHooks, type MemoryHooksHost } from './machine-memory-hooks';
import type { CodeHookCallback, CodeHooks, CodeHookTarget, HookHandle } from './debug/code-hooks';

export type { MemoryAccess, MemoryHook, MemoryHookAccess, MemoryHookCallback, MemoryHookRange } from './machine-memory-hooks';
export type { CodeHookCallback, CodeHookEvent, CodeHookTarget, HookHandle } from './debug/code-hooks';

export class MachineHooks {
  private readonly memoryHooks: MemoryHooks;

  /** @internal made by the Machine */
  constructor(host: MemoryHooksHost, private readonly codeHooks: CodeHooks) {
    this.memoryHooks = new MemoryHooks(host);
  }

  /**
   * Calls `cb` before the guest executes the instruction at a guest-linear
   * address, or any instruction starting in [start, end] (end inclusive), in
   * the order hooks were added; `event.stop()` ends the run there. An
   * address hook is a breakpoint (a debug register or int3: full speed
   * elsewhere); a range hook single-steps the whole run (slow; on hosts that
   * report single-steps for ring-0 code only, ring-0 code only). See lib/debug.
   */
  code(target: CodeHookTarget, cb: CodeHookCallback): HookHandle {
    return this.codeHooks.add(target, cb);
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
   * it after this access.  KVM fetches instructions and walks page tables
   * only in its slots, not through MMIO: code in a hooked RAM page does not
   * run (the run ends with 'internalError' at that RIP), and page tables in a
   * hooked page make the guest take a page fault; hook data, not those.
   */
  memory(range: MemoryHookRange, cb: MemoryHookCallback): MemoryHook {
    return this.memoryHooks.add(range, cb);
  }
}
