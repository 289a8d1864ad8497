// Linux -kernel on the pc machine: SeaBIOS POSTs, runs the option ROM
// genroms/linuxboot_dma.bin from fw_cfg, which loads the setup, the kernel,
// the command line and the initrd and enters the real-mode setup code; the
// bzImage-format test kernel (test/guests/linux-bzimage.S) then sees what it
// sees under QEMU 7.2: the entry registers, the setup header as the loader
// filled it in, the command line, the initrd's bytes, the E820 map
// (test/fixtures/kernel-boot/linux-*.txt: qemu-system-x86_64 -accel kvm
// -kernel on this host).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bootPcKernel, kernelBootFixture } from '../helpers/kernel-boot';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { comparableLinux, linuxBzImage } from '../helpers/linux';
import { module2 } from '../helpers/multiboot';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-linux-boot-'));
  fs.writeFileSync(path.join(dir, 'bzImage'), linuxBzImage());
  fs.writeFileSync(path.join(dir, 'initrd'), module2()); // the captures' initrd: 5000 bytes, (i * 7 + 3) & 0xff
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeKvm('a bzImage through SeaBIOS and the linuxboot option ROM', () => {
  jest.setTimeout(120_000);

  test('-append, -initrd: entry registers, setup header, cmdline, initrd bytes and E820 are QEMU\'s line for line', async () => {
    const { result, text } = await bootPcKernel({ kernel: path.join(dir, 'bzImage'), append: 'console=ttyS0 hello linux', initrd: path.join(dir, 'initrd') });
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(comparableLinux(text).split('\n')).toEqual(comparableLinux(kernelBootFixture('linux-m128.txt')).split('\n'));
    // spelled out: real_addr 0x10000 (DS = 0x1000, CS = 0x1020, SP = 0xfff0), QEMU's loader id and CAN_USE_HEAP,
    // heap_end_ptr, cmd_line_ptr 0x20000, the initrd's sum
    expect(text).toMatch(/^entry\[00000000:00001020\nentry\[00000004:00000000\n(?:.*\n){4}entry\[00000018:0000fff0\nentry\[0000001c:00001020\nentry\[00000020:00001000$/m);
    expect(text).toMatch(/^hdr\[00000210:000081b0\n(?:.*\n){4}hdr\[00000224:0000fe00\nhdr\[00000228:00020000$/m);
    expect(text).toMatch(/^initrd [0-9a-f]{8} 00001388 0009b71c$/m);
  });

  test('-m 5G, no -append or -initrd: ramdisk 0, an empty cmdline, RAM above 4 GiB in E820; nothing leaks', async () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const { result, text } = await bootPcKernel({ kernel: path.join(dir, 'bzImage'), memory: '5G' });
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(comparableLinux(text).split('\n')).toEqual(comparableLinux(kernelBootFixture('linux-m5G-no-args.txt')).split('\n'));
    expect(openFdCount()).toBeLessThanOrEqual(fds); // (fds of earlier tests may close meanwhile; none may stay open)
    expect(mappingCount()).toBeLessThanOrEqual(maps); // (earlier closed machines' RAM goes when GC takes their views; none may stay)
  });
});
