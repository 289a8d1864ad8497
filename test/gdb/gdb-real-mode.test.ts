// The real gdb against node-kvm-qemu -S -gdb (QEMU's command line) on the pc
// machine: SeaBIOS at the reset vector in real mode, the reset jump, a
// hardware breakpoint on a boot sector's entry, memory reads and writes,
// registers, the monitor through gdb, and the guest's exit status.
import { assemble } from '../helpers/assemble';
import { freePort, runGdb } from '../helpers/gdb';
import { describeKvm } from '../helpers/kvm';
import { startQemuExe } from '../helpers/qemu-exe';
import { removeDir, tempImage } from '../pc/ide-rig';

const PC = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none', '-global', 'kvm-apic.vapic=false', '-display', 'none', '-no-reboot'];

describeKvm('gdb against node-kvm-qemu -S -gdb (real mode, SeaBIOS)', () => {
  jest.setTimeout(120_000);

  test('$rip 0xfff0 and $cs 0xf000 under -S, stepi follows the reset jump, hbreak at 0x7c00, x/, set var, info registers, monitor, continue to the exit', async () => {
    const code = assemble('bios-boot.S', ['--32']);
    const img = tempImage(8 << 20, (s) => (s < 3 ? code.subarray(s * 512, s * 512 + 512) : null));
    const port = await freePort();
    const exe = startQemuExe([...PC, '-nographic', '-serial', 'stdio', '-drive', `file=${img.file},format=raw,if=ide,snapshot=on`,
      '-device', 'isa-debug-exit,iobase=0x501,iosize=2', '-S', '-gdb', `tcp:127.0.0.1:${port}`]);
    try {
      for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
      const r = await runGdb([
        `target remote 127.0.0.1:${port}`, 'p/x $rip', 'p/x $cs', 'stepi', 'p/x $rip', 'p/x $cs', 'stepi', 'p/x $rip',
        'hbreak *0x7c00', 'continue', 'p/x $pc', 'x/4xb 0x7c00', 'set var *(unsigned char*)0x7000 = 0x42', 'x/1xb 0x7000',
        'info registers rip cs ss', 'monitor info status', 'delete', 'continue',
      ]);
      const out = r.output;
      expect(out).toContain('$1 = 0xfff0');
      expect(out).toContain('$2 = 0xf000');
      expect(out).toContain('$3 = 0xe05b'); // SeaBIOS's reset vector: ljmp $0xf000, $0xe05b
      expect(out).toContain('$4 = 0xf000');
      const after = Number(/\$5 = (0x[0-9a-f]+)/.exec(out)![1]);
      expect(after).toBeGreaterThan(0xe05b);
      expect(after).toBeLessThan(0xe070);
      expect(out).toMatch(/Breakpoint 1, 0x0*7c00 in \?\? \(\)/);
      expect(out).toContain('$6 = 0x7c00');
      expect(out).toContain(`0x7c00:\t${[...code.subarray(0, 4)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join('\t')}`);
      expect(out).toContain('0x7000:\t0x42');
      expect(out).toMatch(/rip\s+0x7c00\s+0x7c00\ncs\s+0x0\s+0\nss\s+0x0\s+0/);
      expect(out).toContain('VM status: paused');
      expect(out).toContain('[Inferior 1 (Remote target) exited with code 041]');
      expect(await exe.exited).toBe(0x21);
      expect(exe.stdout()).toContain('node-kvm boot sector: done');
    } finally {
      exe.child.kill('SIGKILL');
      removeDir(img.dir);
    }
  });

  test('-smp 2: info threads lists both vCPUs, each with its own registers (the AP waits for SIPI at the reset vector)', async () => {
    const port = await freePort();
    const exe = startQemuExe([...PC, '-smp', '2', '-serial', 'none', '-S', '-gdb', `tcp:127.0.0.1:${port}`]);
    try {
      for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
      const r = await runGdb([`target remote 127.0.0.1:${port}`, 'info threads', 'thread 2', 'p/x $rip', 'p/x $cs', 'kill']);
      const threads = r.output.split('\n').filter((l) => /^[* ] +\d+ +Thread /.test(l));
      expect(threads).toHaveLength(2);
      expect(r.output).toMatch(/\[Switching to thread 2 /);
      expect(r.output).toContain('$1 = 0xfff0');
      expect(r.output).toContain('$2 = 0xf000');
      expect(await exe.exited).toBe(0);
    } finally {
      exe.child.kill('SIGKILL');
    }
  });

  test('-gdb with a device node-kvm has no stub for is refused with QEMU\'s status 1', async () => {
    const exe = startQemuExe([...PC, '-gdb', 'unix:/tmp/x.sock']);
    expect(await exe.exited).toBe(1);
    expect(exe.stderr()).toBe("node-kvm-qemu: -gdb: gdbstub: node-kvm listens on tcp:[HOST]:PORT only (got 'unix:/tmp/x.sock')\n");
  });
});

function canConnect(port: number): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('net') as typeof import('net');
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
