// A guest MMIO exit, routed through the memory model with the write rule
// that goes with section-based KVM_MEM_READONLY (lib/kvm/slot-chunks.ts).
import type { AddressSpace } from '../memory/address-space';
import { MemTxResult } from '../memory/types';

/**
 * A guest write to a read-only section (ROM, a read-only alias of RAM) is
 * dropped, except that a ROM device always gets its writes through its
 * `write` callback.  Returns { result, dropped }; for reads `data` is filled
 * in place.
 */
export function guestMmioAccess(
  as: AddressSpace, address: bigint, data: Uint8Array, isWrite: boolean,
): { result: number; dropped: boolean } {
  if (isWrite) {
    const s = as.findSection(address, 1n);
    if (s !== null && !s.mr.isRomDevice && (s.readonly || (s.mr.isRam && s.mr.readonly))) {
      return { result: MemTxResult.DECODE_ERROR, dropped: true };
    }
  }
  return { result: as.rw(address, data, isWrite), dropped: false };
}
