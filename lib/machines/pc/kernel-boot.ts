// -kernel, -append and -initrd on the pc machine (QEMU's x86_load_linux,
// hw/i386/x86.c): reads the files, recognises the image the way QEMU does
// (a Linux setup header first, then a multiboot header, then an ELF for
// PVH) and prepares what the firmware boots it from: fw_cfg items, the
// option ROM and its place at the head of `bootorder`.
//
// Linux bzImages (lib/x86/boot-linux.ts, linux-boot.ts), multiboot v1
// (multiboot.ts) and PVH ELFs (pvh-boot.ts) boot; an image that is none of
// these is refused with QEMU's message where QEMU has one, else with what
// is missing.
import * as fs from 'fs';
import type { FwCfgIo } from '../../devices/fw-cfg';
import { readImageFile } from '../../x86/image-file';
import { KernelImageError } from './kernel-image-error';
import { hex } from '../../util/hex';
import { addMultibootFwCfgItems, findMultibootHeader, loadMultiboot, MULTIBOOT_BOOT_PATH, type MultibootModule } from './multiboot';
import { initrdAddress, parsePvhImage } from '../../x86/boot-pvh';
import { PVH_BOOT_PATH, pcPvhFwCfgItems } from './pvh-boot';
import { linuxInitrdMax, linuxProtocol, loadLinux } from '../../x86/boot-linux';
import { addLinuxFwCfgItems, LINUXBOOT_BOOT_PATH } from './linux-boot';

/** pc_machine_class_init's acpi_data_size: what QEMU keeps free for ACPI below the top of RAM under 4 GiB. */
export const PC_ACPI_DATA_SIZE = 0x20000n + 0x8000n;

/** Machine.create({ machine: 'pc', kernel, append, initrd }) */
export interface PcKernelOptions {
  /** The -kernel file. Its name as given is the first word of a multiboot kernel's cmdline. */
  kernel: string;
  /** -append: the kernel command line (default ''). */
  append?: string;
  /**
   * -initrd: for a multiboot kernel its modules, each "file [arguments]"
   * (the whole string is the module's string). A string is split as QEMU
   * splits -initrd: at commas, ",," standing for a comma in a name.
   */
  initrd?: string | readonly string[];
}

/** What the board adds for the kernel, and the boot path that goes first in `bootorder`. */
export interface PcKernelBoot {
  addFwCfgItems(fwcfg: FwCfgIo): void;
  readonly bootDevicePaths: readonly string[];
}

/** QEMU's -initrd splitting (get_opt_value): at commas, ",," being a comma. */
export function splitInitrdArg(arg: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] !== ',') cur += arg[i];
    else if (arg[i + 1] === ',') { cur += ','; i++; } else { out.push(cur); cur = ''; }
  }
  out.push(cur);
  return out;
}

function checkString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.includes('\0')) throw new TypeError(`${what} must be a string without NUL characters`);
  return v;
}

/** `file`'s bytes; a KernelImageError with what(strerror) when it cannot be opened (`qemu:`-prefixed by fprintf when `fprintf`). */
export function readKernelFile(file: string, ramSize: bigint, what: (why: string) => string, fprintf = false): Uint8Array {
  try {
    return readImageFile(file, ramSize, 'give the machine more memory');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e; // not a regular file, or larger than RAM: readImageFile's own message
    const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (e as Error).message;
    throw new KernelImageError(what(why), fprintf ? `qemu: ${what(why)}` : undefined);
  }
}

/** The one -initrd file of a PVH or Linux kernel: QEMU takes the whole string as its name. */
export function singleInitrd(initrd: string | readonly string[] | undefined): string | null {
  if (initrd === undefined) return null;
  if (typeof initrd === 'string') return initrd;
  if (initrd.length !== 1) throw new TypeError(`initrd: a PVH or Linux kernel takes one initrd file, not ${initrd.length} (several are for multiboot kernels)`);
  return initrd[0];
}

/**
 * The initrd's bytes (g_mapped_file_new in x86_load_linux), with QEMU's
 * message when it cannot be read or is not smaller than `initrdMax` (told
 * from its size before reading it).
 */
export function readInitrd(file: string, ramSize: bigint, initrdMax: bigint): Uint8Array {
  let size = -1;
  try { size = fs.statSync(file).size; } catch { /* the open below says why */ }
  if (size >= 0 && BigInt(size) >= initrdMax) initrdAddress(BigInt(size), initrdMax); // throws QEMU's "initrd is too large"
  return readKernelFile(file, ramSize, (why) => `error reading initrd ${file}: Failed to open file \u201c${file}\u201d: open() failed: ${why}`, true);
}

