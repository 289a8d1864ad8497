// -kernel, -append and -initrd on the microvm machine: the files read and
// recognised as on pc (lib/machines/pc/kernel-boot.ts: a multiboot header,
// else a PVH ELF note), checked against the RAM, and turned into a direct
// boot once the board knows its memory map and RSDP: multiboot with the
// pc's loader (pc/multiboot.ts) and microvm/multiboot-direct.ts, PVH with
// lib/x86/boot-pvh.ts. A Linux bzImage and anything else are refused with
// the pc machine's message for it.
import { hex } from '../../util/hex';
import { parsePvhImage, pvhBoot } from '../../x86/boot-pvh';
import { KernelImageError } from '../../x86/kernel-image-error';
import { findMultibootHeader, loadMultiboot, type MultibootModule } from '../pc/multiboot';
import { type PcKernelOptions, prepareKernelBoot, readInitrd, readKernelFile, singleInitrd, splitInitrdArg } from '../pc/kernel-boot';
import type { E820Entry } from '../pc/e820';
import type { DirectBootEntry } from './direct-boot';
import { multibootDirectBoot } from './multiboot-direct';
import { BASE_MEMORY_END } from './e820';

/** What the board needs of a prepared kernel. */
export interface DirectKernel {
  /** The protocol it boots by. */
  readonly protocol: 'multiboot' | 'pvh';
  /** The kernel's entry point (the machine's load address). */
  readonly entry: bigint;
  /** The writes and entry registers for this memory map and RSDP. */
  boot(e820: readonly E820Entry[], rsdp: bigint): DirectBootEntry;
}

function checkString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.includes('\0')) throw new TypeError(`${what} must be a string without NUL characters`);
  return v;
}

/** The -initrd strings as a list (QEMU's comma splitting for a string). */
function initrdList(initrd: unknown): string[] {
  if (initrd === undefined) return [];
  if (typeof initrd === 'string') return splitInitrdArg(checkString(initrd, 'initrd'));
  if (Array.isArray(initrd)) return initrd.map((m, i) => checkString(m, `initrd[${i}]`));
  throw new TypeError('initrd must be a string (QEMU\'s -initrd "a,b args") or an array of "file [arguments]" strings');
}

/** A multiboot kernel: the pc machine's loader, its modules read as QEMU reads them. */
function multibootKernel(image: Uint8Array, file: string, cmdline: string, initrd: unknown, ramSize: bigint, belowFourG: bigint): DirectKernel {
  const modules: MultibootModule[] = initrdList(initrd).map((arg) => {
    const name = arg.split(' ')[0];
    return { cmdline: arg, data: readKernelFile(name, ramSize, () => `Failed to open file '${name}'`) };
  });
  const load = loadMultiboot({ image, kernelName: file, cmdline, modules, belowFourGMemSize: belowFourG })!;
  const end = BigInt(load.loadAddress + load.buffer.length);
  if (BigInt(load.loadAddress) < 0x100000n || end > belowFourG) {
    throw new KernelImageError(`the kernel and its modules (${hex(load.loadAddress)}-${hex(end)}) must lie in the RAM from 1 MiB to ${belowFourG / 1048576n} MiB: give the machine more memory or smaller modules`);
  }
  return { protocol: 'multiboot', entry: BigInt(load.entry), boot: (e820) => multibootDirectBoot(load, e820, BASE_MEMORY_END) };
}

/** A PVH kernel: one initrd module (the whole -initrd string names it, as in QEMU), placed by pvhBoot(). */
function pvhKernel(image: Uint8Array, cmdline: string, initrd: PcKernelOptions['initrd'], ramSize: bigint, belowFourG: bigint): DirectKernel {
  const elf = parsePvhImage(image)!;
  if (elf.low < 0x100000n || elf.high > belowFourG) {
    throw new KernelImageError(`the kernel's segments (${hex(elf.low)}-${hex(elf.high)}) must lie in the RAM from 1 MiB to ${belowFourG / 1048576n} MiB: give the machine more memory`);
  }
  if (typeof initrd === 'string') checkString(initrd, 'initrd');
  const initrdFile = singleInitrd(initrd);
  const modules = initrdFile === null ? [] : [readInitrd(initrdFile, ramSize, belowFourG)];
  return {
    protocol: 'pvh',
    entry: BigInt(elf.entry),
    boot: (e820, rsdp) => {
      // (pvhBoot() places the module below the memory map's top and refuses one that would overlap the kernel)
      const b = pvhBoot({ image, cmdline, modules, e820, rsdp });
      return { writes: b.writes, registers: { eip: b.registers.eip, ebx: b.registers.ebx } };
    },
  };
}

/**
 * Reads and checks the kernel and its modules for a machine of `ramSize`
 * bytes, `belowFourG` below 4 GiB; opens nothing that stays open.
 */
export function prepareDirectKernel(options: PcKernelOptions, ramSize: bigint, belowFourG: bigint): DirectKernel {
  const file = checkString(options.kernel, 'kernel');
  if (file === '') throw new TypeError('kernel must name a kernel image file');
  const cmdline = options.append === undefined ? '' : checkString(options.append, 'append');
  const image = readKernelFile(file, ramSize, (why) => `could not open kernel file '${file}': ${why}`, true);
  if (image.length === 0) throw new KernelImageError(`could not load kernel '${file}': the file is empty`);
  const linux = image.length >= 0x206 && Buffer.from(image.subarray(0x202, 0x206)).toString('latin1') === 'HdrS';
  if (!linux && findMultibootHeader(image) !== null) return multibootKernel(image, file, cmdline, options.initrd, ramSize, belowFourG);
  if (!linux && parsePvhImage(image) !== null) return pvhKernel(image, cmdline, options.initrd, ramSize, belowFourG);
  if (linux) throw new KernelImageError(`${file} is a Linux kernel (bzImage): the microvm machine boots multiboot and PVH kernels (a vmlinux with its PVH note boots)`);
  // Neither: the pc machine's recognition refuses it with QEMU's message for what it is.
  prepareKernelBoot(options, ramSize, belowFourG);
  throw new KernelImageError(`${file} is neither a multiboot nor a PVH kernel`);
}
