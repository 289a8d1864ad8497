// node-kvm-qemu -M microvm: the kernel booted without firmware, as
// `qemu-system-x86_64 -M microvm -kernel` boots it (there through qboot):
// the multiboot test kernel's report on COM1 (stdio) and its isa-debug-exit
// status; microvm's properties checked as QEMU checks them; what the board
// lacks refused with status 1.
import * as path from 'path';
import { describeKvm } from '../helpers/kvm';
import { multibootFiles } from '../helpers/multiboot';
import { runQemuExe, startQemuExe } from '../helpers/qemu-exe';
import { runQemuMain } from '../helpers/qemu-main';

const BASE = ['-M', 'microvm', '-m', '128', '-nodefaults', '-display', 'none', '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4', '-no-reboot'];

describeKvm('node-kvm-qemu -M microvm', () => {
  jest.setTimeout(90_000);

  test('-kernel (multiboot) -append -initrd: the kernel\'s report on stdout, exit status 33 from isa-debug-exit', async () => {
    const files = multibootFiles('elf');
    try {
      const k = (n: string) => path.join(files.dir, n);
      const { status, stdout, stderr } = await runQemuExe([...BASE, '-kernel', k(files.kernel), '-append', 'hello world', '-initrd', `${k('m1')} arg1,${k('m2')}`]);
      expect({ status, stderr: stderr.replace(/^.*warning: host doesn't support requested feature.*\n/gm, '') }).toEqual({ status: 33, stderr: '' });
      const lines = stdout.split('\n');
      expect(lines.slice(0, 2)).toEqual(['eax=2badb002', 'ebx=00009500']);
      expect(lines).toContain(`cmdline="${k(files.kernel)} hello world"`);
      expect(lines.filter((l) => l.startsWith('module '))).toHaveLength(2);
      expect(lines).toContain('done');
    } finally {
      files.remove();
    }
  });

  test('stdout closed by its reader (`| head`): the output is dropped, as QEMU drops it, and the guest runs to its exit', async () => {
    const files = multibootFiles('elf');
    try {
      const exe = startQemuExe([...BASE, '-kernel', path.join(files.dir, files.kernel)]);
      exe.child.stdout.destroy(); // the reader goes away before the kernel prints: every write gets EPIPE
      const timer = setTimeout(() => exe.child.kill('SIGKILL'), 60_000);
      const status = await exe.exited;
      clearTimeout(timer);
      expect({ status, stderr: exe.stderr().replace(/^.*warning: host doesn't support requested feature.*\n/gm, '') }).toEqual({ status: 33, stderr: '' });
    } finally {
      files.remove();
    }
  });
});

describe('node-kvm-qemu -M microvm: the command line', () => {
  test('microvm\'s properties: one it lacks is QEMU\'s error', async () => {
    const r = await runQemuMain(['-M', 'microvm,hpet=off', '-kernel', 'k']);
    expect({ status: r.status, err: r.err }).toEqual({ status: 1, err: "qemu-system-x86_64: Property 'microvm-machine.hpet' not found\n" });
    const ok = await runQemuMain(['-M', 'microvm,x-option-roms=off,isa-serial=on', '-kernel', 'k']);
    expect(ok.launched[0]?.machine.type).toBe('microvm');
  });

  test('-machine help lists microvm', async () => {
    const r = await runQemuMain(['-machine', 'help']);
    expect(r.out).toMatch(/^microvm {14}microvm \(i386\)$/m);
  });
});

describeKvm('node-kvm-qemu -M microvm: what the board lacks', () => {
  jest.setTimeout(60_000);
  test.each([
    [['-hda', '/dev/null'], /an IDE drive on the microvm machine .* is not supported by node-kvm/],
    [['-device', 'pc-testdev'], /pc-testdev and pci-testdev on the microvm machine is not supported/],
    [[], /the microvm machine has no firmware: give it a kernel/],
  ])('%j: status 1 with a message', async (extra, message) => {
    const kernel = extra.length === 0 ? [] : ['-kernel', '/nonexistent'];
    const { status, stderr } = await runQemuExe([...BASE, ...kernel, ...extra]);
    expect(status).toBe(1);
    expect(stderr).toMatch(message);
  });
});
