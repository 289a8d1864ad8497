// PVH -kernel on the pc machine: SeaBIOS POSTs, runs the option ROM
// genroms/pvh.bin from fw_cfg, and the PVH kernel it enters
// (test/guests/pvh-start-info.S, as an ELF32 and as an ELF64) sees what it
// sees under QEMU 7.2: the entry state, every hvm_start_info field, the
// cmdline, the initrd module's address, size and bytes, the memory map and
// the RSDP (test/fixtures/kernel-boot/pvh-*.txt: the same kernels under
// qemu-system-x86_64 -accel kvm -kernel on this host).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bootPcKernel, kernelBootFixture } from '../helpers/kernel-boot';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { module2 } from '../helpers/multiboot';
import { comparablePvh, pvhElf } from '../helpers/pvh';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-pvh-boot-'));
  fs.writeFileSync(path.join(dir, 'pvh32.elf'), pvhElf(32));
  fs.writeFileSync(path.join(dir, 'pvh64.elf'), pvhElf(64));
  fs.writeFileSync(path.join(dir, 'initrd'), module2()); // the captures' initrd: 5000 bytes, (i * 7 + 3) & 0xff
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeKvm('PVH kernels through SeaBIOS and the PVH option ROM', () => {
  jest.setTimeout(120_000);

  test.each([[32], [64]] as const)('ELF%i, -append, -initrd: hvm_start_info, the cmdline, the module and the memory map are QEMU\'s line for line', async (bits) => {
    const { result, text } = await bootPcKernel({ kernel: path.join(dir, `pvh${bits}.elf`), append: 'hello pvh world', initrd: path.join(dir, 'initrd') });
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(comparablePvh(text).split('\n')).toEqual(comparablePvh(kernelBootFixture(`pvh-elf${bits}-m128.txt`)).split('\n'));
    // what the comparison rests on, spelled out: the start_info at QEMU's address, the module's bytes and the RSDP's signature
    expect(text).toMatch(/^ebx=000021e0$/m);
    expect(text).toMatch(/^module 07fd6000 00001388 00000000 0009b71c$/m);
    expect(text).toMatch(/^rsdp 20445352 20525450$/m);
  });

  // QEMU's captures: intel/ (-cpu qemu64,vendor=GenuineIntel, the same as qemu64,phys-bits=39) and the AMD ones
  test.each([
    ['qemu64,vendor=GenuineIntel', 'GenuineIntel', false],
    ['qemu64,vendor=AuthenticAMD', 'AuthenticAMD', true],
    ['qemu64,vendor=AuthenticAMD,phys-bits=39', 'GenuineIntel', false],
  ] as const)('-cpu %s, whatever the host: the HyperTransport range is in the memory map only for an AMD vCPU with 40 address bits, as in QEMU', async (cpu, fixtureVendor, hole) => {
    const { result, text } = await bootPcKernel({ kernel: path.join(dir, 'pvh64.elf'), append: 'hello pvh world', initrd: path.join(dir, 'initrd'), cpu });
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(comparablePvh(text).split('\n')).toEqual(comparablePvh(kernelBootFixture('pvh-elf64-m128.txt', fixtureVendor)).split('\n'));
    expect(text.includes('memmap 00000000 000000fd 00000000 00000003 00000002 00000000')).toBe(hole); // 12 GiB reserved at 0xfd00000000
  });

  test('-m 5G, no -append or -initrd: no module, an empty cmdline, RAM above 4 GiB in the memory map; nothing leaks', async () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const { result, text } = await bootPcKernel({ kernel: path.join(dir, 'pvh64.elf'), memory: '5G' });
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(comparablePvh(text).split('\n')).toEqual(comparablePvh(kernelBootFixture('pvh-elf64-m5G-no-args.txt')).split('\n'));
    expect(openFdCount()).toBeLessThanOrEqual(fds); // (fds of earlier tests may close meanwhile; none may stay open)
    expect(mappingCount()).toBeLessThanOrEqual(maps); // (earlier closed machines' RAM goes when GC takes their views; none may stay)
  });
});
