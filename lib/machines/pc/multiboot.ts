// QEMU's multiboot v1 loader for -kernel on the pc machine
// (hw/i386/multiboot.c load_multiboot, QEMU 7.2): finds the multiboot header
// in the image's first 8 KiB, lays out the kernel (from its ELF program
// headers or the header's a.out-kludge addresses), the -initrd modules and
// their strings, the cmdline "<kernel file> <-append>" and the loader name
// "qemu" in one buffer (mb_buf), and prepares the multiboot information (MBI)
// at 0x9500. Both go to the guest through fw_cfg for the option ROM
// (optionrom/multiboot.S), which adds mem_lower, mem_upper and the E820 map
// from the BIOS and enters the kernel.
import { FwCfgKey, type FwCfgIo } from '../../devices/fw-cfg';
import { hex } from '../../util/hex';
import { KernelImageError } from './kernel-image-error';
import { multibootRom } from './optionrom/multiboot-rom';

/** The header lies 4-byte aligned in the first MULTIBOOT_SEARCH bytes. */
const MULTIBOOT_SEARCH = 8192;
const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** Header flag bit 16: the load addresses are in the header (the a.out kludge). */
const MULTIBOOT_AOUT_KLUDGE = 0x00010000;
/** Where QEMU puts the E820 map (MULTIBOOT_STRUCT_ADDR) and the MBI after it. */
export const MULTIBOOT_E820_ADDR = 0x9000;
export const MULTIBOOT_MBI_ADDR = MULTIBOOT_E820_ADDR + 0x500;
export const MBI_SIZE = 88;
const MB_MOD_SIZE = 16;
/** MEMORY | BOOT_DEVICE | CMDLINE | MODULES | MMAP | BOOTLOADER (multiboot.c) */
export const MULTIBOOT_MBI_FLAGS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9);
/** The BIOS drive 0x80, no partition ("XXX: use the -boot switch?" in QEMU). */
const BOOT_DEVICE = 0x8000ffff;
const BOOTLOADER_NAME = 'qemu';
/** The option ROM's fw_cfg file and its boot path (QEMU: option_rom[] with bootindex 0). */
export const MULTIBOOT_ROM_FILE = 'genroms/multiboot.bin';
export const MULTIBOOT_BOOT_PATH = `/rom@${MULTIBOOT_ROM_FILE}`;
const PAGE = 4096;
const EM_386 = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;

/** One -initrd module: its string (file name and arguments) and the file's bytes. */
export interface MultibootModule {
  cmdline: string;
  data: Uint8Array;
}

export interface MultibootInput {
  /** The -kernel file's bytes. */
  image: Uint8Array;
  /** The -kernel file name as given: the first word of the cmdline. */
  kernelName: string;
  /** -append ('' when absent). */
  cmdline: string;
  modules: readonly MultibootModule[];
  /** x86ms->below_4g_mem_size: mem_upper until the ROM sets it from the E820 map. */
  belowFourGMemSize: bigint;
}

/** What the option ROM finds in fw_cfg. */
export interface MultibootLoad {
  entry: number;
  /** Guest-physical address of mb_buf (the kernel's lowest load address). */
  loadAddress: number;
  /** mb_buf: the kernel, the MBI's module list, the strings, the modules (FW_CFG_KERNEL_DATA). */
  buffer: Uint8Array;
  /** The 88-byte MBI (FW_CFG_INITRD_DATA), loaded at MULTIBOOT_MBI_ADDR. */
  mbi: Uint8Array;
}

const UTF8 = new TextEncoder();
const pageAlign = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** The header's offset and flags, or null when the image has no valid multiboot header. */
export function findMultibootHeader(image: Uint8Array): { offset: number; flags: number } | null {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const end = Math.min(MULTIBOOT_SEARCH - 12, image.length - 12);
  for (let i = 0; i <= end; i += 4) {
    if (dv.getUint32(i, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(i + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + dv.getUint32(i + 8, true)) >>> 0) === 0) return { offset: i, flags };
  }
  return null;
}

/** The header word at offset `at`, 0 past the image's end (QEMU reads it from its 8 KiB header buffer). */
function headerWord(image: Uint8Array, at: number): number {
  if (at + 4 > image.length) return 0;
  return new DataView(image.buffer, image.byteOffset + at, 4).getUint32(0, true);
}

