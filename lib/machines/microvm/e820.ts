// The microvm machine's memory map as its guest gets it (the multiboot
// mmap, PVH's memmap): what qboot hands a kernel under QEMU's microvm
// (hw/i386/microvm.c's e820 table plus the BIOS areas qboot reserves), with
// node-kvm's own tables in 0xe0000-0xfffff where qboot keeps its BIOS:
//   0         - 0x9fc00    RAM (base memory)
//   0x9fc00   - 0xa0000    reserved (the EBDA a BIOS would have)
//   0xe0000   - 0x100000   reserved (the ACPI tables and the MP table)
//   0x100000  - below4g    RAM
//   0xfeffc000 +16 KiB     reserved (KVM's identity map and TSS, as on pc)
//   4 GiB     - +above4g   RAM
// in address order.
import { E820_RAM, E820_RESERVED, type E820Entry, KVM_IDENTITY_MAP_BASE, KVM_IDENTITY_MAP_SIZE } from '../pc/e820';

/** Base memory ends where a BIOS's EBDA would begin (639 KiB: multiboot's mem_lower). */
export const BASE_MEMORY_END = 0x9fc00n;
/** The BIOS area: node-kvm's firmware tables live here (RSDP scan area, MP floating pointer). */
export const BIOS_AREA_START = 0xe0000n;
export const BIOS_AREA_END = 0x100000n;
const FOUR_GIB = 1n << 32n;

export function microvmE820Entries(below4g: bigint, above4g: bigint): E820Entry[] {
  if (below4g < 2n << 20n) throw new RangeError('the microvm machine needs at least 2 MiB of RAM');
  return [
    { address: 0n, length: BASE_MEMORY_END, type: E820_RAM },
    { address: BASE_MEMORY_END, length: 0xa0000n - BASE_MEMORY_END, type: E820_RESERVED },
    { address: BIOS_AREA_START, length: BIOS_AREA_END - BIOS_AREA_START, type: E820_RESERVED },
    { address: BIOS_AREA_END, length: below4g - BIOS_AREA_END, type: E820_RAM },
    { address: KVM_IDENTITY_MAP_BASE, length: KVM_IDENTITY_MAP_SIZE, type: E820_RESERVED },
    ...(above4g > 0n ? [{ address: FOUR_GIB, length: above4g, type: E820_RAM }] : []),
  ];
}
