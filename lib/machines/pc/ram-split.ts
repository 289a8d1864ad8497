/**
 * How the `pc` machine (i440FX) splits its RAM around the 32-bit PCI hole:
 * QEMU 7.2 hw/i386/pc_piix.c pc_init1 (lowmem) and hw/i386/pc.c
 * pc_memory_init (where ram-above-4g goes, and the phys-bits check).
 */
import { toBigInt } from '../../util/integers';
import { hex } from '../../util/hex';

const GiB = 1n << 30n;
const FOUR_GiB = 4n * GiB;
/** pc_piix.c: the traditional split, the default of max-ram-below-4g */
export const DEFAULT_MAX_RAM_BELOW_4G = 0xe0000000n;
/** pc_piix.c: a machine that has to split is split at 3 GiB (gigabyte_align) */
const GIGABYTE_ALIGNED_LOWMEM = 0xc0000000n;
/** hw/pci-host/i440fx.c I440FX_PCI_HOST_HOLE64_SIZE_DEFAULT ("pci-hole64-size") */
export const I440FX_PCI_HOLE64_SIZE = 1n << 31n;
/** hw/i386/pc.c: the AMD HyperTransport range below 1 TiB, and where RAM moves to avoid it */
export const AMD_HT_START = 0xfd00000000n;
export const AMD_ABOVE_1TB_START = 1n << 40n;

export interface PcRamSplitOptions {
  /** the machine property max-ram-below-4g (0 or absent: the 3.5 GiB default) */
  maxRamBelow4g?: bigint | number;
  /** the guest CPU's physical address bits (QEMU's default CPU here: 40) */
  physBits?: number;
  /** the guest CPU is an AMD one (QEMU's default qemu64 is AuthenticAMD) */
  amdCpu?: boolean;
}

export interface PcRamSplit {
  /** bytes of pc.ram mapped at 0 by ram-below-4g */
  below4g: bigint;
  /** bytes of pc.ram (from offset below4g) mapped by ram-above-4g; 0 = no such alias */
  above4g: bigint;
  /** where ram-above-4g is mapped: 4 GiB, or 1 TiB when the AMD HT hole would be crossed */
  above4gStart: bigint;
}

/**
 * A split as the pc helpers (e820, CMOS, fw_cfg items) take it: what
 * pcRamSplit() returns, or sizes in bytes (safe-integer numbers accepted;
 * above4gStart defaults to 4 GiB).
 */
export interface PcRamSplitInput {
  below4g: bigint | number;
  above4g: bigint | number;
  above4gStart?: bigint | number;
}

function roundUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

/**
 * The below/above 4 GiB split of `ramSize` bytes.  pc_init1: lowmem starts
 * as max-ram-below-4g (default 3.5 GiB); if the RAM reaches it, lowmem is
 * capped at 3 GiB; RAM beyond lowmem goes above 4 GiB.  So -m 3583 is all
 * below, -m 3584 (= 3.5 GiB) is 3 GiB + 512 MiB, -m 8G is 3 GiB + 5 GiB.
 * pc_memory_init then moves ram-above-4g to 1 TiB on AMD CPUs when the top
 * of the 64-bit PCI hole would reach the HT range, and refuses a map the
 * CPU's phys-bits cannot address.
 */
export function pcRamSplit(ramSize: bigint | number, options: PcRamSplitOptions = {}): PcRamSplit {
  const ram = toBigInt(ramSize, 'ramSize');
  if (ram <= 0n) throw new RangeError(`ramSize must be greater than 0, got ${ram}`);
  const physBits = options.physBits ?? 40;
  if (!Number.isInteger(physBits) || physBits < 32 || physBits > 52) {
    throw new RangeError(`physBits must be an integer from 32 to 52, got ${String(physBits)}`);
  }
  if (options.amdCpu !== undefined && typeof options.amdCpu !== 'boolean') throw new TypeError(`amdCpu must be a boolean, got ${typeof options.amdCpu}`);
  let maxBelow = options.maxRamBelow4g === undefined ? 0n : toBigInt(options.maxRamBelow4g, 'maxRamBelow4g');
  if (maxBelow < 0n) throw new RangeError(`maxRamBelow4g must not be negative, got ${maxBelow}`);
  if (maxBelow > FOUR_GiB) {
    // hw/i386/pc.c pc_machine_set_max_ram_below_4g
    throw new RangeError(`Machine option 'max-ram-below-4g=${maxBelow}' expects size less than or equal to 4G`);
  }
  if (maxBelow === 0n) maxBelow = DEFAULT_MAX_RAM_BELOW_4G;

  let lowmem = maxBelow;
  if (ram >= maxBelow && lowmem > GIGABYTE_ALIGNED_LOWMEM) lowmem = GIGABYTE_ALIGNED_LOWMEM;
  const below4g = ram >= lowmem ? lowmem : ram;
  const above4g = ram - below4g;

  // pc_max_used_gpa: the end of the 64-bit PCI hole, which starts at the
  // 1 GiB-rounded end of ram-above-4g (pc_pci_hole64_start, no memory hotplug)
  const maxUsed = (start: bigint) => (physBits <= 32 ? (1n << BigInt(physBits)) - 1n : roundUp(start + above4g, GiB) + I440FX_PCI_HOLE64_SIZE - 1n);
  let above4gStart = FOUR_GiB;
  if ((options.amdCpu ?? true) && maxUsed(above4gStart) >= AMD_HT_START) above4gStart = AMD_ABOVE_1TB_START;
  const maxPhys = (1n << BigInt(physBits)) - 1n;
  if (maxPhys < maxUsed(above4gStart)) {
    throw new RangeError(`Address space limit ${hex(maxPhys)} < ${hex(maxUsed(above4gStart))} phys-bits too low (${physBits}): use less RAM`);
  }
  return { below4g, above4g, above4gStart };
}
