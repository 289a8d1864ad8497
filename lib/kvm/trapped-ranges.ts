// RAM-backed guest ranges that get no KVM slot: why, and the one warning per
// range that says so.  Their guest accesses exit as MMIO and are served by
// the memory model (same bytes, slower); QEMU aborts on most of them instead.
import { hex } from '../util/hex';
import { belowPhysWidthAdvice, compareAddresses, GUEST_PHYS_WIDTH } from './kvm-slot';

/** The warning code of a RAM-backed range that gets no KVM slot (process.emitWarning). */
export const UNSLOTTABLE_WARNING = 'NODE_KVM_UNSLOTTABLE';

/**
 * Why a RAM-backed flat-view range has no KVM slot:
 * - `sub-page`: the part of the range that does not fill a whole aligned 4 KiB
 *   page (QEMU's kvm_align_section drops it too; not warned);
 * - `incongruent`: its host address and guest address differ modulo 4 KiB
 *   (an alias into RAM at an odd offset), which KVM refuses;
 * - `above-phys-bits`: at or above 2^N, N the guest physical-address width
 *   (CPUID 0x80000008 EAX[7:0] of KVM_GET_SUPPORTED_CPUID): no guest access
 *   can reach it, and KVM refuses slots ending beyond what it supports (2^64
 *   always);
 * - `no-free-slot`: every KVM slot is in use (retried at every commit);
 * - `host-memory-limit`: the VM's slots would exceed the guest-RAM limit
 *   (lib/host-limits.ts; retried at every commit);
 * - `stale-slot`: a slot of the same range survived a failed delete (retried);
 * - `watched`: a memory hook or watchpoint covers its pages (not warned).
 */
export type TrappedReason = 'sub-page' | 'incongruent' | 'above-phys-bits' | 'no-free-slot' | 'host-memory-limit' | 'stale-slot' | 'watched';

/** A RAM-backed guest range without a slot: the guest's accesses to it trap to the model. */
export interface TrappedRange {
  start: bigint;
  size: bigint;
  reason: TrappedReason;
  /** KVM address space id of the listener */
  asId: number;
  /** the flat-view range's region (an alias's name, as `info mtree -f` prints it) */
  region: string;
}

/** Ascending start address (for sort()). */
export const byStart = (a: { start: bigint }, b: { start: bigint }): number => compareAddresses(a.start, b.start);

/** Reports each distinct (range, reason) once; sub-page pieces (QEMU's silent norm) and watched pages (asked for) never. */
export class UnslottableWarnings {
  private readonly warned = new Set<string>();

  /** `physBits`: the guest's physical-address width, for the above-phys-bits advice */
  constructor(private readonly physBits: number) {}

  warnOnce(t: TrappedRange): void {
    if (t.reason === 'sub-page' || t.reason === 'watched') return;
    const id = `${t.start}+${t.size}:${t.reason}`;
    if (this.warned.has(id)) return;
    this.warned.add(id);
    const range = `${hex(t.start)}..${hex(t.start + t.size - 1n)}`;
    const why = t.reason === 'incongruent'
      ? 'its host address and guest address differ modulo 4 KiB (an alias into RAM at an offset that is not a multiple of 4 KiB), ' +
        'which KVM cannot map. Align the alias offset to 4 KiB to give it a slot'
      : `it lies at or above 2^${this.physBits}, ${GUEST_PHYS_WIDTH}, so no guest access can reach it. ` +
        `${belowPhysWidthAdvice('guest RAM', 1n << BigInt(this.physBits))} for the guest to see it`;
    process.emitWarning(
      `KVM memory listener: RAM range ${range} of "${t.region}" gets no KVM slot: ${why}. ` +
      'Its guest accesses trap and are served by the memory model (slower, same bytes); see listener.trapped().',
      { code: UNSLOTTABLE_WARNING, detail: `reason: ${t.reason}` },
    );
  }
}
