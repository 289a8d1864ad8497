// The pc machine's "etc/e820" table (hw/i386/e820_memory_layout.c): entries
// in the order QEMU adds them, packed little-endian { u64 address; u64 length;
// u32 type } (20 bytes each), as SeaBIOS reads them (src/fw/paravirt.c
// qemu_early_e820).
import { toU64 } from '../../util/integers';

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

/**
 * How the pc machine splits its RAM (x86ms->below_4g_mem_size and
 * above_4g_mem_size, computed by pc_init1's lowmem rule), and where the part
 * above 4 GiB starts (4 GiB, or 1 TiB when QEMU relocates it past AMD's
 * HyperTransport hole).
 */
export interface PcRamSplit {
  belowSize: bigint | number;
  aboveSize: bigint | number;
  /** x86ms->above_4g_mem_start (default 4 GiB). */
  aboveStart?: bigint | number;
}

export interface PcE820Options extends PcRamSplit {
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
export const AMD_HT_START = 0xfd00000000n;
export const AMD_HT_SIZE = 0x10000000000n - AMD_HT_START;

const FOUR_GIB = 0x1_0000_0000n;

/**
 * The entries, in QEMU's insertion order: the KVM reservation (accelerator
 * init runs first), the HyperTransport hole, RAM below 4 GiB, RAM above.
 */
export function pcE820Entries(options: PcE820Options): E820Entry[] {
  const below = toU64(options.belowSize, 'e820 belowSize');
  const above = toU64(options.aboveSize, 'e820 aboveSize');
  const aboveStart = toU64(options.aboveStart ?? FOUR_GIB, 'e820 aboveStart');
  if (below > FOUR_GIB) throw new RangeError(`e820 belowSize 0x${below.toString(16)} is more than 4 GiB`);
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
