// SeaBIOS on the pc machine finds QEMU's SMBIOS files (etc/smbios/*) and
// installs the tables where it installs them under QEMU: after "No bootable
// device." the entry point and the table in the F segment are QEMU's, byte
// for byte (test/fixtures/qemu-pc/smbios/smbios.json "guestAfterPost").
import * as fs from 'fs';
import * as path from 'path';
import { describeKvm } from '../helpers/kvm';
import { NO_BOOTABLE_DEVICE, PC_FIXTURES, pcMachine } from '../helpers/pc';

const GUEST = (JSON.parse(fs.readFileSync(path.join(PC_FIXTURES, 'smbios/smbios.json'), 'utf8')) as {
  guestAfterPost: { entryPointAddress: string; entryPoint: string; tableAddress: string; table: string };
}).guestAfterPost;

describeKvm('SMBIOS on the pc machine under SeaBIOS', () => {
  jest.setTimeout(120_000);

  test('-m 128: the entry point, its table and SeaBIOS\'s "Copying SMBIOS" line are QEMU\'s', async () => {
    const pc = pcMachine();
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const m = pc.machine;
      const qemuLog = fs.readFileSync(path.join(PC_FIXTURES, 'm128/post/debugcon.log'), 'latin1');
      const copying = (log: string) => log.split('\n').find((l) => l.startsWith('Copying SMBIOS'));
      expect(copying(pc.debugcon())).toBe(copying(qemuLog));
      const hexAt = (address: string, hexText: string) => Buffer.from(m.readGuest(Number(address), hexText.length / 2)).toString('hex');
      expect(hexAt(GUEST.entryPointAddress, GUEST.entryPoint)).toBe(GUEST.entryPoint);
      expect(hexAt(GUEST.tableAddress, GUEST.table)).toBe(GUEST.table);
    } finally {
      pc.machine.close();
    }
  });
});
