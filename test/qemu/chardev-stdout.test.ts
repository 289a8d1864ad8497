// node-kvm-qemu's stdio back end when the reader of its stdout lags: QEMU's
// chardev waits for the reader, so nothing the guest printed is lost. Node
// makes a pipe or socket stdout non-blocking, and one-byte debugcon writes
// fill a socket after a few hundred bytes: those writes fail with EAGAIN,
// which once dropped all further output (seen as a lost "No bootable
// device." in bench/pc-post.js on a loaded host).
import { describeKvm } from '../helpers/kvm';
import { startQemuExe } from '../helpers/qemu-exe';

const PC = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none', '-global', 'kvm-apic.vapic=false', '-display', 'none', '-no-reboot'];

describeKvm('node-kvm-qemu stdio back end', () => {
  jest.setTimeout(120_000);

  test('a stdout reader that stops reading for 2 s during the POST loses none of the debugcon output', async () => {
    const exe = startQemuExe([...PC, '-serial', 'none', '-monitor', 'none', '-chardev', 'stdio,id=d', '-device', 'isa-debugcon,iobase=0x402,chardev=d']);
    try {
      await exe.waitFor('SeaBIOS (version');
      // Block this process (and so every read of the child's stdout) while
      // SeaBIOS prints its PCI and table lines, over 1,000 one-byte writes.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      await exe.waitFor('No bootable device.', 90_000);
      const out = exe.stdout();
      expect(exe.stderr()).not.toContain('failed');
      // every line of the stretch the reader missed, in order
      const lines = ['Running on QEMU (i440fx)', 'Found QEMU fw_cfg', '=== PCI device probing ===', 'Found 4 PCI devices (max PCI bus is 00)',
        'PCI: init bdf=00:01.3 id=8086:7113', 'Copying SMBIOS from', 'Scan for VGA option rom'];
      const at = lines.map((l) => out.indexOf(l));
      expect(at.every((i) => i >= 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
    } finally {
      exe.child.kill('SIGKILL');
    }
  });
});
