// The pc machine's "etc/e820" table (hw/i386/e820_memory_layout.c): entries
// in the order QEMU adds them, packed little-endian { u64 address; u64 length;
// u32 type } (20 bytes each), as SeaBIOS reads them (src/fw/paravirt.c
// qemu_early_e820).
import { toU64 } from '../../util/integers';
import { AMD_ABOVE_1TB_START, AMD_HT_START, type PcRamSplitInput } from './ram-split';
import { hex } from '../../util/hex';

/** E820 entry types (hw/i386/e820_memory_layout.h). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface E820Entry {
  address: bigint;
  length: bigint;
  type: number;
}

/** sizeof(struct e820_entry), packed. */
export const E820_ENTRY_SIZE = 20;

/** The RAM split (pcRamSplit()) and what the CPU makes of the HyperTransport range. */
export interface PcE820Options extends PcRamSplitInput {
  /**
   * The guest CPU is AMD and has at least 40 physical address bits, so QEMU
   * advertises the HyperTransport range below 1 TiB as reserved (pc_memory_init).
   * QEMU's default CPU (qemu64, AuthenticAMD, 40 bits) does.
   */
  amdHyperTransportHole: boolean;
}

/** KVM's identity-map page and TSS (target/i386/kvm/kvm.c kvm_arch_init: KVM_SET_IDENTITY_MAP_ADDR 0xfeffc000, 4 pages). */
export const KVM_IDENTITY_MAP_BASE = 0xfeffc000n;
export const KVM_IDENTITY_MAP_SIZE = 0x4000n;
/** AMD_HT_START .. 1 TiB (hw/i386/pc.c). */
export const AMD_HT_SIZE = AMD_ABOVE_1TB_START - AMD_HT_START;

const FOUR_GIB = 0x1_0000_0000n;

/**
 * The entries, in QEMU's insertion order: the KVM reservation (accelerator
 * init runs first), the HyperTransport hole, RAM below 4 GiB, RAM above.
 */
export function pcE820Entries(options: PcE820Options): E820Entry[] {
  const below = toU64(options.below4g, 'e820 below4g');
  const above = toU64(options.above4g, 'e820 above4g');
  const aboveStart = toU64(options.above4gStart ?? FOUR_GIB, 'e820 above4gStart');
  if (below > FOUR_GIB) throw new RangeError(`e820 below4g ${hex(below)} is more than 4 GiB`);
  const entries: E820Entry[] = [{ address: KVM_IDENTITY_MAP_BASE, length: KVM_IDENTITY_MAP_SIZE, type: E820_RESERVED }];
  if (options.amdHyperTransportHole) entries.push({ address: AMD_HT_START, length: AMD_HT_SIZE, type: E820_RESERVED });
  entries.push({ address: 0n, length: below, type: E820_RAM });
  if (above > 0n) entries.push({ address: aboveStart, length: above, type: E820_RAM });
  return entries;
}

/** The table's bytes (QEMU's e820_table array). */
export function encodeE820(entries: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(entries.length * E820_ENTRY_SIZE);
  const view = new DataView(out.buffer);
  entries.forEach((e, i) => {
    view.setBigUint64(i * E820_ENTRY_SIZE, e.address, true);
    view.setBigUint64(i * E820_ENTRY_SIZE + 8, e.length, true);
    view.setUint32(i * E820_ENTRY_SIZE + 16, e.type, true);
  });
  return out;
}
