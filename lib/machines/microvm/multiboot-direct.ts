// A multiboot v1 kernel started without firmware: what the pc machine's
// option ROM does in the guest (lib/machines/pc/optionrom/multiboot.S, after
// QEMU's pc-bios/optionrom/multiboot.S), done before the vCPU starts. The
// kernel, its modules and strings (mb_buf) and the MBI come from the same
// loader as on pc (lib/machines/pc/multiboot.ts); added here from the
// board's memory map instead of INT 12h/INT 15h E820: mem_lower, mem_upper
// (the KiB of the RAM entry at 1 MiB) and the mmap entries at 0x9000.
import type { E820Entry } from '../pc/e820';
import { E820_ENTRY_SIZE, E820_RAM, encodeE820 } from '../pc/e820';
import { MULTIBOOT_E820_ADDR, MULTIBOOT_MBI_ADDR, type MultibootLoad } from '../pc/multiboot';
import type { DirectBootWrite, DirectBootEntry } from './direct-boot';

/** The magic a multiboot kernel finds in EAX. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002n;
/** A multiboot mmap entry: the size field (4 bytes) and an E820 entry. */
const MMAP_ENTRY_SIZE = 4 + E820_ENTRY_SIZE;
/** The MBI's fields (multiboot spec 3.3). */
const MBI_MEM_LOWER = 4;
const MBI_MEM_UPPER = 8;
const MBI_MMAP_LENGTH = 44;

/** The mmap entries: each E820 entry after its size field (20). */
function multibootMmap(e820: readonly E820Entry[]): Uint8Array {
  const raw = encodeE820(e820);
  const out = new Uint8Array(e820.length * MMAP_ENTRY_SIZE);
  const dv = new DataView(out.buffer);
  e820.forEach((_, i) => {
    dv.setUint32(i * MMAP_ENTRY_SIZE, E820_ENTRY_SIZE, true);
    out.set(raw.subarray(i * E820_ENTRY_SIZE, (i + 1) * E820_ENTRY_SIZE), i * MMAP_ENTRY_SIZE + 4);
  });
  return out;
}

/** `load` (loadMultiboot's) with the memory fields the ROM would add, as writes and the entry state. */
export function multibootDirectBoot(load: MultibootLoad, e820: readonly E820Entry[], baseMemoryEnd: bigint): DirectBootEntry {
  const mbi = load.mbi.slice();
  const dv = new DataView(mbi.buffer);
  const mmap = multibootMmap(e820);
  if (MULTIBOOT_E820_ADDR + mmap.length > MULTIBOOT_MBI_ADDR) throw new RangeError(`${e820.length} memory map entries do not fit below the MBI`);
  const upper = e820.find((e) => e.address === 0x100000n && e.type === E820_RAM);
  dv.setUint32(MBI_MEM_LOWER, Number(baseMemoryEnd / 1024n), true);
  dv.setUint32(MBI_MEM_UPPER, upper === undefined ? 0 : Number(upper.length / 1024n), true);
  dv.setUint32(MBI_MMAP_LENGTH, mmap.length, true);
  const writes: DirectBootWrite[] = [
    { address: BigInt(load.loadAddress), bytes: load.buffer },
    { address: BigInt(MULTIBOOT_E820_ADDR), bytes: mmap },
    { address: BigInt(MULTIBOOT_MBI_ADDR), bytes: mbi },
  ];
  return { writes, registers: { eip: BigInt(load.entry), eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: BigInt(MULTIBOOT_MBI_ADDR) } };
}
