// After SeaBIOS's POST, the pc machine's "I/O" address space is QEMU 7.2's
// (test/fixtures/qemu-pc/m128/post/io-tree.txt), line for line, except:
// - where SeaBIOS put the PIIX4 PM and SMBus blocks: QEMU's ACPI tables
//   (etc/table-loader) make SeaBIOS keep 0x600/0x700; node-kvm lets SeaBIOS
//   build its own tables, and then it uses 0xb000/0xb100 (src/fw/pciinit.c);
// - the in-kernel irqchip's kvm-pic, kvm-pit and kvm-elcr placeholders, which
//   another part of the board adds: compared only when present.
import { describeKvm } from '../helpers/kvm';
import { fixture, NO_BOOTABLE_DEVICE, pcMachine } from '../helpers/pc';

/** QEMU's lines that come from its ACPI tables, and ours in their place. */
const QEMU_ACPI_LINES = [
  '    0000000000000600-000000000000063f (prio 0, i/o): piix4-pm',
  '      0000000000000600-0000000000000603 (prio 0, i/o): acpi-evt',
  '      0000000000000604-0000000000000605 (prio 0, i/o): acpi-cnt',
  '      0000000000000608-000000000000060b (prio 0, i/o): acpi-tmr',
  '    0000000000000700-000000000000073f (prio 0, i/o): pm-smbus',
];
const SEABIOS_ACPI_LINES = [
  '    000000000000b000-000000000000b03f (prio 0, i/o): piix4-pm',
  '      000000000000b000-000000000000b003 (prio 0, i/o): acpi-evt',
  '      000000000000b004-000000000000b005 (prio 0, i/o): acpi-cnt',
  '      000000000000b008-000000000000b00b (prio 0, i/o): acpi-tmr',
  '    000000000000b100-000000000000b13f (prio 0, i/o): pm-smbus',
];
const IRQCHIP_REGIONS = /\): kvm-(pic|pit|elcr)$/;

/** The "address-space: I/O" block of an `info mtree` answer. */
function ioBlock(mtree: string): string[] {
  const at = mtree.indexOf('address-space: I/O\n');
  if (at < 0) throw new Error('no "address-space: I/O" block');
  return mtree.slice(at).split('\n\n')[0].trimEnd().split('\n');
}

describeKvm('the pc machine\'s I/O address space', () => {
  jest.setTimeout(120_000);

  test('after "No bootable device." it is QEMU\'s, but for the ACPI-table-placed PM/SMBus blocks and the irqchip\'s regions', async () => {
    const qemu = fixture('m128/post/io-tree.txt').trimEnd().split('\n');
    for (const l of QEMU_ACPI_LINES) expect(qemu).toContain(l);
    const pc = pcMachine();
    let ours: string[];
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      ours = ioBlock(pc.machine.mtree());
    } finally {
      pc.machine.close();
    }
    for (const l of SEABIOS_ACPI_LINES) expect(ours).toContain(l);
    const present = new Set(ours.filter((l) => IRQCHIP_REGIONS.test(l)));
    const comparable = (lines: string[], acpi: string[]) =>
      lines.filter((l) => !acpi.includes(l) && (!IRQCHIP_REGIONS.test(l) || present.has(l)));
    expect(comparable(ours, SEABIOS_ACPI_LINES)).toEqual(comparable(qemu, QEMU_ACPI_LINES));
  });
});
