// The PVH boot protocol (the x86/HVM direct boot ABI, Xen's
// docs/misc/pvh.pandoc; QEMU 7.2 hw/i386/x86.c load_elfboot and
// pc-bios/optionrom/pvh_main.c): an ELF kernel, 32- or 64-bit, whose
// PT_NOTE segments hold the note XEN_ELFNOTE_PHYS32_ENTRY, is loaded at its
// segments' physical addresses and entered at that note's address in 32-bit
// flat protected mode, paging off, with EBX = the physical address of an
// hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h, version 1):
// the command line, the modules (the initrd), the memory map and the RSDP.
//
// Pure: this module reads images and lays out bytes; the boards write them
// (the pc machine through its option ROM, which builds hvm_start_info in the
// guest as QEMU's does; a firmware-less board with pvhBoot()).
import { hex } from '../util/hex';
import { toU64 } from '../util/integers';
import { KernelImageError } from './kernel-image-error';
import { isElf, parseElf } from './loader-elf';

const PT_NOTE = 4;
/** xen/include/public/elfnote.h: the 32-bit entry point of a PVH kernel. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** hvm_start_info.magic ("xEn3" with bit 7 of the 'n' set). */
export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
export const HVM_START_INFO_SIZE = 56;
export const HVM_MODLIST_ENTRY_SIZE = 32;
export const HVM_MEMMAP_TABLE_ENTRY_SIZE = 24;
const FOUR_GIB = 1n << 32n;
const UTF8 = new TextEncoder();

/** One loadable segment: `data` goes at `paddr`, zeros up to `memsz` (.bss). */
export interface PvhSegment {
  paddr: bigint;
  data: Uint8Array;
  memsz: bigint;
}

export interface PvhImage {
  /** XEN_ELFNOTE_PHYS32_ENTRY: where the vCPU starts (EIP). */
  entry: number;
  class: 32 | 64;
  segments: PvhSegment[];
  /** QEMU's elf_low and elf_high: the lowest segment address and the end of the highest (FW_CFG_KERNEL_ADDR/SIZE). */
  low: bigint;
  high: bigint;
}

/**
 * The PHYS32_ENTRY note's address, or null when the ELF has none
 * (get_elf_note_type + read_pvh_start_addr): notes are searched in the
 * PT_NOTE segments by type only, their name and descriptor aligned to the
 * segment's p_align, and the descriptor read as a 64-bit word on a 64-bit
 * host (QEMU's size_t), of which fw_cfg keeps the low 32 bits.
 */
export function findPvhEntry(image: Uint8Array): number | null {
  if (!isElf(image) || image.length < 52) return null;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const is64 = image[4] === 2;
  const word = (at: number, wide: boolean) => (wide ? dv.getBigUint64(at, true) : BigInt(dv.getUint32(at, true)));
  if (is64 && image.length < 64) return null;
  const phoff = Number(word(is64 ? 32 : 28, is64));
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);
  for (let n = 0; n < phnum; n++) {
    const ph = phoff + n * phentsize;
    if (ph + (is64 ? 56 : 32) > image.length || dv.getUint32(ph, true) !== PT_NOTE) continue;
    const offset = Number(word(ph + (is64 ? 8 : 4), is64));
    const size = Number(word(ph + (is64 ? 32 : 16), is64));
    const align = Math.max(1, Number(word(ph + (is64 ? 48 : 28), is64)));
    const alignUp = (v: number) => Math.ceil(v / align) * align;
    const end = Math.min(offset + size, image.length);
    for (let at = offset; at + 12 <= end;) {
      const namesz = dv.getUint32(at, true);
      const descsz = dv.getUint32(at + 4, true);
      if (dv.getUint32(at + 8, true) === XEN_ELFNOTE_PHYS32_ENTRY) {
        const desc = at + 12 + alignUp(namesz);
        if (desc + 4 > image.length) return null;
        return dv.getUint32(desc, true); // the low half of QEMU's size_t read
      }
      at += 12 + alignUp(namesz) + alignUp(descsz);
    }
  }
  return null;
}

/**
 * load_elfboot: the kernel's segments and entry, or a KernelImageError with
 * QEMU's message. Null when the image is not an ELF at all (then, for
 * x86_load_linux, it is a Linux zImage of protocol 0).
 */
export function parsePvhImage(image: Uint8Array): PvhImage | null {
  if (!isElf(image)) return null;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  // e_flags (LOAD_ELF_HEADER_HAS_ADDR and its like): QEMU refuses before loading
  const flags = image.length >= 52 ? dv.getUint32(image[4] === 2 ? 48 : 36, true) : 0;
  if (flags & 0x00010004) throw new KernelImageError(`elfboot unsupported flags = ${flags.toString(16)}`);
  let elf;
  try {
    elf = parseElf(image);
  } catch {
    throw new KernelImageError('Error while loading elf kernel');
  }
  const entry = findPvhEntry(image);
  if (entry === null || entry === 0) throw new KernelImageError('Error loading uncompressed kernel without PVH ELF Note');
  const segments = elf.segments.map((s) => ({ paddr: s.paddr, data: image.subarray(s.offset, s.offset + s.filesz), memsz: s.memsz }));
  const low = segments.reduce((m, s) => (s.paddr < m ? s.paddr : m), segments[0].paddr);
  const high = segments.reduce((m, s) => (s.paddr + s.memsz > m ? s.paddr + s.memsz : m), 0n);
  return { entry, class: elf.class, segments, low, high };
}

