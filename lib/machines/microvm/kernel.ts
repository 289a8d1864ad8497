// -kernel, -append and -initrd on the microvm machine: the files read and
// recognised as on pc (lib/machines/pc/kernel-boot.ts: a multiboot header
// first), checked against the RAM, and turned into a direct boot once the
// board knows its memory map and RSDP. Multiboot v1 boots today; PVH and
// Linux images are refused with what is missing.
import { hex } from '../../util/hex';
import { findMultibootHeader, loadMultiboot, type MultibootModule } from '../pc/multiboot';
import { KernelImageError } from '../pc/kernel-image-error';
import { type PcKernelOptions, prepareKernelBoot, readKernelFile, splitInitrdArg } from '../pc/kernel-boot';
import type { E820Entry } from '../pc/e820';
import type { DirectBootEntry } from './direct-boot';
import { multibootDirectBoot } from './multiboot-direct';
import { BASE_MEMORY_END } from './e820';

/** What the board needs of a prepared kernel. */
export interface DirectKernel {
  /** The protocol it boots by. */
  readonly protocol: 'multiboot';
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

/**
 * Reads and checks the kernel and its modules for a machine of `ramSize`
 * bytes, `belowFourG` below 4 GiB; opens nothing that stays open.
 */
export function prepareDirectKernel(options: PcKernelOptions, ramSize: bigint, belowFourG: bigint): DirectKernel {
  const file = checkString(options.kernel, 'kernel');
  if (file === '') throw new TypeError('kernel must name a kernel image file');
  const cmdline = options.append === undefined ? '' : checkString(options.append, 'append');
  const moduleArgs = initrdList(options.initrd);
  const image = readKernelFile(file, ramSize, (why) => `could not open kernel file '${file}': ${why}`);
  if (image.length === 0) throw new KernelImageError(`could not load kernel '${file}': the file is empty`);
  if (findMultibootHeader(image) === null) {
    // The pc machine's recognition refuses it with QEMU's message for what it is.
    prepareKernelBoot(options, ramSize, belowFourG);
    throw new KernelImageError(`${file} is not a multiboot kernel: the microvm machine boots multiboot kernels`);
  }
  const modules: MultibootModule[] = moduleArgs.map((arg) => {
    const name = arg.split(' ')[0];
    return { cmdline: arg, data: readKernelFile(name, ramSize, () => `Failed to open file '${name}'`) };
  });
  const load = loadMultiboot({ image, kernelName: file, cmdline, modules, belowFourGMemSize: belowFourG });
  if (load === null) throw new KernelImageError(`${file} has no multiboot header`);
  const end = BigInt(load.loadAddress + load.buffer.length);
  if (BigInt(load.loadAddress) < 0x100000n || end > belowFourG) {
    throw new KernelImageError(`the kernel and its modules (${hex(load.loadAddress)}-${hex(end)}) must lie in the RAM from 1 MiB to ${belowFourG / 1048576n} MiB: give the machine more memory or smaller modules`);
  }
  return {
    protocol: 'multiboot',
    entry: BigInt(load.entry),
    boot: (e820) => multibootDirectBoot(load, e820, BASE_MEMORY_END),
  };
}
