// A boot disk reads and writes the registers of the pc's i8257s, its
// drive-less isa-fdc, ioportF0, vmport and the PIIX4 PM's PCI and CPU
// hotplug blocks after SeaBIOS's POST (test/guests/isa-rest-probe.S), and
// prints what it read: byte for byte what it printed under QEMU 7.2
// (test/fixtures/qemu-pc/isa-rest/probe.txt, same command line plus the disk).
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { fixture, pcMachine } from '../helpers/pc';
import { removeDir, tempImage } from './ide-rig';

/** The probe's output: from its "PROBE" line to "DONE". */
function probeOutput(log: string): string[] {
  const at = log.indexOf('PROBE\n');
  const end = log.indexOf('DONE', at);
  if (at < 0 || end < 0) throw new Error(`no PROBE ... DONE on the debugcon; it ends with:\n${log.slice(-1000)}`);
  return log.slice(at, end).split('\n');
}

describeKvm('the pc\'s ISA and ACPI registers, read by a guest', () => {
  jest.setTimeout(120_000);

  test('i8257, isa-fdc, ioportF0, vmport, acpi-pci-hotplug, acpi-cpu-hotplug answer as under QEMU', async () => {
    const code = assemble('isa-rest-probe.S', ['--32']);
    const img = tempImage(1 << 20, (s) => (s * 512 < code.length ? code.subarray(s * 512, (s + 1) * 512) : null));
    try {
      const pc = pcMachine({ disks: [{ file: img.file, snapshot: true }] });
      try {
        await pc.runUntil('DONE');
        expect(probeOutput(pc.debugcon())).toEqual(probeOutput(fixture('isa-rest/probe.txt')));
      } finally {
        pc.machine.close();
      }
    } finally {
      removeDir(img.dir);
    }
  });
});
