// -kernel on the pc machine: SeaBIOS POSTs, runs the option ROM
// genroms/multiboot.bin from fw_cfg, and the multiboot kernel it enters sees
// what it sees under QEMU 7.2: the entry state and every MBI field, the
// modules' bytes and strings, the E820 map (test/fixtures/kernel-boot: the
// same kernels under qemu-system-x86_64 -kernel on this host).
import { bootPcKernel, kernelBootFixture } from '../helpers/kernel-boot';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { inDir, multibootFiles } from '../helpers/multiboot';

/**
 * The kernel's report, made comparable with QEMU's:
 * - EFLAGS keeps only IF, DF, TF and VM (its arithmetic flags are what the
 *   ROM's last instruction left);
 * - SeaBIOS reserves the top of RAM below 4 GiB for its tables and gives
 *   back what it did not use: under QEMU 128 KiB stay reserved (QEMU's ACPI
 *   tables, padded to 128 KiB), on node-kvm's pc what SeaBIOS's own tables
 *   take. So the RAM entry at 1 MiB, the reserved one after it and
 *   mem_upper (the RAM at 1 MiB in KiB) depend on the board's ACPI tables,
 *   not on the loader or the ROM: they are checked to agree with each other
 *   and to end where QEMU's end, and compared as that.
 */
function comparable(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^eflags=([0-9a-f]{8})$/, (_, v: string) => `eflags&0x20700=${(parseInt(v, 16) & 0x20700).toString(16).padStart(8, '0')}`));
  const mmap = lines.map((l, i) => ({ i, w: l.startsWith('mmap ') ? l.slice(5).trim().split(' ').map((x) => parseInt(x, 16)) : null }));
  const ram = mmap.find((m) => m.w !== null && m.w[1] === 0x100000 && m.w[2] === 0 && m.w[5] === 1);
  if (ram === undefined) throw new Error(`no RAM entry at 1 MiB in:\n${text}`);
  const reserved = mmap[ram.i + 1];
  const memUpper = lines.findIndex((l) => l.startsWith('mbi[00000002:'));
  expect(parseInt(lines[memUpper].split(':')[1], 16)).toBe(ram.w![3] / 1024);
  expect(reserved.w![1]).toBe(0x100000 + ram.w![3]);
  lines[memUpper] = 'mbi[00000002:(mem_upper = the RAM at 1 MiB)';
  lines[ram.i] = 'mmap (RAM from 1 MiB to the BIOS tables)';
  lines[reserved.i] = `mmap (the BIOS tables, reserved up to ${(reserved.w![1] + reserved.w![3]).toString(16)}, type ${reserved.w![5]})`;
  return lines.join('\n');
}

describeKvm('multiboot kernels through SeaBIOS and the multiboot option ROM', () => {
  jest.setTimeout(120_000);

  test.each([['aout'], ['elf']] as const)('%s image, -append, two -initrd modules: the serial output is QEMU\'s line for line', async (kind) => {
    const files = multibootFiles(kind);
    try {
      const { result, text } = await bootPcKernel({ kernel: files.kernel, append: 'hello world', initrd: 'm1 arg1 arg2,m2' }, (make) => inDir(files.dir, make));
      expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(comparable(text).split('\n')).toEqual(comparable(kernelBootFixture(`${kind}-m128.txt`)).split('\n'));
      expect(text).toMatch(/^eflags=[0-9a-f]{8}$/m); // (masked above: IF = 0, as the spec wants)
    } finally {
      files.remove();
    }
  });

  test('-m 5G, no -append or -initrd: mem_upper, the cmdline "<kernel> " and the E820 map with RAM above 4 GiB are QEMU\'s', async () => {
    const files = multibootFiles('aout');
    try {
      const { result, text } = await bootPcKernel({ kernel: files.kernel, memory: '5G' }, (make) => inDir(files.dir, make));
      expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(comparable(text).split('\n')).toEqual(comparable(kernelBootFixture('aout-m5G-no-args.txt')).split('\n'));
    } finally {
      files.remove();
    }
  });

  test('the initrd as an array of module strings is the same boot; nothing leaks', async () => {
    const files = multibootFiles('elf');
    const fds = openFdCount();
    const maps = mappingCount();
    try {
      const { text } = await bootPcKernel({ kernel: files.kernel, append: 'hello world', initrd: ['m1 arg1 arg2', 'm2'] }, (make) => inDir(files.dir, make));
      expect(comparable(text)).toBe(comparable(kernelBootFixture('elf-m128.txt')));
    } finally {
      files.remove();
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });
});