/** The kernel of an ELF32 image as load_elf + rom_copy give it: PT_LOAD segments at their physical addresses, gaps and bss zeroed. */
function loadElf32(image: Uint8Array): { low: number; bytes: Uint8Array; entry: number } {
  const bad = () => new KernelImageError('Error while loading elf kernel');
  if (image.length < 52 || image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c || image[3] !== 0x46) throw bad();
  if (image[4] !== 1 || image[5] !== 1) throw bad(); // ELFCLASS32, ELFDATA2LSB
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint16(18, true) !== EM_386) throw bad();
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phnum === 0 || phentsize < 32 || phoff + phnum * phentsize > image.length) throw bad();
  const segments: { paddr: number; offset: number; filesz: number; memsz: number }[] = [];
  for (let n = 0; n < phnum; n++) {
    const ph = phoff + n * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const seg = { offset: dv.getUint32(ph + 4, true), paddr: dv.getUint32(ph + 12, true), filesz: dv.getUint32(ph + 16, true), memsz: dv.getUint32(ph + 20, true) };
    if (seg.filesz > seg.memsz || seg.offset + seg.filesz > image.length || seg.paddr + seg.memsz > 2 ** 32) throw bad();
    if (seg.memsz > 0) segments.push(seg);
  }
  if (segments.length === 0) throw bad();
  const low = Math.min(...segments.map((s) => s.paddr));
  const high = Math.max(...segments.map((s) => s.paddr + s.memsz));
  const bytes = new Uint8Array(high - low);
  for (const s of segments) bytes.set(image.subarray(s.offset, s.offset + s.filesz), s.paddr - low);
  return { low, bytes, entry };
}

/** The kernel of an a.out-kludge image: the header's load, load_end, bss_end and entry addresses. */
function loadAout(image: Uint8Array, at: number): { low: number; bytes: Uint8Array; entry: number } {
  const headerAddr = headerWord(image, at + 12);
  const loadAddr = headerWord(image, at + 16);
  const loadEndAddr = headerWord(image, at + 20);
  const bssEndAddr = headerWord(image, at + 24);
  const entry = headerWord(image, at + 28);
  if (headerAddr < loadAddr) throw new KernelImageError('invalid load_addr address');
  if (headerAddr - loadAddr > at) throw new KernelImageError('invalid header_addr address');
  const textOffset = at - (headerAddr - loadAddr);
  let loadSize: number;
  if (loadEndAddr !== 0) {
    if (loadEndAddr < loadAddr) throw new KernelImageError('invalid load_end_addr address');
    loadSize = loadEndAddr - loadAddr;
  } else {
    if (image.length < textOffset) throw new KernelImageError('invalid kernel_file_size');
    loadSize = image.length - textOffset;
  }
  if (loadSize > 0xffffffff - loadAddr) throw new KernelImageError('kernel does not fit in address space');
  let kernelSize = loadSize;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadAddr + loadSize) throw new KernelImageError('invalid bss_end_addr address');
    kernelSize = bssEndAddr - loadAddr;
  }
  if (textOffset + loadSize > image.length) throw new KernelImageError('fread() failed');
  const bytes = new Uint8Array(kernelSize);
  bytes.set(image.subarray(textOffset, textOffset + loadSize));
  return { low: loadAddr, bytes, entry };
}

/** The -initrd string the modules come from: QEMU counts its length once (commas doubled in names, one between). */
function initrdArgLength(modules: readonly MultibootModule[]): number {
  return modules.reduce((n, m) => n + UTF8.encode(m.cmdline.replace(/,/g, ',,')).length, 0) + modules.length - 1;
}

/**
 * load_multiboot: null when the image has no multiboot header (then it may
 * be a Linux or ELF kernel); a KernelImageError with QEMU's message when it
 * has one but cannot be loaded.
 */
