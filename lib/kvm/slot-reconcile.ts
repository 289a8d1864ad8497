// The slot half of QEMU's kvm_region_commit: one transaction's queued
// deletions and additions become the minimum KVM_SET_USER_MEMORY_REGION calls.
// A chunk deleted and re-added with the same guest range, host address and
// flags is not touched; one that differs only in KVM_MEM_LOG_DIRTY_PAGES is
// one flags-only ioctl; everything else is delete (size 0) then add, all
// deletions (ascending old GPA) before all additions (ascending new GPA),
// with every vCPU on a native thread held outside KVM_RUN meanwhile.
// Chunks that get no slot (table full, guest-RAM limit, a stale slot) wait
// here and are retried at every commit.
import { errno } from '../util/errno';
import { hex } from '../util/hex';
import { guestMemoryLimit, guestMemoryLimitError, type GuestMemoryLimit } from '../host-limits';
import { KvmError } from '../errors';
import { compareAddresses, KVM_MEM_LOG_DIRTY_PAGES } from './kvm-slot';
import type { Chunk } from './slot-chunks';
import type { KvmSlotTable, SlotEntry } from './slot-table';
import type { TrappedRange } from './trapped-ranges';

/** A chunk waiting for a slot, and why it has none yet. */
interface Unplaced {
  chunk: Chunk;
  reason: 'no-free-slot' | 'host-memory-limit' | 'stale-slot';
}

/** What one commit needs from the listener and its VM. */
export interface CommitContext {
  /** bytes in the live slots of every listener of the VM (the guest-RAM budget is per VM) */
  vmSlotBytes(): bigint;
  /** keep running vCPUs out of KVM_RUN; returns the release (null: QEMU < 8.0's non-atomic updates) */
  holdVcpus: (() => () => void) | null;
  /** the replay of addAddressSpace(): over the budget, nothing is placed at all */
  attaching: boolean;
  /** the address space's name, for the limit's message */
  addressSpace: string;
}

export class SlotReconciler {
  /** keyed by guest range */
  private readonly unplaced = new Map<string, Unplaced>();

  constructor(private readonly table: KvmSlotTable) {}

  /** Chunks the flat view wants but that have no slot yet. */
  get unplacedCount(): number {
    return this.unplaced.size;
  }

  /** The waiting chunks as trapped ranges (their guest accesses trap meanwhile). */
  unplacedRanges(): TrappedRange[] {
    return [...this.unplaced.values()].map((u) => (
      { start: u.chunk.gpa, size: u.chunk.size, reason: u.reason, asId: this.table.asId, region: u.chunk.region }));
  }

  clear(): void {
    this.unplaced.clear();
  }

  /**
   * Applies `dels` (guest-range keys) and `adds` (by key) to the table.
   * Failures are collected in `errors`, and everything else is still
   * applied, so the table stays what the kernel has.
   */
  apply(dels: readonly string[], adds: ReadonlyMap<string, Chunk>, ctx: CommitContext, errors: Error[]): void {
    if (dels.length === 0 && adds.size === 0 && this.unplaced.size === 0) return;
    const table = this.table;

    // Which deletions are really needed, which adds are no-ops or flags-only updates.
    const delSet = new Set<string>();
    for (const k of dels) {
      if (table.has(k)) delSet.add(k);
      else this.unplaced.delete(k);
    }
    const work: { chunk: Chunk; update?: SlotEntry }[] = [];
    for (const c of adds.values()) {
      const old = table.get(c.key);
      if (old !== undefined && delSet.has(c.key) && old.ua === c.ua && old.block === c.block) {
        if (old.flags === c.flags) {
          delSet.delete(c.key); // unchanged slot: not touched
          continue;
        }
        if (((old.flags ^ c.flags) & ~KVM_MEM_LOG_DIRTY_PAGES) === 0) {
          delSet.delete(c.key); // only dirty logging changed: one flags-only ioctl
          work.push({ chunk: c, update: old });
          continue;
        }
      }
      work.push({ chunk: c });
    }
    // retry what did not fit earlier (unless this commit re-adds or deletes it)
    const retried = new Set<string>();
    for (const [k, u] of this.unplaced) {
      if (!adds.has(k)) {
        work.push({ chunk: u.chunk });
        retried.add(k);
      }
    }
    this.unplaced.clear();

    const delEntries = [...delSet].map((k) => table.get(k)!).sort((a, b) => compareAddresses(a.gpa, b.gpa));
    work.sort((a, b) => compareAddresses(a.chunk.gpa, b.chunk.gpa));

    // The guest-RAM budget (per VM), checked before any ioctl: a replay
    // that would exceed it makes no slot at all; a later commit applies its
    // deletions and places what fits, in ascending order.
    let limit: GuestMemoryLimit | null = null;
    let newBytes = 0n;
    for (const w of work) if (!w.update) newBytes += w.chunk.size;
    if (newBytes > 0n) {
      try {
        limit = guestMemoryLimit();
      } catch (e) {
        errors.push(e as Error); // a malformed NODE_KVM_MAX_GUEST_RAM: nothing is added
      }
      let projected = ctx.vmSlotBytes() + newBytes;
      for (const e of delEntries) projected -= e.size;
      if (limit !== null && projected > limit.bytes) {
        // (chunks that only wait for a retry were reported when they first failed)
        if (work.some((w) => !w.update && !retried.has(w.chunk.key))) {
          errors.push(guestMemoryLimitError(`KVM slots of the VM with address space "${ctx.addressSpace}"`, projected, limit));
        }
        if (ctx.attaching) return;
      }
    }

    // A vCPU in KVM_RUN could hit a page between its slot's deletion and the
    // re-addition: keep every running vCPU out while deletions are applied.
    const release = delEntries.length > 0 && ctx.holdVcpus !== null ? ctx.holdVcpus() : null;
    try {
      for (const e of delEntries) {
        try {
          table.delete(e);
        } catch (err) {
          errors.push(err as Error);
        }
      }
      for (const w of work) {
        if (w.update) {
          try {
            table.setFlags(w.update, w.chunk.flags);
          } catch (err) {
            errors.push(err as Error);
          }
        } else if (limit === null || ctx.vmSlotBytes() + w.chunk.size > limit.bytes) {
          this.unplaced.set(w.chunk.key, { chunk: w.chunk, reason: 'host-memory-limit' });
        } else this.place(w.chunk, errors, retried.has(w.chunk.key));
      }
    } finally {
      release?.();
    }
  }

  private place(c: Chunk, errors: Error[], isRetry: boolean): void {
    if (this.table.has(c.key)) {
      // a stale slot with the same range survived a failed delete; the kernel
      // would answer EEXIST (QEMU aborts here).  Leave it for the next commit.
      this.unplaced.set(c.key, { chunk: c, reason: 'stale-slot' });
      return;
    }
    let placed: boolean;
    try {
      placed = this.table.add(c);
    } catch (err) {
      errors.push(err as Error);
      return;
    }
    if (placed) return;
    this.unplaced.set(c.key, { chunk: c, reason: 'no-free-slot' });
    if (!isRetry) {
      errors.push(new KvmError('KVM_SET_USER_MEMORY_REGION', errno('ENOSPC'),
        `no free slot for gpa=${hex(c.gpa)} size=${hex(c.size)}: all ${this.table.nrSlots} slots are in use; ` +
        'the section stays unmapped (its accesses trap) and is retried at the next commit'));
    }
  }
}
