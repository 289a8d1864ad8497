// gdb's watchpoints (Z2 write, Z3 read, Z4 access) through memory hooks
// (machine.hooks.memory): the watched guest-linear range is translated to
// guest-physical pages now (the guest's page tables at insertion, as a
// debug register would hold a linear address) and hooked there, so every
// guest access to it exits and is seen, in any ring, of any length and
// number — debug-register watchpoints never fire on kvm_pvm hosts. A hit
// stops the run after the access (the store is done: gdb shows the old and
// new values), and the stop reply names the watchpoint.
import type { GuestLinearMemory } from '../debug/guest-memory';
import type { Vcpu } from '../kvm/vcpu';

export type WatchKind = 'watch' | 'rwatch' | 'awatch';

/** What the watchpoints need of the machine (machine.hooks.memory and stop). */
export interface WatchHost {
  readonly hooks: {
    memory(range: { start: bigint; end: bigint; access: 'read' | 'write' | 'access' }, cb: (a: { address: bigint }) => void): { remove(): void };
  };
  stop(message?: string): void;
}

const KINDS: Record<string, WatchKind> = { 2: 'watch', 3: 'rwatch', 4: 'awatch' };
const ACCESS = { watch: 'write', rwatch: 'read', awatch: 'access' } as const;
const PAGE = 0x1000n;
/** The longest range one watchpoint covers (gdb sends a variable's size; this bounds the pages taken out of KVM's slots). */
export const MAX_WATCH_LENGTH = 0x10000n;

export class GdbWatchpoints {
  private readonly set = new Map<string, { remove(): void }[]>();
  /** The watchpoint that stopped the last run, for the stop reply. */
  hit: { kind: WatchKind; address: bigint } | null = null;

  constructor(private readonly host: WatchHost, private readonly memory: GuestLinearMemory) {}

  /** gdb's Z type (2-4) as a kind, or undefined. */
  static kindOf(type: string): WatchKind | undefined {
    return KINDS[type];
  }

  /** Inserts a watchpoint; throws (changing nothing) when part of the range is not mapped or is not RAM. */
  insert(vcpu: Vcpu, kind: WatchKind, address: bigint, length: bigint): void {
    const key = `${kind}:${address}:${length}`;
    if (this.set.has(key)) return;
    if (length < 1n || length > MAX_WATCH_LENGTH) throw new RangeError(`a watchpoint covers 1 to ${MAX_WATCH_LENGTH} bytes, got ${length}`);
    const pieces: { linear: bigint; gpa: bigint; n: bigint }[] = [];
    for (let at = 0n; at < length;) {
      const linear = address + at;
      const n = [length - at, PAGE - (linear % PAGE)].reduce((a, b) => (a < b ? a : b));
      pieces.push({ linear, gpa: this.memory.physical(vcpu, linear), n });
      at += n;
    }
    const hooks: { remove(): void }[] = [];
    try {
      for (const p of pieces) {
        hooks.push(this.host.hooks.memory({ start: p.gpa, end: p.gpa + p.n - 1n, access: ACCESS[kind] }, (a) => {
          this.hit ??= { kind, address: p.linear + (a.address > p.gpa ? a.address - p.gpa : 0n) };
          this.host.stop(`gdb: ${kind} at ${address.toString(16)}`);
        }));
      }
    } catch (err) {
      for (const h of hooks) h.remove();
      throw err;
    }
    this.set.set(key, hooks);
  }

  remove(kind: WatchKind, address: bigint, length: bigint): void {
    const key = `${kind}:${address}:${length}`;
    for (const h of this.set.get(key) ?? []) h.remove();
    this.set.delete(key);
  }

  /** gdb went away: every watchpoint goes, the pages go back to their slots. */
  clear(): void {
    for (const hooks of this.set.values()) for (const h of hooks) h.remove();
    this.set.clear();
  }

  /** The stop reply's watch field for the last hit, consumed ('' when none). */
  takeStopField(): string {
    const h = this.hit;
    this.hit = null;
    return h === null ? '' : `${h.kind}:${h.address.toString(16)};`;
  }
}
