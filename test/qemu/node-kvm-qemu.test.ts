// The node-kvm-qemu executable with QEMU's command lines: the monitor's
// answers after SeaBIOS's POST, QEMU's exit statuses, its -nographic
// multiplexer, -trace, and QEMU-style errors with status 1.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { memoryFlatViewOf, memoryTreeDOf, PC_FIXTURES } from '../helpers/pc';
import { runQemuExe, startQemuExe } from '../helpers/qemu-exe';
import { removeDir, tempImage } from '../pc/ide-rig';

/** QEMU's reference command line (test/fixtures/qemu-pc/m128/post/cmdline.txt) without its chardevs and QMP. */
const PC = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none', '-global', 'kvm-apic.vapic=false', '-display', 'none', '-no-reboot'];
const fixture = (rel: string) => fs.readFileSync(path.join(PC_FIXTURES, rel), 'utf8');

describeKvm('node-kvm-qemu', () => {
  jest.setTimeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-qemu-test-'));
  afterAll(() => removeDir(dir));

  test('QEMU\'s command line with -monitor stdio: after "No bootable device." the monitor answers as QEMU\'s', async () => {
    const debugcon = path.join(dir, 'debugcon.log');
    const trace = path.join(dir, 'slots.trace');
    const exe = startQemuExe([...PC, '-serial', 'none', '-chardev', `file,id=d,path=${debugcon}`, '-device', 'isa-debugcon,iobase=0x402,chardev=d',
      '-monitor', 'stdio', '-trace', `enable=kvm_set_user_memory,file=${trace}`]);
    try {
      await exe.waitFor("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ");
      for (let i = 0; i < 600 && !(fs.existsSync(debugcon) && fs.readFileSync(debugcon, 'latin1').includes('No bootable device.')); i++) await new Promise((r) => setTimeout(r, 100));
      const slots = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.startsWith('kvm_set_user_memory '));
      exe.child.stdin.write('info mtree -D\ninfo mtree -f\ninfo ramblock\n');
      await exe.waitFor('Block Name');
      exe.child.stdin.write('quit\n');
      expect(await exe.exited).toBe(0);
      // each answer follows its prompt and the echoed command
      const answers = new Map(exe.stdout().replace(/\r\n/g, '\n').split('(qemu) ').slice(1).map((a) => [a.slice(0, a.indexOf('\n')), a.slice(a.indexOf('\n') + 1)]));
      expect(memoryTreeDOf(answers.get('info mtree -D')!).split('\n')).toEqual(fixture('m128/post/memory-tree-D.txt').split('\n'));
      expect(memoryFlatViewOf(answers.get('info mtree -f')!).split('\n')).toEqual(fixture('m128/post/memory-flatview.txt').split('\n'));
      expect(answers.get('info ramblock')).toContain('                  pc.ram    4 KiB  0x0000000000000000 0x0000000008000000 0x0000000008000000\n');
      expect(slots.length).toBeGreaterThan(0);
      expect(slots.length).toBeLessThanOrEqual(30); // QEMU: 30 until "No bootable device."
      expect(exe.stderr()).toBe("node-kvm-qemu: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n");
    } finally {
      exe.child.kill('SIGKILL');
    }
  });

  test('a boot sector on -drive if=ide exits through isa-debug-exit: the status is (value << 1) | 1', async () => {
    const code = assemble('bios-boot.S', ['--32']);
    const img = tempImage(8 << 20, (s) => (s < 3 ? code.subarray(s * 512, s * 512 + 512) : null));
    try {
      const r = await runQemuExe([...PC, '-nographic', '-serial', 'stdio', '-drive', `file=${img.file},format=raw,if=ide,snapshot=on`, '-device', 'isa-debug-exit,iobase=0x501,iosize=2']);
      expect(r.status).toBe(0x21);
      expect(r.stdout).toContain('node-kvm boot sector: running at 0x7c00\r\n');
    } finally {
      removeDir(img.dir);
    }
  });

  test('-nographic -serial mon:stdio: COM1 and the monitor share stdio; Ctrl-A c reaches the monitor, Ctrl-A x quits with status 0', async () => {
    // (-nodefaults drops the serial port -nographic would put on mon:stdio: given explicitly here)
    const exe = startQemuExe([...PC, '-nographic', '-serial', 'mon:stdio']);
    try {
      await exe.waitFor('No bootable device.');
      exe.child.stdin.write('\x01c');
      exe.child.stdin.write('info status\n');
      await exe.waitFor('VM status: running');
      exe.child.stdin.write('\x01x');
      expect(await exe.exited).toBe(0);
      expect(exe.stdout()).toContain('QEMU: Terminated\n\r');
    } finally {
      exe.child.kill('SIGKILL');
    }
  });

  test('-no-reboot: SeaBIOS\'s reset after -boot reboot-timeout=0 ends the process with status 0; SIGTERM too, saying so', async () => {
    const r = await runQemuExe([...PC, '-serial', 'none', '-boot', 'reboot-timeout=0']);
    expect(r.status).toBe(0);
    const exe = startQemuExe([...PC, '-nographic', '-serial', 'stdio']);
    await exe.waitFor('SeaBIOS');
    exe.child.kill('SIGTERM');
    expect(await exe.exited).toBe(0);
    expect(exe.stderr()).toContain('node-kvm-qemu: terminating on signal 15\n');
  });

  test('-S -monitor none: the CPU never starts and the process waits, as QEMU does, until a signal ends it', async () => {
    const exe = startQemuExe([...PC, '-serial', 'none', '-S', '-monitor', 'none']);
    let ended = false;
    void exe.exited.then(() => { ended = true; });
    await new Promise((r) => setTimeout(r, 2000));
    expect(ended).toBe(false);
    exe.child.kill('SIGTERM');
    expect(await exe.exited).toBe(0);
    expect(exe.stderr()).toContain('node-kvm-qemu: terminating on signal 15\n');
  });

  test.each([
    ['a missing BIOS', ['-bios', '/nonexistent/bios.bin'], /^qemu: could not load PC BIOS '\/nonexistent\/bios.bin'\nnode-kvm-qemu: No such file or directory; /m],
    ['a missing disk', ['-drive', 'file=/nonexistent/disk.img,format=raw,if=ide'], /node-kvm-qemu: -drive file=\/nonexistent\/disk.img,format=raw,if=ide: Could not open '\/nonexistent\/disk.img': No such file or directory\n$/],
    ['an unknown machine', ['-M', 'q99'], /^node-kvm-qemu: unsupported machine type/],
    ['-m beyond the host', ['-m', '200G'], /^node-kvm-qemu: cannot set up guest memory 'pc.ram': Cannot allocate memory\n/],
    ['an unknown option', ['-frobnicate'], /^node-kvm-qemu: -frobnicate: invalid option\n$/],
    ['a malformed -drive', ['-drive', 'file=x,if=scsi2'], /^node-kvm-qemu: -drive file=x,if=scsi2: /],
    ['an unknown CPU model', ['-cpu', 'pentium9'], /^node-kvm-qemu: unable to find CPU model 'pentium9'/],
  ])('%s: a QEMU-style message and status 1, nothing left running', async (_name, args, message) => {
    const r = await runQemuExe(['-accel', 'kvm', '-display', 'none', '-nodefaults', ...args], 30_000);
    expect(r.status).toBe(1);
    expect(r.stderr.replace("node-kvm-qemu: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n", '')).toMatch(message);
  });
});
