// -kernel/-append/-initrd/-device that cannot boot: Machine.create() throws
// QEMU's message for the image (KernelImageError) or a TypeError/RangeError
// saying what to give instead, before anything is opened: no fd or mapping
// is left behind.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Machine, type MachineOptions } from '../../lib/machine';
import { KernelImageError } from '../../lib/machines/pc/kernel-image-error';
import { loadMultiboot } from '../../lib/machines/pc/multiboot';
import { mappingCount, openFdCount } from '../helpers/kvm';

const MAGIC = 0x1badb002;
let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-kernel-bad-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** A multiboot header at `at` of `size` bytes of zeros, with `words` after magic, flags and checksum. */
function multibootImage(size: number, flags: number, words: number[] = [], opts: { at?: number; badChecksum?: boolean } = {}): Uint8Array {
  const img = new Uint8Array(size);
  const dv = new DataView(img.buffer);
  const at = opts.at ?? 0;
  dv.setUint32(at, MAGIC, true);
  dv.setUint32(at + 4, flags, true);
  dv.setUint32(at + 8, (-(MAGIC + flags) + (opts.badChecksum ? 1 : 0)) >>> 0, true);
  words.forEach((w, i) => dv.setUint32(at + 12 + 4 * i, w, true));
  return img;
}

/** An ELF header of class `cls` (1 = 32-bit, 2 = 64-bit) and machine `machine`, no program headers, `size` bytes. */
function elfImage(cls: 1 | 2, machine: number, size = 0x2000): Uint8Array {
  const img = new Uint8Array(size);
  img.set([0x7f, 0x45, 0x4c, 0x46, cls, 1, 1]);
  new DataView(img.buffer).setUint16(18, machine, true);
  return img;
}

function expectRefused(options: Omit<MachineOptions, 'machine'>, type: new (...a: never[]) => Error, message: string | RegExp): void {
  const fds = openFdCount();
  const maps = mappingCount();
  let err: unknown;
  try {
    Machine.createSync({ machine: 'pc', serial: false, ...options }).close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).toMatch(message);
  expect(openFdCount()).toBe(fds);
  expect(mappingCount()).toBe(maps);
}

