// lib/x86/boot-linux.ts: x86_load_linux's rules for each boot protocol
// version (where the parts go, the header fields a loader fills in, the
// initrd under initrd_max, vga=), its messages, and the firmware-less
// boot_params and entry of linuxDirectBoot().
import { linuxDirectBoot, linuxInitrdMax, loadLinux, SetupHeader, XLF_CAN_BE_LOADED_ABOVE_4G, XLF_KERNEL_64 } from '../../lib/x86/boot-linux';
import { KernelImageError } from '../../lib/x86/kernel-image-error';
import { linuxBzImage } from '../helpers/linux';

const LIMIT = 0x8000000n - 0x20000n; // 128 MiB below 4 GiB less QEMU's acpi_data_size

/** A bzImage-shaped image: `sects` setup sectors, the header of `version`, `loadflags`, `xloadflags`, 4 KiB of kernel. */
function image(version: number, opts: { loadflags?: number; xloadflags?: number; initrdMax?: number; cmdlineSize?: number; sects?: number } = {}): Uint8Array {
  const sects = opts.sects ?? 4;
  const img = new Uint8Array((sects + 1) * 512 + 4096);
  const dv = new DataView(img.buffer);
  img[SetupHeader.setup_sects] = sects;
  dv.setUint16(SetupHeader.boot_flag, 0xaa55, true);
  img.set([0xeb, 0x66], 0x200); // the jump: the header ends at 0x268
  dv.setUint32(SetupHeader.header, 0x53726448, true);
  dv.setUint16(SetupHeader.version, version, true);
  img[SetupHeader.loadflags] = opts.loadflags ?? 1;
  dv.setUint32(SetupHeader.code32_start, 0x100000, true);
  dv.setUint32(SetupHeader.initrd_addr_max, opts.initrdMax ?? 0x7fffffff, true);
  dv.setUint16(SetupHeader.xloadflags, opts.xloadflags ?? 0, true);
  dv.setUint32(SetupHeader.cmdline_size, opts.cmdlineSize ?? 2047, true);
  img.fill(0xcc, (sects + 1) * 512);
  return img;
}
const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint16(at, true);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