export function loadMultiboot(input: MultibootInput): MultibootLoad | null {
  const { image, modules } = input;
  const header = findMultibootHeader(image);
  if (header === null) return null;
  let kernel: { low: number; bytes: Uint8Array; entry: number };
  if (!(header.flags & MULTIBOOT_AOUT_KLUDGE)) {
    if (image.length >= 20 && new DataView(image.buffer, image.byteOffset + 18, 2).getUint16(0, true) === EM_X86_64) {
      throw new KernelImageError('Cannot load x86-64 image, give a 32bit one.');
    }
    kernel = loadElf32(image);
  } else {
    kernel = loadAout(image, header.offset);
  }
  const phys = kernel.low;
  const kernelName = UTF8.encode(input.kernelName);
  const cmdline = UTF8.encode(input.cmdline);
  const bootloader = UTF8.encode(BOOTLOADER_NAME);

  // mb_buf: the kernel, page aligned; then the module list, the strings and the loader name; then each module, page aligned.
  const offsetMbinfo = pageAlign(kernel.bytes.length);
  const cmdlineLen = kernelName.length + 1 + cmdline.length + 1 + (modules.length > 0 ? initrdArgLength(modules) + 1 : 0);
  const offsetCmdlines = offsetMbinfo + modules.length * MB_MOD_SIZE;
  const offsetBootloader = offsetCmdlines + cmdlineLen;
  let size = pageAlign(offsetBootloader + bootloader.length + 1);
  const moduleAt: number[] = [];
  for (const m of modules) {
    moduleAt.push(size);
    size = pageAlign(size + m.data.length);
  }
  if (phys + size > 2 ** 32) throw new KernelImageError(`the kernel and its modules (${hex(size)} bytes from ${hex(phys)}) do not fit below 4 GiB`);
  const buffer = new Uint8Array(size);
  const dv = new DataView(buffer.buffer);
  buffer.set(kernel.bytes);
  let stringAt = offsetCmdlines;
  /** mb_add_cmdline: the string at the next free place among the strings; its guest address. */
  const addString = (bytes: Uint8Array) => {
    buffer.set(bytes, stringAt);
    const addr = phys + stringAt;
    stringAt += bytes.length + 1;
    return addr;
  };
  modules.forEach((m, i) => {
    const string = addString(UTF8.encode(m.cmdline));
    buffer.set(m.data, moduleAt[i]);
    const entry = offsetMbinfo + i * MB_MOD_SIZE;
    dv.setUint32(entry, phys + moduleAt[i], true);
    dv.setUint32(entry + 4, phys + moduleAt[i] + m.data.length, true);
    dv.setUint32(entry + 8, string, true);
  });
  const kcmdline = addString(new Uint8Array([...kernelName, 0x20, ...cmdline]));
  buffer.set(bootloader, offsetBootloader);

  const mbi = new Uint8Array(MBI_SIZE);
  const m = new DataView(mbi.buffer);
  m.setUint32(0, MULTIBOOT_MBI_FLAGS, true);
  m.setUint32(4, 640, true); // the ROM puts INT 12h's answer here
  m.setUint32(8, Number(input.belowFourGMemSize / 1024n) - 1024, true); // and here the RAM at 1 MiB from E820
  m.setUint32(12, BOOT_DEVICE, true);
  m.setUint32(16, kcmdline, true);
  m.setUint32(20, modules.length, true);
  m.setUint32(24, phys + offsetMbinfo, true);
  m.setUint32(48, MULTIBOOT_E820_ADDR, true);
  m.setUint32(64, phys + offsetBootloader, true);
  return { entry: kernel.entry, loadAddress: phys, buffer, mbi };
}

/** The fw_cfg items load_multiboot adds, and the option ROM as genroms/multiboot.bin. */
export function addMultibootFwCfgItems(fwcfg: FwCfgIo, load: MultibootLoad): void {
  fwcfg.addI32(FwCfgKey.KERNEL_ENTRY, load.entry);
  fwcfg.addI32(FwCfgKey.KERNEL_ADDR, load.loadAddress);
  fwcfg.addI32(FwCfgKey.KERNEL_SIZE, load.buffer.length);
  fwcfg.addBytes(FwCfgKey.KERNEL_DATA, load.buffer);
  fwcfg.addI32(FwCfgKey.INITRD_ADDR, MULTIBOOT_MBI_ADDR);
  fwcfg.addI32(FwCfgKey.INITRD_SIZE, load.mbi.length);
  fwcfg.addBytes(FwCfgKey.INITRD_DATA, load.mbi);
  fwcfg.addFile(MULTIBOOT_ROM_FILE, multibootRom());
}
