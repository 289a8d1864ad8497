// A small pc-like map for listener tests: 2 MiB of RAM (pc.ram, mapped by the
// alias ram-below-4g), a 128 KiB BIOS ROM inside a "pci" container below it
// (priority -1), and PAM-style aliases over 0xe0000-0xfffff choosing between
// the BIOS (pam-pci, enabled), RAM (pam-ram) and read-only RAM (pam-rom).
import { AddressSpace, MemoryRegion, transaction } from '../../lib';

export function smallPc() {
  const system = MemoryRegion.container('system', 1n << 64n);
  const ram = MemoryRegion.ram('pc.ram', 0x200000n);
  const pci = MemoryRegion.container('pci', 1n << 64n);
  const bios = MemoryRegion.rom('isa-bios', 0x20000n);
  const below = MemoryRegion.alias('ram-below-4g', ram, 0n, 0x200000n);
  const pamPci = MemoryRegion.alias('pam-pci', pci, 0xe0000n, 0x20000n);
  const pamRam = MemoryRegion.alias('pam-ram', ram, 0xe0000n, 0x20000n);
  const pamRom = MemoryRegion.alias('pam-rom', ram, 0xe0000n, 0x20000n);
  pamRom.setReadonly(true);
  pamRam.setEnabled(false);
  pamRom.setEnabled(false);
  transaction(() => {
    system.addSubregion(0n, below);
    system.addSubregionOverlap(0n, pci, -1);
    pci.addSubregionOverlap(0xe0000n, bios, 1);
    system.addSubregionOverlap(0xe0000n, pamPci, 1);
    system.addSubregionOverlap(0xe0000n, pamRam, 1);
    system.addSubregionOverlap(0xe0000n, pamRom, 1);
  });
  const as = new AddressSpace(system, 'memory');
  const close = () => {
    as.destroy();
    for (const mr of [pamRom, pamRam, pamPci, below, bios, pci, ram, system]) mr.close();
  };
  return { system, ram, pci, bios, pamPci, pamRam, pamRom, as, close };
}
