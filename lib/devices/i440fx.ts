/**
 * The i440FX host bridge's PCI function 00.0, 8086:1237 (QEMU 7.2
 * hw/pci-host/i440fx.c, TYPE_I440FX_PCI_DEVICE "i440FX"), with what the
 * host bridge's realize wires into the memory map, as its `mappings` (in
 * i440fx_init's order; fixed while plugged, PAM and SMRAM only enable and
 * disable them):
 *
 * - the `pci` container into system memory at priority -1 (pc_pci_as_mapping_init);
 * - `smram-region`, an alias of pci [0xa0000, +128 KiB) at priority 1, enabled
 *   while SMRAM bit D_OPEN (0x72 bit 6) is clear; as it aliases an empty part
 *   of `pci`, RAM shows through (this KVM has no SMM, QEMU runs the same way);
 * - `smram`, the SMM view (a 4 GiB container with `smram-low` = pc.ram
 *   0xa0000-0xbffff), enabled by G_SMRAME (bit 3); mapped in no address space;
 * - 13 PAM segments (pam.ts) driven by 0x59-0x5f;
 * - 0x57 = RAM size / 8 MiB, at most 255 (for old coreboot); 0x72 = 0x02.
 *
 * A configuration write touching 0x59-0x5f or 0x72 re-evaluates all 13
 * segments and both SMRAM regions in ONE memory transaction.  QEMU gives the
 * function no reset of its own: PAM and SMRAM survive a system reset
 * (SeaBIOS copes: src/fw/shadow.c qemu_reboot).
 */
import { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import { toBigInt } from '../util/integers';
import type { DeviceMapping } from './device';
import { PAM_BIOS_BASE, PAM_BIOS_SIZE, PAM_EXPAN_BASE, PAM_EXPAN_SIZE, PAM_REGIONS_COUNT, PamMemoryRegion } from './pam';
import type { PciBus } from './pci/pci-bus';
import { PciDevice } from './pci/pci-device';

export const PCI_VENDOR_ID_INTEL = 0x8086;
export const PCI_DEVICE_ID_INTEL_82441 = 0x1237;
export const PCI_CLASS_BRIDGE_HOST = 0x0600;
export const I440FX_PAM = 0x59;
export const I440FX_PAM_SIZE = 7;
export const I440FX_SMRAM = 0x72;
export const I440FX_COREBOOT_RAM_SIZE = 0x57;
/** hw/pci-host/pam.h: SMRAM register bits */
export const SMRAM_D_OPEN = 0x40;
export const SMRAM_G_SMRAME = 0x08;
export const SMRAM_C_BASE = 0xa0000n;
export const SMRAM_C_SIZE = 0x20000n;
const FOUR_GiB = 1n << 32n;

export interface I440fxOptions {
  bus: PciBus;
  /** the bus's memory container (`pci`), which the function maps into system memory */
  pci: MemoryRegion;
  /** the machine RAM (`pc.ram`), which PAM and smram-low alias */
  ram: MemoryRegion;
  /** all guest RAM in bytes (below + above 4 GiB), for register 0x57 */
  ramSize: bigint | number;
}

/** Everything the memory side needs, checked before the function claims devfn 0; returns the RAM size. */
function checkMemoryOptions(opts: I440fxOptions): bigint {
  for (const k of ['pci', 'ram'] as const) {
    if (!(opts?.[k] instanceof MemoryRegion)) throw new TypeError(`I440fx: options.${k} must be a MemoryRegion`);
  }
  if (opts.pci.container !== null) throw new RangeError(`I440fx: the pci container is already mapped in "${opts.pci.container.name}"; the i440FX's mappings place it`);
  return toBigInt(opts.ramSize, 'ramSize');
}

export class I440fx extends PciDevice {
  readonly smramRegion: MemoryRegion;
  readonly smram: MemoryRegion;
  readonly lowSmram: MemoryRegion;
  readonly pam: readonly PamMemoryRegion[];
  /** `pci` at 0 (priority -1), smram-region at 0xa0000 (1), the PAM aliases (1), all in system memory */
  override readonly mappings: readonly DeviceMapping[];

  constructor(opts: I440fxOptions) {
    const ramSize = checkMemoryOptions(opts);
    super(opts.bus, 0, {
      name: 'i440FX', vendorId: PCI_VENDOR_ID_INTEL, deviceId: PCI_DEVICE_ID_INTEL_82441, revision: 0x02, classId: PCI_CLASS_BRIDGE_HOST,
    });
    // i440fx_realize
    this.config[I440FX_SMRAM] = 0x02;
    const { pci, ram } = opts;
    // i440fx_init (the host bridge's part)
    this.smramRegion = MemoryRegion.alias('smram-region', pci, SMRAM_C_BASE, SMRAM_C_SIZE);
    this.smram = MemoryRegion.container('smram', FOUR_GiB);
    this.lowSmram = MemoryRegion.alias('smram-low', ram, SMRAM_C_BASE, SMRAM_C_SIZE);
    this.smram.addSubregion(SMRAM_C_BASE, this.lowSmram);
    const pam = [new PamMemoryRegion(ram, pci, PAM_BIOS_BASE, PAM_BIOS_SIZE)];
    for (let i = 0; i < PAM_REGIONS_COUNT - 1; i++) {
      pam.push(new PamMemoryRegion(ram, pci, PAM_EXPAN_BASE + BigInt(i) * PAM_EXPAN_SIZE, PAM_EXPAN_SIZE));
    }
    this.pam = pam;
    this.mappings = [
      { space: 'memory', address: 0n, region: pci, priority: -1 },
      { space: 'memory', address: SMRAM_C_BASE, region: this.smramRegion, priority: 1 },
      ...pam.flatMap((seg) => seg.mappings),
    ];
    const mib8 = ramSize / (8n << 20n);
    this.config[I440FX_COREBOOT_RAM_SIZE] = Number(mib8 > 255n ? 255n : mib8);
    this.updateMemoryMappings();
  }

  /** i440fx_update_memory_mappings: every PAM segment and both SMRAM regions, one transaction */
  private updateMemoryMappings(): void {
    transaction(() => {
      this.pam.forEach((seg, i) => seg.update(i, this.config[I440FX_PAM + Math.ceil(i / 2)]));
      this.smramRegion.setEnabled(!(this.config[I440FX_SMRAM] & SMRAM_D_OPEN));
      this.smram.setEnabled((this.config[I440FX_SMRAM] & SMRAM_G_SMRAME) !== 0);
    });
  }

  /** i440fx_write_config */
  override configWrite(address: number, value: number, len: number): void {
    super.configWrite(address, value, len);
    if ((address < I440FX_PAM + I440FX_PAM_SIZE && I440FX_PAM < address + len) || (address <= I440FX_SMRAM && I440FX_SMRAM < address + len)) {
      this.updateMemoryMappings();
    }
  }

  /** i440fx_post_load */
  protected override postLoad(): void {
    this.updateMemoryMappings();
  }

  /** Closes the regions this function made (the `pci` container is the board's). */
  override close(): void {
    super.close();
    transaction(() => {
      for (const seg of this.pam) seg.close();
      this.smramRegion.close();
      this.lowSmram.close();
      this.smram.close();
    });
  }
}