describe('-kernel images that do not boot: QEMU\'s messages', () => {
  test('a missing file, an empty one', () => {
    expectRefused({ kernel: path.join(dir, 'none') }, KernelImageError, `could not open kernel file '${path.join(dir, 'none')}': No such file or directory`);
    expectRefused({ kernel: file('empty', '') }, KernelImageError, /could not load kernel '.*empty': the file is empty/);
  });

  test('a multiboot header with a bad checksum is no multiboot header: a short image is then an invalid Linux kernel header', () => {
    expectRefused({ kernel: file('badsum', multibootImage(256, 0x10000, [], { badChecksum: true })) }, KernelImageError, /^invalid kernel header$/);
    expectRefused({ kernel: file('badsum-big', multibootImage(0x4000, 0x10000, [], { badChecksum: true })) }, KernelImageError, /neither a multiboot nor a Linux setup header/);
    expectRefused({ kernel: file('late', multibootImage(0x4000, 0x10000, [0x100000, 0x100000, 0, 0, 0x100000], { at: 8192 })) }, KernelImageError, /neither a multiboot/);
  });

  test('ELF: x86-64 with a multiboot header, 32-bit without loadable segments, headers alone without a multiboot header (qemu-system-x86_64 here says the same)', () => {
    const mb64 = elfImage(2, 62);
    mb64.set(multibootImage(12, 0).subarray(0, 12), 0x1000);
    expectRefused({ kernel: file('mb64', mb64) }, KernelImageError, /^Cannot load x86-64 image, give a 32bit one\.$/);
    const mb32 = elfImage(1, 3);
    mb32.set(multibootImage(12, 0).subarray(0, 12), 0x1000);
    expectRefused({ kernel: file('mb32', mb32) }, KernelImageError, /^Error while loading elf kernel$/);
    expectRefused({ kernel: file('plain64', elfImage(2, 62)) }, KernelImageError, /^Error while loading elf kernel$/);
  });

  test('an image with the setup header\'s "HdrS" is a Linux kernel even with a multiboot header (QEMU looks for "HdrS" first)', () => {
    const img = multibootImage(0x4000, 0x10000, [0x100000, 0x100000, 0, 0, 0x100000]);
    img.set([0x48, 0x64, 0x72, 0x53], 0x202);
    img.set([0x00, 0x02], 0x206); // protocol 2.00
    // no message: the machine is built; a multiboot module list would be refused for a Linux kernel
    Machine.createSync({ machine: 'pc', serial: false, kernel: file('bzImage', img) }).close();
    expectRefused({ kernel: file('bzImage', img), initrd: ['a', 'b'] }, TypeError, /a PVH or Linux kernel takes one initrd file, not 2/);
  });

  test('a.out-kludge addresses QEMU refuses', () => {
    const cases: [number[], string][] = [
      [[0x0ff000, 0x100000, 0, 0, 0x100000], 'invalid load_addr address'], // header_addr < load_addr
      [[0x110000, 0x100000, 0, 0, 0x100000], 'invalid header_addr address'], // the header would lie before the file
      [[0x100000, 0x100000, 0x0f0000, 0, 0x100000], 'invalid load_end_addr address'],
      [[0x100000, 0x100000, 0, 0x100010, 0x100000], 'invalid bss_end_addr address'],
      [[0x100000, 0xfffff000, 0, 0, 0x100000], 'invalid load_addr address'],
      [[0x100000, 0x100000, 0x200000, 0, 0x100000], 'fread() failed'], // load_end beyond the file
    ];
    for (const [words, message] of cases) {
      expectRefused({ kernel: file('aout', multibootImage(0x1000, 0x10000, words)) }, KernelImageError, new RegExp(`^${message.replace(/[()]/g, '\\$&')}$`));
    }
  });

  test('modules: a missing file; more than the RAM below 4 GiB holds', () => {
    const kernel = file('ok', multibootImage(0x1000, 0x10000, [0x100000, 0x100000, 0, 0, 0x100000]));
    expectRefused({ kernel, initrd: `${path.join(dir, 'nope')} args` }, KernelImageError, `Failed to open file '${path.join(dir, 'nope')}'`);
    const big = file('big', new Uint8Array(15 << 20)); // fits in 16 MiB, not above the kernel at 1 MiB
    expectRefused({ kernel, initrd: [big], memory: '16M' }, KernelImageError, /the kernel and its modules end at 0x[0-9a-f]+, beyond the 16 MiB of RAM below 4 GiB/);
    expectRefused({ kernel, initrd: big, memory: '12M' }, RangeError, /larger than the guest's/);
  });
});

describe('options', () => {
  test('append or initrd without kernel, wrong types, NUL in strings, unknown -device drivers', () => {
    expectRefused({ append: 'x' }, TypeError, /append is only valid with kernel/);
    expectRefused({ initrd: 'x' }, TypeError, /initrd is only valid with kernel/);
    expectRefused({ kernel: 7 as unknown as string }, TypeError, /kernel must be a string/);
    expectRefused({ kernel: 'k', append: 'a\0b' }, TypeError, /append must be a string without NUL/);
    expectRefused({ kernel: 'k', initrd: [1 as unknown as string] }, TypeError, /initrd\[0\] must be a string/);
    expectRefused({ devices: [{ driver: 'e1000' } as never] }, TypeError, /'e1000' is not a valid device model name/);
    expectRefused({ devices: { driver: 'pc-testdev' } as never }, TypeError, /devices must be an array/);
    expectRefused({ devices: [{ driver: 'pc-testdev', iobase: 1 } as never] }, TypeError, /iobase/);
  });
});

describe('the loader itself (load_multiboot)', () => {
  test('an image without a multiboot header is not multiboot (null): x86_load_linux goes on to Linux and PVH', () => {
    expect(loadMultiboot({ image: new Uint8Array(0x3000), kernelName: 'k', cmdline: '', modules: [], belowFourGMemSize: 128n << 20n })).toBeNull();
  });

  test('-initrd splitting: commas separate modules, ",," is a comma in a name; QEMU reserves the whole argument\'s length', () => {
    const image = multibootImage(0x1000, 0x10000, [0x100000, 0x100000, 0, 0, 0x100000]);
    const mb = loadMultiboot({ image, kernelName: 'k', cmdline: 'c', modules: [{ cmdline: 'a,b x', data: new Uint8Array(3) }], belowFourGMemSize: 128n << 20n })!;
    const dv = new DataView(mb.mbi.buffer);
    const at = (addr: number) => addr - mb.loadAddress;
    const str = (addr: number) => new TextDecoder().decode(mb.buffer.subarray(at(addr), mb.buffer.indexOf(0, at(addr))));
    expect(str(dv.getUint32(16, true))).toBe('k c');
    expect(str(dv.getUint32(64, true))).toBe('qemu');
    // cmdlines start after the one module entry; "k"+1, "c"+1, "a,,b x"+1 = 11 bytes, then the loader name
    expect(dv.getUint32(64, true) - (mb.loadAddress + 0x1000 + 16)).toBe(11);
  });
});
