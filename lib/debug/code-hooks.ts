// Unicorn-style code hooks: a callback before the guest executes an
// instruction at an address, or at any address of a range [start, end]
// (end inclusive, like machine.hooks.memory's and Unicorn's). An address hook
// is a breakpoint the run steps over after calling it (a DR slot or int3:
// full speed elsewhere); a range hook makes the run single-step, since no
// hardware catches "any instruction in [start, end]".
import { toU64 } from '../util/integers';
import { hex } from '../util/hex';
import type { Breakpoints } from './breakpoints';

/** What a code hook is told. */
export interface CodeHookEvent {
  /** the guest-linear address of the instruction about to run */
  readonly address: bigint;
  /** the vCPU's index in machine.vcpus */
  readonly cpu: number;
  /** ends the run (reason 'stopped') before the instruction runs */
  stop(): void;
}

export type CodeHookCallback = (event: CodeHookEvent) => void;

/** An address, or the range [start, end] (end inclusive, as machine.hooks.memory's and Unicorn's). */
export type CodeHookTarget = bigint | number | { start: bigint | number; end: bigint | number };

export interface HookHandle {
  remove(): void;
}

interface Hook {
  start: bigint;
  end: bigint;
  cb: CodeHookCallback;
}

export class CodeHooks {
  private readonly hooks = new Set<Hook>();
  private ranges = 0;

  constructor(private readonly breakpoints: Breakpoints) {}

  add(target: CodeHookTarget, cb: CodeHookCallback): HookHandle {
    if (typeof cb !== 'function') throw new TypeError('hooks.code(target, callback): the callback must be a function');
    const { start, end } = rangeOf(target);
    const hook: Hook = { start, end, cb };
    const single = end - start === 1n;
    if (single) this.breakpoints.insert(start, 'hook');
    else this.ranges++;
    this.hooks.add(hook);
    let removed = false;
    return {
      remove: () => {
        if (removed) return;
        removed = true;
        this.hooks.delete(hook);
        if (single) this.breakpoints.remove(start, 'hook');
        else this.ranges--;
      },
    };
  }

  /** True when a range hook needs every instruction looked at. */
  get needsStepping(): boolean {
    return this.ranges > 0;
  }

  get size(): number {
    return this.hooks.size;
  }

  /** Calls the hooks covering `address`, in the order they were added; true if one asked to stop. */
  fire(address: bigint, cpu: number): boolean {
    let stop = false;
    for (const h of [...this.hooks]) {
      if (address >= h.start && address < h.end) h.cb({ address, cpu, stop: () => { stop = true; } });
    }
    return stop;
  }
}

function rangeOf(target: CodeHookTarget): { start: bigint; end: bigint } {
  if (typeof target === 'object' && target !== null) {
    const start = toU64(target.start, 'code hook start');
    const end = toU64(target.end, 'code hook end');
    if (end < start) throw new RangeError(`code hook range: start ${hex(start)} is above end ${hex(end)} (end is the last byte, inclusive)`);
    return { start, end: end + 1n };
  }
  const a = toU64(target, 'code hook address');
  return { start: a, end: a + 1n };
}
