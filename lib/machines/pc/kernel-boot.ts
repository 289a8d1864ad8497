// -kernel, -append and -initrd on the pc machine (QEMU's x86_load_linux,
// hw/i386/x86.c): reads the files, recognises the image the way QEMU does
// (a Linux setup header first, then a multiboot header, then an ELF for
// PVH) and prepares what the firmware boots it from: fw_cfg items, the
// option ROM and its place at the head of `bootorder`.
//
// Multiboot v1 is what boots today (multiboot.ts). A Linux bzImage, a PVH
// ELF and an image that is none of these are refused with QEMU's message
// where QEMU has one, else with what is missing.
import type { FwCfgIo } from '../../devices/fw-cfg';
import { readImageFile } from '../../x86/image-file';
import { KernelImageError } from './kernel-image-error';
import { hex } from '../../util/hex';
import { addMultibootFwCfgItems, findMultibootHeader, loadMultiboot, MULTIBOOT_BOOT_PATH, type MultibootModule } from './multiboot';

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

export function readKernelFile(file: string, ramSize: bigint, what: (why: string) => string): Uint8Array {
  try {
    return readImageFile(file, ramSize, 'give the machine more memory');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e; // not a regular file, or larger than RAM: readImageFile's own message
    const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (e as Error).message;
    throw new KernelImageError(what(why));
  }
}

const LINUX_HDRS = 0x53726448; // "HdrS" at 0x202: the Linux boot protocol's setup header
const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** Whether an ELF (32- or 64-bit, little-endian) has the Xen note PVH boots from (load_elfboot's search). */
function hasPvhNote(image: Uint8Array): boolean {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const is64 = image[4] === 2;
  const phoff = is64 ? Number(dv.getBigUint64(32, true)) : dv.getUint32(28, true);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);
  for (let n = 0; n < phnum; n++) {
    const ph = phoff + n * phentsize;
    if (ph + (is64 ? 56 : 32) > image.length || dv.getUint32(ph, true) !== PT_NOTE) continue;
    let at = is64 ? Number(dv.getBigUint64(ph + 8, true)) : dv.getUint32(ph + 4, true);
    const end = at + (is64 ? Number(dv.getBigUint64(ph + 32, true)) : dv.getUint32(ph + 16, true));
    while (at + 12 <= Math.min(end, image.length)) {
      const namesz = dv.getUint32(at, true);
      const descsz = dv.getUint32(at + 4, true);
      const type = dv.getUint32(at + 8, true);
      const name = new TextDecoder().decode(image.subarray(at + 12, at + 12 + namesz)).replace(/\0+$/, '');
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

function isLinux(image: Uint8Array): boolean {
  return image.length >= 0x206 && new DataView(image.buffer, image.byteOffset + 0x202, 4).getUint32(0, true) === LINUX_HDRS;
}

/** The error for an image that is not multiboot (x86_load_linux's other paths, not implemented yet). */
function notMultiboot(image: Uint8Array, file: string): KernelImageError {
  if (isLinux(image)) {
    return new KernelImageError(`${file} is a Linux kernel (bzImage): the Linux boot protocol is not supported yet; boot a multiboot kernel`);
  }
  if (image.length >= 52 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46 && image[5] === 1) {
    if (!hasPvhNote(image)) return new KernelImageError('Error loading uncompressed kernel without PVH ELF Note');
    return new KernelImageError(`${file} is an ELF kernel with a PVH entry: PVH boot is not supported yet; boot a multiboot kernel`);
  }
  // Boot protocol 0: the setup sectors must be in the file, else QEMU gives up here.
  const setupSects = image.length > 0x1f1 && image[0x1f1] !== 0 ? image[0x1f1] : 4;
  if ((setupSects + 1) * 512 > image.length) return new KernelImageError('invalid kernel header');
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
  let moduleArgs: string[] = [];
  if (typeof initrd === 'string') moduleArgs = splitInitrdArg(checkString(initrd, 'initrd'));
  else if (Array.isArray(initrd)) moduleArgs = initrd.map((m, i) => checkString(m, `initrd[${i}]`));
  else if (initrd !== undefined) throw new TypeError('initrd must be a string (QEMU\'s -initrd "a,b args") or an array of "file [arguments]" strings');

  const image = readKernelFile(file, ramSize, (why) => `could not open kernel file '${file}': ${why}`);
  if (image.length === 0) throw new KernelImageError(`could not load kernel '${file}': the file is empty`);
  // QEMU looks for the Linux setup header first: such an image is never taken as multiboot.
  if (isLinux(image) || findMultibootHeader(image) === null) throw notMultiboot(image, file);
  // Modules are read only for a multiboot image, as QEMU does (the file name ends at the first space).
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
