/**
 * `info pci` text, as QEMU 7.2 prints it (monitor/hmp-cmds.c hmp_info_pci /
 * hmp_info_pci_device over hw/pci/pci.c qmp_query_pci_device):
 *
 *   Bus  0, device   1, function 1:
 *     IDE controller: PCI device 8086:7010
 *       PCI subsystem 1af4:1100
 *       IRQ 9, pin A                           (only when the interrupt pin is set)
 *       BAR4: I/O at 0xc000 [0xc00f].
 *       id ""
 *
 * - the class line is the name of the exact class in QEMU's
 *   pci_class_descriptions, or "Class %04d" (decimal) for a class it does not name;
 * - the IRQ is config byte 0x3c as the firmware left it, whatever it is;
 * - a BAR that is not mapped prints QEMU's PCI_BAR_UNMAPPED address
 *   (2^64 - 1), whose end wraps: "I/O at 0xffffffffffffffff [0x000e]." for
 *   16 bytes (observed on QEMU 7.2 at reset);
 * - BARs print in index order, the ROM BAR (6) last; "id" is the qdev id,
 *   empty for the board's own devices.
 * node-kvm's bus has no bridges, so there are no bridge or secondary-bus blocks.
 */
import { hexPadded } from '../../util/hex';
import type { PciBus } from './pci-bus';
import {
  PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CLASS_DEVICE, PCI_DEVICE_ID, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_ROM_ADDRESS, PCI_ROM_SLOT,
  PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID, type PciDevice,
} from './pci-device';

/** hw/pci/pci.c pci_class_descriptions: the names `info pci` gives exact classes */
const CLASS_NAMES = new Map<number, string>([
  [0x0001, 'VGA controller'], [0x0100, 'SCSI controller'], [0x0101, 'IDE controller'], [0x0102, 'Floppy controller'],
  [0x0103, 'IPI controller'], [0x0104, 'RAID controller'], [0x0106, 'SATA controller'], [0x0107, 'SAS controller'],
  [0x0180, 'Storage controller'], [0x0200, 'Ethernet controller'], [0x0201, 'Token Ring controller'],
  [0x0202, 'FDDI controller'], [0x0203, 'ATM controller'], [0x0280, 'Network controller'], [0x0300, 'VGA controller'],
  [0x0301, 'XGA controller'], [0x0302, '3D controller'], [0x0380, 'Display controller'], [0x0400, 'Video controller'],
  [0x0401, 'Audio controller'], [0x0402, 'Phone'], [0x0403, 'Audio controller'], [0x0480, 'Multimedia controller'],
  [0x0500, 'RAM controller'], [0x0501, 'Flash controller'], [0x0580, 'Memory controller'], [0x0600, 'Host bridge'],
  [0x0601, 'ISA bridge'], [0x0602, 'EISA bridge'], [0x0603, 'MC bridge'], [0x0604, 'PCI bridge'],
  [0x0605, 'PCMCIA bridge'], [0x0606, 'NUBUS bridge'], [0x0607, 'CARDBUS bridge'], [0x0608, 'RACEWAY bridge'],
  [0x0680, 'Bridge'], [0x0700, 'Serial port'], [0x0701, 'Parallel port'], [0x0800, 'Interrupt controller'],
  [0x0801, 'DMA controller'], [0x0802, 'Timer'], [0x0803, 'RTC'], [0x0900, 'Keyboard'], [0x0901, 'Pen'],
  [0x0902, 'Mouse'], [0x0a00, 'Dock station'], [0x0b00, 'i386 cpu'], [0x0c00, 'Firewire controller'],
  [0x0c01, 'Access bus controller'], [0x0c02, 'SSA controller'], [0x0c03, 'USB controller'],
  [0x0c04, 'Fibre channel controller'], [0x0c05, 'SMBus'],
]);

/** hw/pci/pci.h PCI_BAR_UNMAPPED: the address QEMU reports for a BAR that decodes nothing */
const PCI_BAR_UNMAPPED = (1n << 64n) - 1n;
const U64 = (1n << 64n) - 1n;

function word(dev: PciDevice, off: number): string {
  return hexPadded(BigInt(dev.config[off] | (dev.config[off + 1] << 8)), 4);
}

/** printf's "%0Nx" of a 64-bit value: at least `digits` digits, never cut (hexPadded wraps) */
function hexAtLeast(value: bigint, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

/** The BAR lines of qmp_query_pci_regions: every registered BAR, its type from the BAR's read-only low bits. */
function barLines(dev: PciDevice): string[] {
  const out: string[] = [];
  for (let i = 0; i <= PCI_ROM_SLOT; i++) {
    const bar = dev.bar(i);
    if (!bar) continue;
    const type = dev.config[i === PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i];
    const addr = bar.address ?? PCI_BAR_UNMAPPED;
    const last = (addr + bar.region.size - 1n) & U64;
    if (i !== PCI_ROM_SLOT && type & PCI_BASE_ADDRESS_SPACE_IO) {
      out.push(`      BAR${i}: I/O at 0x${hexAtLeast(addr, 4)} [0x${hexAtLeast(last, 4)}].`);
    } else {
      const is64 = i !== PCI_ROM_SLOT && (type & PCI_BASE_ADDRESS_MEM_TYPE_64) !== 0;
      const prefetch = i !== PCI_ROM_SLOT && (type & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
      out.push(`      BAR${i}: ${is64 ? 64 : 32} bit${prefetch ? ' prefetchable' : ''} memory at 0x${hexAtLeast(addr, 8)} [0x${hexAtLeast(last, 8)}].`);
    }
  }
  return out;
}

/** One function's block (hmp_info_pci_device); the bus is root bus 0. */
function deviceBlock(dev: PciDevice): string[] {
  const cls = dev.config[PCI_CLASS_DEVICE] | (dev.config[PCI_CLASS_DEVICE + 1] << 8);
  const lines = [
    `  Bus  0, device ${String(dev.devfn >> 3).padStart(3)}, function ${dev.devfn & 7}:`,
    `    ${CLASS_NAMES.get(cls) ?? `Class ${String(cls).padStart(4, '0')}`}: PCI device ${word(dev, PCI_VENDOR_ID)}:${word(dev, PCI_DEVICE_ID)}`,
    // a type 0 header always has the subsystem ids (qmp_query_pci_device_info)
    `      PCI subsystem ${word(dev, PCI_SUBSYSTEM_VENDOR_ID)}:${word(dev, PCI_SUBSYSTEM_ID)}`,
  ];
  const pin = dev.config[PCI_INTERRUPT_PIN];
  if (pin !== 0) lines.push(`      IRQ ${dev.config[PCI_INTERRUPT_LINE]}, pin ${String.fromCharCode(0x40 + pin)}`);
  lines.push(...barLines(dev), '      id ""');
  return lines;
}

/** The whole `info pci` answer for a root bus: its functions in devfn order. */
export function formatInfoPci(bus: PciBus): string {
  return bus.functions.flatMap(deviceBlock).map((l) => l + '\n').join('');
}
