// lib/x86/boot-pvh.ts, the pure PVH layer a firmware-less board uses: the
// PHYS32_ENTRY note found as QEMU finds it, the segments, hvm_start_info's
// bytes field by field, and pvhBoot()'s layout (modules placed as QEMU
// places an initrd); bad images get QEMU's messages.
import { findPvhEntry, hvmStartInfo, parsePvhImage, pvhBoot, XEN_HVM_START_MAGIC_VALUE } from '../../lib/x86/boot-pvh';
import { KernelImageError } from '../../lib/x86/kernel-image-error';
import { pvhElf } from '../helpers/pvh';

const E820 = [
  { address: 0n, length: 0x9fc00n, type: 1 },
  { address: 0x100000n, length: 0x7f00000n, type: 1 },
  { address: 0xfffc0000n, length: 0x40000n, type: 2 },
];

describe('the PVH image', () => {
  test.each([[32], [64]] as const)('ELF%i: the note\'s entry, the segments, elf_low and elf_high', (bits) => {
    const elf = parsePvhImage(pvhElf(bits))!;
    expect(elf.class).toBe(bits);
    expect(elf.entry).toBe(0x200000);
    expect(elf.low).toBe(0x1ff000n); // -z noseparate-code: the headers' page is loaded too
    expect(elf.high).toBe(0x202000n + (bits === 32 ? 0x14n : 0x18n));
    expect(elf.segments.map((s) => s.paddr)).toEqual([0x1ff000n, 0x202000n]);
  });

  test('a 64-bit descriptor is read as QEMU reads it (a 64-bit word, of which fw_cfg keeps 32 bits); not an ELF: null', () => {
    expect(findPvhEntry(pvhElf(64))).toBe(0x200000);
    expect(findPvhEntry(new Uint8Array(100))).toBeNull();
    expect(parsePvhImage(new Uint8Array(0x1000))).toBeNull();
  });

  test('QEMU\'s messages: no note, a truncated ELF, e_flags QEMU refuses', () => {
    const noNote = pvhElf(32);
    const at = Buffer.from(noNote).indexOf(Buffer.from('Xen\0')) - 4; // the note's type word
    noNote[at] = 17;
    expect(() => parsePvhImage(noNote)).toThrow(new KernelImageError('Error loading uncompressed kernel without PVH ELF Note'));
    expect(() => parsePvhImage(pvhElf(64).subarray(0, 100))).toThrow(new KernelImageError('Error while loading elf kernel'));
    const flags = pvhElf(32);
    new DataView(flags.buffer).setUint32(36, 0x10000, true);
    expect(() => parsePvhImage(flags)).toThrow(new KernelImageError('elfboot unsupported flags = 10000'));
  });
});

describe('hvm_start_info', () => {
  test('version 1, every field at its offset; module list and memory map entries', () => {
    const writes = hvmStartInfo({ startInfo: 0x6000n, modlist: 0x6040n, modules: [{ paddr: 0x7000000n, size: 5000n, cmdlinePaddr: 0x8000n }], memmap: 0x7000n, memmapEntries: E820, cmdline: 0x20000n, rsdp: 0xf5a50n });
    expect(writes.map((w) => [w.address, w.bytes.length])).toEqual([[0x6000n, 56], [0x6040n, 32], [0x7000n, 72]]);
    const si = new DataView(writes[0].bytes.buffer);
    expect([si.getUint32(0, true), si.getUint32(4, true), si.getUint32(8, true), si.getUint32(12, true)]).toEqual([XEN_HVM_START_MAGIC_VALUE, 1, 0, 1]);
    expect([16, 24, 32, 40].map((o) => si.getBigUint64(o, true))).toEqual([0x6040n, 0x20000n, 0xf5a50n, 0x7000n]);
    expect([si.getUint32(48, true), si.getUint32(52, true)]).toEqual([3, 0]);
    const mod = new DataView(writes[1].bytes.buffer);
    expect([0, 8, 16, 24].map((o) => mod.getBigUint64(o, true))).toEqual([0x7000000n, 5000n, 0x8000n, 0n]);
    const mm = new DataView(writes[2].bytes.buffer);
    expect([mm.getBigUint64(24, true), mm.getBigUint64(32, true), mm.getUint32(40, true), mm.getUint32(44, true)]).toEqual([0x100000n, 0x7f00000n, 1, 0]);
  });

  test('no modules: nr_modules and modlist_paddr 0, no list written', () => {
    const writes = hvmStartInfo({ startInfo: 0x6000n, modlist: 0x6040n, modules: [], memmap: 0x7000n, memmapEntries: E820, cmdline: 0x20000n, rsdp: 0n });
    const si = new DataView(writes[0].bytes.buffer);
    expect([si.getUint32(12, true), si.getBigUint64(16, true), si.getBigUint64(32, true)]).toEqual([0, 0n, 0n]);
    expect(writes).toHaveLength(2);
  });
});

describe('pvhBoot', () => {
  test('segments, modules downwards from the top of RAM below 4 GiB as QEMU places an initrd, cmdline, start_info; EIP and EBX', () => {
    const a = new Uint8Array(5000).fill(1);
    const b = new Uint8Array(0x2001).fill(2);
    const plan = pvhBoot({ image: pvhElf(64), cmdline: 'console=ttyS0', modules: [a, b], e820: E820, rsdp: 0xf0000 });
    expect(plan.registers).toEqual({ eip: 0x200000n, ebx: 0x6000n });
    expect(plan.modules).toEqual([{ paddr: 0x7ffe000n, size: 5000n }, { paddr: 0x7ffb000n, size: 0x2001n }]);
    const at = (addr: bigint) => plan.writes.find((w) => w.address === addr)!.bytes;
    expect(Buffer.from(at(0x20000n)).toString('latin1')).toBe('console=ttyS0\0');
    expect(at(0x7ffe000n)).toBe(a);
    expect(at(0x1ff000n).length).toBe(0x3000);
    expect(new DataView(at(0x6000n).buffer).getUint32(48, true)).toBe(3);
    expect(new DataView(at(0x6040n).buffer).getBigUint64(32, true)).toBe(0x7ffb000n);
  });

  test('an initrd larger than initrd_max: QEMU\'s message; bad arguments: TypeError/RangeError', () => {
    const image = pvhElf(32);
    let err: KernelImageError | undefined;
    try { pvhBoot({ image, cmdline: '', modules: [new Uint8Array(0x1000)], e820: E820, rsdp: 0, initrdMax: 0x1000 }); } catch (e) { err = e as KernelImageError; }
    expect(err).toBeInstanceOf(KernelImageError);
    expect(err!.qemuText).toBe('qemu: initrd is too large, cannot support.(max: 4096, need 4096)');
    expect(() => pvhBoot({ image, cmdline: 'a\0', modules: [], e820: E820, rsdp: 0 })).toThrow(TypeError);
    expect(() => pvhBoot({ image, cmdline: '', modules: [new Uint8Array(1)], e820: [], rsdp: 0 })).toThrow(/no RAM below 4 GiB/);
    expect(() => pvhBoot({ image, cmdline: '', modules: [], e820: E820, rsdp: -1 })).toThrow(RangeError);
  });
});
