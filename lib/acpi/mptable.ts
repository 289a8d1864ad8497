// The Intel MultiProcessor Specification 1.4 tables (chapter 4), as
// SeaBIOS's src/fw/mptable.c builds them on QEMU's machines: the MP
// floating pointer ("_MP_", 16 bytes, on a 16-byte boundary where an OS
// scans: 0xf0000-0xfffff here) and the configuration table ("PCMP") it
// points to: a processor entry per CPU, the buses (PCI first when there is
// one, then ISA), the I/O APIC, an I/O interrupt entry per ISA IRQ that is
// not a PCI IRQ (IRQ 0 on INTIN 2 with the override, IRQ 2 left out), and
// the local interrupts: ExtINT on the BSP's LINT0, NMI on every LINT1.
import { fixChecksum, putAscii, u32 } from './table-header';
import { LAPIC_BASE } from './madt';

export const MP_FLOATING_SIZE = 16;
const MP_CONFIG_HEADER_SIZE = 44;
const MP_CPU_SIZE = 20;
/** Interrupt types (MP spec table 4-8). */
const INT = 0;
const NMI = 1;
const EXTINT = 3;

export interface MpCpu {
  apicId: number;
  enabled: boolean;
}

export interface MpTableDescription {
  cpus: readonly MpCpu[];
  /** The local APIC's version register's low byte (KVM's: 0x14). */
  apicVersion: number;
  /** CPUID.1 EAX and EDX (SeaBIOS copies them into every processor entry). */
  cpuSignature: number;
  cpuFeatures: number;
  /** Whether the machine has a PCI bus 0 (then ISA is bus 1). */
  pciBus: boolean;
  /** The INTx pins of bus 0's devices and the IRQ (interrupt line) each is routed to, in device order (SeaBIOS: each pin once per device). */
  pciInterrupts?: readonly { device: number; pin: 1 | 2 | 3 | 4; irq: number }[];
  ioapic: { id: number; version: number; address: number };
  /** The ISA IRQs that are PCI's and get no ISA entry (SeaBIOS's BUILD_PCI_IRQS), e.g. [5, 9, 10, 11]; [] for none. */
  pciIrqs: readonly number[];
  /** ISA IRQ 0 reaches INTIN 2 (QEMU's etc/irq0-override); then IRQ 2 has no entry. */
  irq0Override: boolean;
  /** OEM ID (8 characters, SeaBIOS: 'BOCHSCPU') and product ID (12, '0.1         '). */
  oemId?: string;
  productId?: string;
}

/** The configuration table's entries after its header, and how many there are. */
function entries(d: MpTableDescription): { bytes: Uint8Array; count: number } {
  const out: number[][] = [];
  const cpu = (c: MpCpu, i: number) => {
    const e = new Uint8Array(MP_CPU_SIZE);
    const dv = new DataView(e.buffer);
    e.set([0, c.apicId, d.apicVersion, (c.enabled ? 1 : 0) | (i === 0 ? 2 : 0)]); // EN, BP (the first is the BSP)
    dv.setUint32(4, d.cpuSignature >>> 0, true);
    dv.setUint32(8, d.cpuFeatures >>> 0, true);
    return [...e];
  };
  d.cpus.forEach((c, i) => out.push(cpu(c, i)));
  const bus = (id: number, type: string) => [1, id, ...[...type.padEnd(6)].map((ch) => ch.charCodeAt(0))];
  if (d.pciBus) out.push(bus(0, 'PCI'));
  const isa = d.pciBus ? 1 : 0;
  out.push(bus(isa, 'ISA'));
  const ioapicAddr = u32(d.ioapic.address, 'ioapic.address');
  out.push([2, d.ioapic.id, d.ioapic.version, 1, ioapicAddr & 0xff, (ioapicAddr >>> 8) & 0xff, (ioapicAddr >>> 16) & 0xff, ioapicAddr >>> 24]);
  // type, interrupt type, flags (u16: 0 conforms to the bus), source bus, source IRQ, destination APIC, destination pin
  const irq = (kind: number, type: number, srcIrq: number, dst: number, pin: number, bus = isa, flags = 0) => [kind, type, flags, 0, bus, srcIrq, dst, pin];
  for (const p of d.pciInterrupts ?? []) {
    if (!d.pciBus) throw new RangeError('pciInterrupts need pciBus');
    out.push(irq(3, INT, (p.device << 2) | (p.pin - 1), d.ioapic.id, p.irq, 0, 1)); // PCI bus 0, active high
  }
  for (let i = 0; i < 16; i++) {
    if (d.pciIrqs.includes(i)) continue;
    if (d.irq0Override && i === 2) continue;
    out.push(irq(3, INT, i, d.ioapic.id, d.irq0Override && i === 0 ? 2 : i));
  }
  out.push(irq(4, EXTINT, 0, 0, 0)); // the BSP's LINT0 (APIC #0)
  out.push(irq(4, NMI, 0, 0xff, 1)); // every LINT1
  return { bytes: Uint8Array.from(out.flat()), count: out.length };
}

/** The configuration table, to be placed at `address`, and the floating pointer that points to it. */
export function buildMpTable(d: MpTableDescription, address: bigint | number): { floating: Uint8Array; config: Uint8Array } {
  if (!Array.isArray(d.cpus) || d.cpus.length === 0) throw new RangeError('the MP table needs at least one CPU');
  const at = u32(address, 'the MP configuration table address');
  const body = entries(d);
  const config = new Uint8Array(MP_CONFIG_HEADER_SIZE + body.bytes.length);
  const dv = new DataView(config.buffer);
  putAscii(config, 0, 'PCMP', 4, 'signature');
  dv.setUint16(4, config.length, true);
  config[6] = 4; // spec revision 1.4
  putAscii(config, 8, d.oemId ?? 'BOCHSCPU', 8, 'oemId');
  putAscii(config, 16, d.productId ?? '0.1         ', 12, 'productId');
  dv.setUint16(34, body.count, true);
  dv.setUint32(36, LAPIC_BASE, true);
  config.set(body.bytes, MP_CONFIG_HEADER_SIZE);
  fixChecksum(config, 7);

  const floating = new Uint8Array(MP_FLOATING_SIZE);
  putAscii(floating, 0, '_MP_', 4, 'signature');
  new DataView(floating.buffer).setUint32(4, at, true);
  floating[8] = 1; // length in 16-byte units
  floating[9] = 4; // spec revision 1.4
  fixChecksum(floating, 10);
  return { floating, config };
}

