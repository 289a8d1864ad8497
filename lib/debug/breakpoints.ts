// The breakpoints of a machine and how each is carried out on this host.
//
// Several users may want the same address (gdb's Z0 and Z1, a code hook, a
// run's `until`): an address is one entry with a set of owners. Before each
// run the table is planned: addresses a user asked to be hardware (gdb's
// hbreak) get DR0-DR3 first; the rest are int3 bytes where the host reports
// int3 (int3-probe.ts), else the remaining DR slots, else the run single-steps
// and compares each instruction's address (slow, but it works wherever
// single-steps are reported).
import { HARDWARE_BREAKPOINT_SLOTS } from '../kvm/guest-debug';
import { hex } from '../util/hex';

/** Who wants a breakpoint: gdb's software (Z0) or hardware (Z1) one, a code hook, a run's `until`. */
export type BreakpointOwner = 'gdb-sw' | 'gdb-hw' | 'hook' | 'until';

export interface BreakpointPlan {
  /** linear addresses for DR0-DR3, in slot order */
  slots: bigint[];
  /** linear addresses to plant int3 at */
  int3: bigint[];
  /** linear addresses only single-stepping can catch */
  stepped: Set<bigint>;
}

export class Breakpoints {
  private readonly owners = new Map<bigint, Map<BreakpointOwner, number>>();

  /**
   * Adds `owner`'s breakpoint at `address` (counted: two hooks at one address
   * are two insertions). A hardware one fails with a RangeError when DR0-DR3
   * are all taken by hardware breakpoints, changing nothing.
   */
  insert(address: bigint, owner: BreakpointOwner): void {
    if (owner === 'gdb-hw' && !this.has(address, 'gdb-hw') && this.hardwareAddresses().length >= HARDWARE_BREAKPOINT_SLOTS) {
      throw new RangeError(`no free debug register for a hardware breakpoint at ${hex(address)}: DR0-DR3 hold ${HARDWARE_BREAKPOINT_SLOTS} already; delete one first`);
    }
    let m = this.owners.get(address);
    if (m === undefined) this.owners.set(address, (m = new Map()));
    m.set(owner, (m.get(owner) ?? 0) + 1);
  }

  /** Removes one insertion by `owner`; false when there was none. */
  remove(address: bigint, owner: BreakpointOwner): boolean {
    const m = this.owners.get(address);
    const n = m?.get(owner);
    if (m === undefined || n === undefined) return false;
    if (n > 1) m.set(owner, n - 1);
    else m.delete(owner);
    if (m.size === 0) this.owners.delete(address);
    return true;
  }

  has(address: bigint, owner?: BreakpointOwner): boolean {
    const m = this.owners.get(address);
    return m !== undefined && (owner === undefined || m.has(owner));
  }

  /** The owners of the breakpoint at `address` (empty when none). */
  ownersAt(address: bigint): ReadonlySet<BreakpointOwner> {
    return new Set(this.owners.get(address)?.keys() ?? []);
  }

  /** Removes every breakpoint of `owner` (gdb detaching). */
  clearOwner(owner: BreakpointOwner): void {
    for (const a of [...this.owners.keys()]) while (this.remove(a, owner));
  }

  get size(): number {
    return this.owners.size;
  }

  plan(int3Works: boolean): BreakpointPlan {
    const slots = this.hardwareAddresses();
    const int3: bigint[] = [];
    const stepped = new Set<bigint>();
    for (const a of [...this.owners.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
      if (slots.includes(a)) continue;
      if (int3Works) int3.push(a);
      else if (slots.length < HARDWARE_BREAKPOINT_SLOTS) slots.push(a);
      else stepped.add(a);
    }
    return { slots, int3, stepped };
  }

  private hardwareAddresses(): bigint[] {
    return [...this.owners].filter(([, m]) => m.has('gdb-hw')).map(([a]) => a);
  }
}
