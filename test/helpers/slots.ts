// The KVM slot table a flat view calls for, derived here independently of
// the listener (semantics §6.3-6.5, with read-only taken from the section as
// the conformance README asks): every RAM-backed section (RAM, ROM, a ROM
// device in romd mode), page-aligned inward, when its guest and host
// addresses are congruent modulo the page.
import type { AddressSpace } from '../../lib';

const PAGE = 0x1000n;

/** `gpa+size:flags` strings, ascending. */
export function slotsForFlatView(as: AddressSpace): string[] {
  const want: string[] = [];
  for (const s of as.sections()) {
    if (!(s.mr.isRam || (s.mr.isRomDevice && s.mr.romdMode))) continue;
    const start = ((s.offsetWithinAddressSpace + PAGE - 1n) / PAGE) * PAGE;
    const end = ((s.offsetWithinAddressSpace + s.size) / PAGE) * PAGE;
    if (end <= start) continue;
    if ((s.offsetWithinRegion + (start - s.offsetWithinAddressSpace)) % PAGE !== 0n) continue;
    const readonly = s.readonly || (s.mr.isRam && s.mr.readonly) || s.mr.isRomDevice;
    const logging = s.mr.dirtyLogMask !== 0;
    want.push(`${start.toString(16)}+${(end - start).toString(16)}:${(readonly ? 2 : 0) | (logging ? 1 : 0)}`);
  }
  return want;
}

/** The VM's live slot table in the same form. */
export function slotTable(vm: { slots(): { guestPhysAddr: bigint; memorySize: bigint; flags: number }[] }): string[] {
  return vm.slots().map((s) => `${s.guestPhysAddr.toString(16)}+${s.memorySize.toString(16)}:${s.flags}`);
}