describe('loadLinux (x86_load_linux)', () => {
  test('2.02+ with LOADED_HIGH: setup at 0x10000, cmdline at 0x20000, kernel at 1 MiB; QEMU\'s loader id, CAN_USE_HEAP, heap_end_ptr, cmd_line_ptr', () => {
    const b = loadLinux({ image: image(0x20f), cmdline: 'console=ttyS0', initrd: null, initrdLimit: LIMIT });
    expect([b.setupAddress, b.cmdlineAddress, b.kernelAddress, b.setup.length, b.kernel.length]).toEqual([0x10000, 0x20000, 0x100000, 2560, 4096]);
    expect(b.setup[SetupHeader.type_of_loader]).toBe(0xb0);
    expect(b.setup[SetupHeader.loadflags]).toBe(0x81);
    expect(u16(b.setup, SetupHeader.heap_end_ptr)).toBe(0xfe00);
    expect(u32(b.setup, SetupHeader.cmd_line_ptr)).toBe(0x20000);
    expect(Buffer.from(b.cmdline).toString()).toBe('console=ttyS0\0');
  });

  test('2.01: high but ancient (setup 0x90000, the old cmdline protocol at 0x20); without LOADED_HIGH: a low kernel at 0x10000', () => {
    const old = loadLinux({ image: image(0x201), cmdline: 'abc', initrd: null, initrdLimit: LIMIT });
    expect([old.setupAddress, old.cmdlineAddress, old.kernelAddress]).toEqual([0x90000, 0x9a000 - 16, 0x100000]);
    expect([u16(old.setup, 0x20), u16(old.setup, 0x22)]).toEqual([0xa33f, 0x9a000 - 16 - 0x90000]);
    expect(u16(old.setup, SetupHeader.heap_end_ptr)).toBe(0x9a000 - 16 - 0x90000 - 0x200);
    const low = loadLinux({ image: image(0x20f, { loadflags: 0 }), cmdline: '', initrd: null, initrdLimit: LIMIT });
    expect([low.setupAddress, low.kernelAddress]).toEqual([0x90000, 0x10000]);
  });

  test('initrd_max: the header\'s (2.03+), 4 GiB - 1 with XLF_CAN_BE_LOADED_ABOVE_4G (2.12+), 0x37ffffff before 2.03; kept below the RAM limit', () => {
    expect(linuxInitrdMax(image(0x20f, { initrdMax: 0x1000000 }), LIMIT)).toBe(0x1000000n);
    expect(linuxInitrdMax(image(0x20f, { xloadflags: XLF_CAN_BE_LOADED_ABOVE_4G }), 1n << 33n)).toBe(0xffffffffn);
    expect(linuxInitrdMax(image(0x202), 1n << 33n)).toBe(0x37ffffffn);
    expect(linuxInitrdMax(image(0x20f), LIMIT)).toBe(LIMIT - 1n);
    const b = loadLinux({ image: image(0x20f, { initrdMax: 0x1000000 }), cmdline: '', initrd: new Uint8Array(5000), initrdLimit: LIMIT });
    expect(b.initrd!.address).toBe(0xffe000);
    expect([u32(b.setup, SetupHeader.ramdisk_image), u32(b.setup, SetupHeader.ramdisk_size)]).toEqual([0xffe000, 5000]);
  });

  test('vga=: normal, ext, ask, numbers in C\'s bases; anything else is QEMU\'s error', () => {
    const mode = (c: string) => u16(loadLinux({ image: image(0x20f), cmdline: c, initrd: null, initrdLimit: LIMIT }).setup, SetupHeader.vid_mode);
    expect([mode('vga=normal'), mode('x vga=ext'), mode('vga=ask y'), mode('vga=0x317'), mode('vga=791'), mode('vga=010')]).toEqual([0xffff, 0xfffe, 0xfffd, 0x317, 791, 8]);
    expect(() => mode('vga=12x')).toThrow(new KernelImageError('invalid \'vga=\' kernel parameter.'));
  });

  test('QEMU\'s messages: a setup longer than the file, an initrd too large; an -append longer than cmdline_size', () => {
    expect(() => loadLinux({ image: image(0x20f).subarray(0, 1000), cmdline: '', initrd: null, initrdLimit: LIMIT })).toThrow(expect.objectContaining({ qemuText: 'qemu: invalid kernel header' }));
    expect(() => loadLinux({ image: image(0x20f, { initrdMax: 0x1000 }), cmdline: '', initrd: new Uint8Array(0x1000), initrdLimit: LIMIT }))
      .toThrow(expect.objectContaining({ qemuText: 'qemu: initrd is too large, cannot support.(max: 4096, need 4096)' }));
    expect(() => loadLinux({ image: image(0x20f, { cmdlineSize: 10 }), cmdline: 'x'.repeat(11), initrd: null, initrdLimit: LIMIT })).toThrow(/11 bytes, longer than the 10/);
    expect(() => loadLinux({ image: image(0x205), cmdline: 'x'.repeat(256), initrd: null, initrdLimit: LIMIT })).toThrow(/longer than the 255 this kernel's boot protocol 2\.05/);
  });
});

describe('linuxDirectBoot', () => {
  const E820 = [{ address: 0n, length: 0x9fc00n, type: 1 }, { address: 0x100000n, length: 0x7f00000n, type: 1 }];

  test('boot_params: the header as filled in, the E820 table; 32-bit entry at code32_start without XLF_KERNEL_64', () => {
    const d = linuxDirectBoot({ image: linuxBzImage(), cmdline: 'console=ttyS0', initrd: new Uint8Array(100), e820: E820 });
    expect(d.entry).toEqual({ mode: 'protected', rip: 0x100000n, rsi: 0x7000n });
    const zp = d.writes.find((w) => w.address === 0x7000n)!.bytes;
    expect(zp.length).toBe(4096);
    expect([zp[0x1e8], u32(zp, 0x2d0 + 20), u32(zp, 0x2d0 + 28), u32(zp, 0x2d0 + 36)]).toEqual([2, 0x100000, 0x7f00000, 1]);
    expect([u32(zp, SetupHeader.header), u32(zp, SetupHeader.cmd_line_ptr), zp[SetupHeader.type_of_loader]]).toEqual([0x53726448, 0x20000, 0xb0]);
    expect(u32(zp, SetupHeader.ramdisk_image)).toBe(Number((0x8000000n - 1n - 100n) & ~0xfffn));
  });

  test('XLF_KERNEL_64: long mode at the kernel + 0x200; before 2.06: refused', () => {
    const d = linuxDirectBoot({ image: image(0x20f, { xloadflags: XLF_KERNEL_64 }), cmdline: '', initrd: null, e820: E820 });
    expect(d.entry).toEqual({ mode: 'long', rip: 0x100200n, rsi: 0x7000n });
    expect(() => linuxDirectBoot({ image: image(0x205), cmdline: '', initrd: null, e820: E820 })).toThrow(/needs 2\.06 or later/);
  });
});
