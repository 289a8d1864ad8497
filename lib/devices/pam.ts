/**
 * Programmable Attribute Map segments of the i440FX (QEMU 7.2 hw/pci-host/pam.c).
 *
 * Each segment of 0xc0000-0xfffff has four aliases over the same range, all
 * at priority 1 in the system memory and at most one of them enabled:
 *   [0] "pam-pci" -> the PCI address space (PAM attribute 0: reads and writes go to PCI, i.e. the BIOS ROM)
 *   [1] "pam-rom" -> RAM, read-only    (1: read RAM, write PCI; QEMU: "not quite correct")
 *   [2] "pam-pci" -> RAM               (2: write-only; QEMU approximates it with plain RAM)
 *   [3] "pam-ram" -> RAM               (3: read/write RAM)
 * The aliases are the i440FX's mappings (fixed; only which one is enabled changes).
 */
import { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import type { DeviceMapping } from './device';

export const PAM_BIOS_BASE = 0xf0000n;
export const PAM_BIOS_SIZE = 0x10000n;
export const PAM_EXPAN_BASE = 0xc0000n;
export const PAM_EXPAN_SIZE = 0x4000n;
/** 1 BIOS segment + 12 expansion segments */
export const PAM_REGIONS_COUNT = 13;
export const PAM_ATTR_MASK = 3;

export class PamMemoryRegion {
  /** indexed by the PAM attribute (0-3) */
  readonly alias: readonly [MemoryRegion, MemoryRegion, MemoryRegion, MemoryRegion];
  /** the attribute whose alias is enabled */
  current = 0;
  /** the four aliases at `start` in system memory, priority 1, in index order (init_pam adds them so) */
  readonly mappings: readonly DeviceMapping[];

  /** init_pam: the aliases are created [3], [1], [0], [2], disabled */
  constructor(ram: MemoryRegion, pci: MemoryRegion, readonly start: bigint, readonly size: bigint) {
    const ramAlias = MemoryRegion.alias('pam-ram', ram, start, size);
    const romAlias = MemoryRegion.alias('pam-rom', ram, start, size);
    romAlias.setReadonly(true);
    const pciAlias = MemoryRegion.alias('pam-pci', pci, start, size);
    const writeOnly = MemoryRegion.alias('pam-pci', ram, start, size);
    this.alias = [pciAlias, romAlias, writeOnly, ramAlias];
    for (const a of this.alias) a.setEnabled(false);
    this.mappings = this.alias.map((region) => ({ space: 'memory', address: start, region, priority: 1 }));
  }

  /**
   * pam_update: segment `idx` takes its attribute from the high nibble of
   * `val` when idx is even, from the low nibble when it is odd.
   */
  update(idx: number, val: number): void {
    transaction(() => {
      this.alias[this.current].setEnabled(false);
      this.current = (val >> (idx & 1 ? 0 : 4)) & PAM_ATTR_MASK;
      this.alias[this.current].setEnabled(true);
    });
  }

  close(): void {
    for (const a of this.alias) a.close();
  }
}