/** A memory map entry (E820 layout and types: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, ...). */
export interface PvhMemmapEntry {
  address: bigint;
  length: bigint;
  type: number;
}

/** One module as the kernel finds it: its bytes at `paddr`, and its string. */
export interface PvhModule {
  paddr: bigint;
  size: bigint;
  /** The module's string's address, 0 for none (QEMU gives none). */
  cmdlinePaddr?: bigint;
}

/** Where hvm_start_info's parts are, and what they say. */
export interface HvmStartInfoLayout {
  startInfo: bigint;
  /** The hvm_modlist_entry array (nr_modules = modules.length). */
  modlist: bigint;
  modules: readonly PvhModule[];
  memmap: bigint;
  memmapEntries: readonly PvhMemmapEntry[];
  cmdline: bigint;
  /** The RSDP's address, 0 for none. */
  rsdp: bigint;
  /** SIF_* flags (0: an unprivileged domain, what QEMU gives). */
  flags?: number;
}

/** A block of bytes for guest-physical `address`. */
export interface GuestWrite {
  address: bigint;
  bytes: Uint8Array;
}

/** hvm_start_info (version 1), the module list and the memory map, each at its address. The command line's bytes are the caller's. */
export function hvmStartInfo(layout: HvmStartInfoLayout): GuestWrite[] {
  const info = new Uint8Array(HVM_START_INFO_SIZE);
  const dv = new DataView(info.buffer);
  dv.setUint32(0, XEN_HVM_START_MAGIC_VALUE, true);
  dv.setUint32(4, 1, true);
  dv.setUint32(8, layout.flags ?? 0, true);
  dv.setUint32(12, layout.modules.length, true);
  dv.setBigUint64(16, layout.modules.length > 0 ? layout.modlist : 0n, true);
  dv.setBigUint64(24, layout.cmdline, true);
  dv.setBigUint64(32, layout.rsdp, true);
  dv.setBigUint64(40, layout.memmap, true);
  dv.setUint32(48, layout.memmapEntries.length, true);
  const modlist = new Uint8Array(layout.modules.length * HVM_MODLIST_ENTRY_SIZE);
  const ml = new DataView(modlist.buffer);
  layout.modules.forEach((m, i) => {
    ml.setBigUint64(i * HVM_MODLIST_ENTRY_SIZE, m.paddr, true);
    ml.setBigUint64(i * HVM_MODLIST_ENTRY_SIZE + 8, m.size, true);
    ml.setBigUint64(i * HVM_MODLIST_ENTRY_SIZE + 16, m.cmdlinePaddr ?? 0n, true);
  });
  const memmap = new Uint8Array(layout.memmapEntries.length * HVM_MEMMAP_TABLE_ENTRY_SIZE);
  const mm = new DataView(memmap.buffer);
  layout.memmapEntries.forEach((e, i) => {
    mm.setBigUint64(i * HVM_MEMMAP_TABLE_ENTRY_SIZE, e.address, true);
    mm.setBigUint64(i * HVM_MEMMAP_TABLE_ENTRY_SIZE + 8, e.length, true);
    mm.setUint32(i * HVM_MEMMAP_TABLE_ENTRY_SIZE + 16, e.type, true);
  });
  const out: GuestWrite[] = [{ address: layout.startInfo, bytes: info }];
  if (modlist.length > 0) out.push({ address: layout.modlist, bytes: modlist });
  if (memmap.length > 0) out.push({ address: layout.memmap, bytes: memmap });
  return out;
}

/**
 * QEMU's initrd placement (x86_load_linux): the highest page-aligned
 * address below `initrdMax` (QEMU: below_4g_mem_size - acpi_data_size - 1)
 * at which `size` bytes end at or below it.
 */
export function initrdAddress(size: bigint, initrdMax: bigint): bigint {
  if (size >= initrdMax) {
    const qemu = `initrd is too large, cannot support.(max: ${initrdMax}, need ${size})`;
    throw new KernelImageError(`${qemu}: give the machine more memory or a smaller initrd`, `qemu: ${qemu}`);
  }
  return (initrdMax - size) & ~0xfffn;
}

