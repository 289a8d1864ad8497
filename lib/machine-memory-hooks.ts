// Unicorn-style memory hooks (machine.hooks.memory, issue 15): a callback for
// every guest read and/or write of a guest-physical range, in any ring, on any
// host.  Hooking a range keeps its RAM pages out of KVM's slots (the memory
// listener maps around them: lib/kvm/watched-pages.ts), so each guest access
// there exits as MMIO; the run loop performs it on the same RAM through the
// model (ROM stays read-only) and hands it here (lib/kvm/mmio-watch.ts), and
// the hooks whose range it touches are called.  Accesses to the unhooked
// bytes of a hooked page are performed and not reported.  The rest of RAM
// keeps its slots and its speed; removing the last hook of a page gives the
// page back to its slot.
import type { KvmMemoryListener } from './kvm/memory-listener';
import type { MmioWatch, WatchedAccess } from './kvm/mmio-watch';
import type { RunLoop } from './kvm/run-loop';
import { pagesCovering } from './kvm/watched-pages';
import { checkOptions, type OptionKeys } from './options';
import { hex } from './util/hex';
import { toU64 } from './util/integers';

/** Which accesses a hook sees: reads, writes, or both ('access', gdb's awatch). */
export type MemoryHookAccess = 'read' | 'write' | 'access';

export interface MemoryHookRange {
  /** first guest-physical byte (bigint or safe integer) */
  start: bigint | number;
  /** last guest-physical byte, inclusive as in Unicorn (start === end hooks one byte) */
  end: bigint | number;
  /** default 'access' */
  access?: MemoryHookAccess;
}

/**
 * One hooked guest access, frozen.  `value` is what was read, or what was
 * written (the new bytes); `oldValue` is what the written bytes held before
 * the write (RAM and ROM; undefined for device memory and for reads).  `rip`
 * is the reading instruction's, or for a write the next instruction's (KVM
 * has completed the write: gdb reports a watchpoint there too), except
 * inside a `rep` string instruction; `vcpu` is the vCPU's id.
 */
export type MemoryAccess = Readonly<WatchedAccess>;

export type MemoryHookCallback = (access: MemoryAccess) => void;

/** A hook that is in place until remove(). */
export interface MemoryHook {
  readonly start: bigint;
  readonly end: bigint;
  readonly access: MemoryHookAccess;
  /** Takes the hook away (idempotent); the last hook of a page gives the page back to its KVM slot. */
  remove(): void;
}

/** What the hooks need from their machine. */
export interface MemoryHooksHost {
  /** the KVM listener of the system address space */
  readonly listener: KvmMemoryListener;
  /** every vCPU's run loop (they report to the hooks while any is in place) */
  readonly loops: readonly RunLoop[];
  /** throws if the machine is closed */
  checkOpen(method: string): void;
}

interface Entry {
  readonly start: bigint;
  /** exclusive */
  readonly stop: bigint;
  readonly reads: boolean;
  readonly writes: boolean;
  readonly cb: MemoryHookCallback;
}

const RANGE_KEYS = { start: true, end: true, access: true } as const satisfies OptionKeys<MemoryHookRange>;
const ACCESSES: readonly MemoryHookAccess[] = ['read', 'write', 'access'];

export class MemoryHooks implements MmioWatch {
  private entries: readonly Entry[] = [];

  constructor(private readonly host: MemoryHooksHost) {}

  /** machine.hooks.memory(): see MachineHooks. */
  add(range: MemoryHookRange, cb: MemoryHookCallback): MemoryHook {
    this.host.checkOpen('hooks.memory');
    const where = 'machine.hooks.memory()';
    if (typeof range !== 'object' || range === null) throw new TypeError(`${where} expects { start, end, access } as its first argument`);
    const r = checkOptions(range, RANGE_KEYS, where);
    const start = toU64(r.start, 'start');
    const end = toU64(r.end, 'end');
    if (start > end) throw new RangeError(`${where}: start ${hex(start)} is above end ${hex(end)} (end is the last byte, inclusive)`);
    const access = r.access ?? 'access';
    if (!ACCESSES.includes(access)) {
      throw new RangeError(`${where}: access must be 'read', 'write' or 'access' (both), got ${JSON.stringify(access) ?? String(access)}`);
    }
    if (typeof cb !== 'function') throw new TypeError(`${where} expects a callback function (access) => void as its second argument`);

    const entry: Entry = { start, stop: end + 1n, reads: access !== 'write', writes: access !== 'read', cb };
    // The listener applies what it can and throws what it could not (a full
    // slot table): then the hook is not added and the pages go back.
    const release = this.host.listener.watchPages(pagesCovering(start, end, access === 'write'));
    this.entries = [...this.entries, entry];
    this.attach();
    let removed = false;
    const hook: MemoryHook = {
      start, end, access,
      remove: () => {
        if (removed) return;
        removed = true;
        this.entries = this.entries.filter((e) => e !== entry);
        this.attach();
        release();
      },
    };
    return hook;
  }

  touches(address: bigint, size: number, isWrite: boolean): boolean {
    for (const e of this.entries) {
      if ((isWrite ? e.writes : e.reads) && address < e.stop && address + BigInt(size) > e.start) return true;
    }
    return false;
  }

  report(access: WatchedAccess): void {
    const frozen: MemoryAccess = Object.freeze({ ...access });
    const stop = access.address + BigInt(access.size);
    // (a snapshot: a callback may add or remove hooks)
    for (const e of this.entries) {
      if ((access.isWrite ? e.writes : e.reads) && access.address < e.stop && stop > e.start) e.cb(frozen);
    }
  }

  /** The run loops report to the hooks only while there are some (no cost otherwise). */
  private attach(): void {
    const watch = this.entries.length > 0 ? this : null;
    for (const l of this.host.loops) l.mmioWatch = watch;
  }
}