/**
 * An image with neither a setup header nor a multiboot header nor an ELF
 * magic is, for QEMU, a Linux zImage of boot protocol < 2.00, loaded low
 * and entered in its real-mode setup. Such kernels are long gone (Linux
 * 2.6.24 dropped the last of them): refused, with QEMU's message when QEMU
 * gives one.
 */
function notAKernel(image: Uint8Array, file: string): KernelImageError {
  const setupSects = image.length > 0x1f1 && image[0x1f1] !== 0 ? image[0x1f1] : 4;
  if ((setupSects + 1) * 512 > image.length) return new KernelImageError('invalid kernel header', 'qemu: invalid kernel header');
  return new KernelImageError(`${file} has neither a multiboot nor a Linux setup header: QEMU would boot it as a Linux zImage of boot protocol < 2.00, which is not supported`);
}

/**
 * Reads and checks -kernel/-append/-initrd for a pc machine of `ramSize`
 * bytes, `belowFourG` of them below 4 GiB. Opens nothing that stays open.
 */
export function prepareKernelBoot(options: PcKernelOptions, ramSize: bigint, belowFourG: bigint): PcKernelBoot {
  const file = checkString(options.kernel, 'kernel');
  if (file === '') throw new TypeError('kernel must name a kernel image file');
  const cmdline = options.append === undefined ? '' : checkString(options.append, 'append');
  const initrd = options.initrd;
  if (typeof initrd === 'string') checkString(initrd, 'initrd');
  else if (Array.isArray(initrd)) initrd.forEach((m, i) => checkString(m, `initrd[${i}]`));
  else if (initrd !== undefined) throw new TypeError('initrd must be a string (QEMU\'s -initrd "a,b args") or an array of "file [arguments]" strings');

  const image = readKernelFile(file, ramSize, (why) => `could not open kernel file '${file}': ${why}`, true);
  if (image.length === 0) throw new KernelImageError(`could not load kernel '${file}': the file is empty`);
  const initrdLimit = belowFourG - PC_ACPI_DATA_SIZE;
  // QEMU looks for the Linux setup header first: such an image is never taken as multiboot or PVH.
  if (linuxProtocol(image) !== 0) {
    const initrdFile = singleInitrd(initrd);
    const data = initrdFile === null ? null : readInitrd(initrdFile, ramSize, linuxInitrdMax(image, initrdLimit));
    const boot = loadLinux({ image, cmdline, initrd: data, initrdLimit });
    return { addFwCfgItems: (fwcfg) => addLinuxFwCfgItems(fwcfg, boot), bootDevicePaths: [LINUXBOOT_BOOT_PATH] };
  }
  if (findMultibootHeader(image) !== null) return prepareMultiboot(image, file, cmdline, initrd, ramSize, belowFourG);
  const elf = parsePvhImage(image);
  if (elf === null) throw notAKernel(image, file);
  if (elf.high > belowFourG) {
    throw new KernelImageError(`the kernel's segments end at ${hex(elf.high)}, beyond the ${belowFourG / 1048576n} MiB of RAM below 4 GiB: give the machine more memory`);
  }
  const initrdFile = singleInitrd(initrd);
  let initrdLoad = null;
  if (initrdFile !== null) {
    const data = readInitrd(initrdFile, ramSize, initrdLimit - 1n);
    initrdLoad = { data, address: initrdAddress(BigInt(data.length), initrdLimit - 1n) };
  }
  return { addFwCfgItems: pcPvhFwCfgItems({ image, elf, cmdline, initrd: initrdLoad }), bootDevicePaths: [PVH_BOOT_PATH] };
}

/** load_multiboot's part: the modules are read only for a multiboot image, as QEMU does (a file name ends at the first space). */
function prepareMultiboot(image: Uint8Array, file: string, cmdline: string, initrd: PcKernelOptions['initrd'], ramSize: bigint, belowFourG: bigint): PcKernelBoot {
  const moduleArgs = initrd === undefined ? [] : typeof initrd === 'string' ? splitInitrdArg(initrd) : [...initrd];
  const modules: MultibootModule[] = moduleArgs.map((arg) => {
    const name = arg.split(' ')[0];
    return { cmdline: arg, data: readKernelFile(name, ramSize, () => `Failed to open file '${name}'`) };
  });
  const mb = loadMultiboot({ image, kernelName: file, cmdline, modules, belowFourGMemSize: belowFourG })!;
  const end = mb.loadAddress + mb.buffer.length;
  if (BigInt(end) > belowFourG) {
    throw new KernelImageError(`the kernel and its modules end at ${hex(end)}, beyond the ${belowFourG / 1048576n} MiB of RAM below 4 GiB: give the machine more memory or smaller modules`);
  }
  return {
    addFwCfgItems: (fwcfg) => addMultibootFwCfgItems(fwcfg, mb),
    bootDevicePaths: [MULTIBOOT_BOOT_PATH],
  };
}
