// The builders in lib/acpi against what Debian's SeaBIOS 1.16.2 builds on
// the pc machine (read out of guest memory after its POST): given the same
// description, the RSDP, RSDT, FADT, FACS, MADT and MP table come out byte
// for byte the same (the addresses are SeaBIOS's choice, taken from its
// tables; the DSDT and SSDT are SeaBIOS's AML, not compared).
import { buildFacs, buildFadt, FADT_F } from '../../lib/acpi/fadt';
import { buildMadt, IOAPIC_BASE, PC_PCI_IRQS, pcInterruptOverrides } from '../../lib/acpi/madt';
import { buildMpTable } from '../../lib/acpi/mptable';
import { buildRsdp } from '../../lib/acpi/rsdp';
import { buildRsdt } from '../../lib/acpi/rsdt';
import { acpiTables, mpTable } from '../helpers/acpi';
import { describeKvm } from '../helpers/kvm';
import { NO_BOOTABLE_DEVICE, pcMachine } from '../helpers/pc';

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);

describeKvm('lib/acpi builds what SeaBIOS builds on the pc machine', () => {
  jest.setTimeout(120_000);
  let found: ReturnType<typeof acpiTables>;
  let mp: ReturnType<typeof mpTable>;
  let leaf1: { eax: number; edx: number };

  beforeAll(async () => {
    const pc = pcMachine();
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const read = (gpa: number, n: number) => pc.machine.readGuest(gpa, n);
      found = acpiTables(read);
      mp = mpTable(read);
      const e = pc.machine.vcpu.getCpuid().find((x) => x.function === 1)!;
      leaf1 = { eax: e.eax, edx: e.edx };
    } finally {
      pc.machine.close();
    }
  });

  test('the RSDP (revision 0) and the RSDT with SeaBIOS\'s table addresses', () => {
    const rsdt = found.tables.get('RSDT')!;
    expect(buildRsdp({ revision: 0, rsdt: rsdt.address })).toEqual(found.rsdp.bytes);
    const entries = Array.from({ length: (rsdt.bytes.length - 36) / 4 }, (_, i) => u32(rsdt.bytes, 36 + 4 * i));
    expect(buildRsdt(entries)).toEqual(rsdt.bytes);
  });

  test('the FADT (ACPI 1.0, PIIX4 PM at 0xb000, SCI 9) and the FACS', () => {
    const fadt = found.tables.get('FACP')!;
    const ours = buildFadt({
      revision: 1, facs: found.tables.get('FACS')!.address, dsdt: found.tables.get('DSDT')!.address,
      sciInt: 9, smiCmd: 0xb2, acpiEnable: 0xf1, acpiDisable: 0xf0,
      pm1aEvt: 0xb000, pm1aCnt: 0xb004, pmTmr: 0xb008, gpe0: 0xafe0,
      pm1EvtLen: 4, pm1CntLen: 2, pmTmrLen: 4, gpe0Len: 4, plvl2Lat: 0xfff, plvl3Lat: 0xfff,
      flags: FADT_F.WBINVD | FADT_F.PROC_C1 | FADT_F.SLP_BUTTON | FADT_F.RTC_S4 | FADT_F.USE_PLATFORM_CLOCK,
    });
    expect(ours).toEqual(fadt.bytes);
    expect(buildFacs()).toEqual(found.tables.get('FACS')!.bytes);
  });

  test('the MADT: one CPU, the IOAPIC, QEMU\'s interrupt source overrides, the LINT1 NMI', () => {
    const ours = buildMadt({
      cpus: [{ uid: 0, apicId: 0 }],
      ioapics: [{ id: 0, address: IOAPIC_BASE, gsiBase: 0 }],
      overrides: pcInterruptOverrides(PC_PCI_IRQS),
    });
    expect(ours).toEqual(found.tables.get('APIC')!.bytes);
  });

  test('the MP table: floating pointer and configuration table', () => {
    const ours = buildMpTable({
      cpus: [{ apicId: 0, enabled: true }], apicVersion: 0x14,
      cpuSignature: leaf1.eax, cpuFeatures: leaf1.edx,
      pciBus: true, pciInterrupts: [{ device: 1, pin: 1, irq: 9 }], // PIIX4 PM's INTA, routed to the SCI
      ioapic: { id: 0, version: 0x11, address: IOAPIC_BASE }, pciIrqs: PC_PCI_IRQS, irq0Override: true,
    }, mp.configAt);
    expect(ours.config).toEqual(mp.config);
    expect(ours.floating).toEqual(mp.floating);
  });
});