export interface PvhBootInput {
  image: Uint8Array;
  /** The kernel command line (-append), written NUL-terminated. */
  cmdline: string;
  /** The modules' bytes (QEMU's -initrd: one), placed downwards from initrdMax in order. */
  modules: readonly Uint8Array[];
  /** The memory map the kernel gets, as the board's E820 table has it. */
  e820: readonly PvhMemmapEntry[];
  /** The RSDP's guest-physical address, 0 for none. */
  rsdp: bigint | number;
  /**
   * The highest address a module may end below (QEMU's initrd_max); by
   * default the end of the highest RAM entry below 4 GiB, minus 1.
   */
  initrdMax?: bigint | number;
  /** hvm_start_info and its tables: 0x6000 by default (start_info, the module list at +0x40, the memory map at +0x1000). */
  startInfoAddress?: bigint | number;
  /** The command line: 0x20000 by default (where QEMU puts a Linux kernel's). */
  cmdlineAddress?: bigint | number;
}

export interface PvhBoot {
  /** Everything to write before the vCPU starts: the segments, their .bss zeros, the modules, the cmdline, hvm_start_info. */
  writes: GuestWrite[];
  /** 32-bit flat protected mode, paging off, IF = 0: EIP and EBX; the other registers' values are unspecified. */
  registers: { eip: bigint; ebx: bigint };
  image: PvhImage;
  modules: PvhModule[];
}

/** The most memory map entries QEMU's PVH ROM passes (E820_MAXENTRIES). */
export const PVH_MAX_MEMMAP_ENTRIES = 128;

function defaultInitrdMax(e820: readonly PvhMemmapEntry[]): bigint {
  let top = 0n;
  for (const e of e820) {
    const end = e.address + e.length;
    if (e.type === 1 && e.address < FOUR_GIB) top = end > FOUR_GIB ? FOUR_GIB : end > top ? end : top;
  }
  if (top === 0n) throw new RangeError('the memory map has no RAM below 4 GiB for the modules: pass e820 with RAM entries, or initrdMax');
  return top - 1n;
}

/**
 * Everything a firmware-less board needs to start a PVH kernel: the image's
 * segments, the modules placed as QEMU places an initrd, the command line,
 * and hvm_start_info pointing at all of them and at the RSDP. Nothing is
 * checked against the board's RAM here beyond the memory map it gives.
 */
export function pvhBoot(input: PvhBootInput): PvhBoot {
  if (!(input.image instanceof Uint8Array)) throw new TypeError('image must be a Uint8Array');
  if (typeof input.cmdline !== 'string' || input.cmdline.includes('\0')) throw new TypeError('cmdline must be a string without NUL characters');
  if (!Array.isArray(input.modules) || input.modules.some((m) => !(m instanceof Uint8Array))) throw new TypeError('modules must be an array of Uint8Array');
  if (!Array.isArray(input.e820)) throw new TypeError('e820 must be an array of { address, length, type }');
  if (input.e820.length > PVH_MAX_MEMMAP_ENTRIES) throw new RangeError(`e820 has ${input.e820.length} entries; PVH passes at most ${PVH_MAX_MEMMAP_ENTRIES}`);
  const image = parsePvhImage(input.image);
  if (image === null) throw new KernelImageError('Error loading uncompressed kernel without PVH ELF Note');
  const rsdp = toU64(input.rsdp, 'rsdp');
  const startInfo = toU64(input.startInfoAddress ?? 0x6000, 'startInfoAddress');
  const cmdlineAt = toU64(input.cmdlineAddress ?? 0x20000, 'cmdlineAddress');
  let top = input.initrdMax === undefined ? defaultInitrdMax(input.e820) : toU64(input.initrdMax, 'initrdMax');
  const writes: GuestWrite[] = [];
  for (const s of image.segments) {
    if (s.data.length > 0) writes.push({ address: s.paddr, bytes: s.data });
    const bss = s.memsz - BigInt(s.data.length);
    if (bss > 0n) writes.push({ address: s.paddr + BigInt(s.data.length), bytes: new Uint8Array(Number(bss)) });
  }
  const modules: PvhModule[] = [];
  for (const data of input.modules) {
    const paddr = initrdAddress(BigInt(data.length), top);
    if (paddr < image.high) throw new KernelImageError(`the modules would start at ${hex(paddr)}, below the kernel's end at ${hex(image.high)}: give the machine more memory or smaller modules`);
    modules.push({ paddr, size: BigInt(data.length) });
    writes.push({ address: paddr, bytes: data });
    top = paddr - 1n;
  }
  const cmdline = UTF8.encode(`${input.cmdline}\0`);
  writes.push({ address: cmdlineAt, bytes: cmdline });
  writes.push(...hvmStartInfo({
    startInfo,
    modlist: startInfo + 0x40n,
    modules,
    memmap: startInfo + 0x1000n,
    memmapEntries: input.e820.map((e) => ({ address: toU64(e.address, 'e820 address'), length: toU64(e.length, 'e820 length'), type: e.type })),
    cmdline: cmdlineAt,
    rsdp,
  }));
  return { writes, registers: { eip: BigInt(image.entry), ebx: startInfo }, image, modules };
}
