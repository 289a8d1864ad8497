// Loads the PT_LOAD segments of a 32- or 64-bit little-endian x86 ELF
// executable at their physical addresses (p_paddr), zero-filling the part of
// each segment beyond its file size (.bss). Everything is validated before
// the first byte is written, so a bad file changes nothing.
import type { LoadedImage } from './loader-flat';
import type { GuestWriter } from './modes';

const PT_LOAD = 1;
const EM_386 = 3;
const EM_X86_64 = 62;
const ET_EXEC = 2;

export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
}

interface Segment { paddr: bigint; offset: number; filesz: number; memsz: bigint }

export interface ParsedElf {
  class: 32 | 64;
  entry: bigint;
  segments: Segment[];
}

export function parseElf(image: Uint8Array): ParsedElf {
  if (!(image instanceof Uint8Array)) throw new TypeError('image must be a Uint8Array');
  if (!isElf(image)) throw new TypeError('not an ELF file (no \\x7fELF magic)');
  if (image.length < 52) throw new RangeError('ELF header is truncated');
  const cls = image[4];
  if (cls !== 1 && cls !== 2) throw new TypeError(`ELF class ${cls} is neither ELFCLASS32 nor ELFCLASS64`);
  if (image[5] !== 1) throw new TypeError('only little-endian ELF files can run on x86');
  const is64 = cls === 2;
  if (is64 && image.length < 64) throw new RangeError('ELF64 header is truncated');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== ET_EXEC) throw new TypeError(`ELF type ${type} is not ET_EXEC (link a static executable, e.g. gcc -static -nostdlib -no-pie)`);
  const wantMachine = is64 ? EM_X86_64 : EM_386;
  if (machine !== wantMachine) throw new TypeError(`ELF machine ${machine} is not ${is64 ? 'x86-64 (62)' : 'i386 (3)'}`);
  const entry = is64 ? dv.getBigUint64(24, true) : BigInt(dv.getUint32(24, true));
  const phoff = is64 ? Number(dv.getBigUint64(32, true)) : dv.getUint32(28, true);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);
  if (phentsize < (is64 ? 56 : 32)) throw new RangeError(`ELF program header entry size ${phentsize} is too small`);
  if (phoff + phentsize * phnum > image.length) throw new RangeError('ELF program headers lie outside the file');
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (dv.getUint32(at, true) !== PT_LOAD) continue;
    const offset = is64 ? Number(dv.getBigUint64(at + 8, true)) : dv.getUint32(at + 4, true);
    const paddr = is64 ? dv.getBigUint64(at + 24, true) : BigInt(dv.getUint32(at + 12, true));
    const filesz = is64 ? Number(dv.getBigUint64(at + 32, true)) : dv.getUint32(at + 16, true);
    const memsz = is64 ? dv.getBigUint64(at + 40, true) : BigInt(dv.getUint32(at + 20, true));
    if (offset + filesz > image.length) throw new RangeError(`PT_LOAD segment ${i} lies outside the file`);
    if (BigInt(filesz) > memsz) throw new RangeError(`PT_LOAD segment ${i} has p_filesz > p_memsz`);
    if (memsz > 1n << 32n) throw new RangeError(`PT_LOAD segment ${i} is larger than 4 GiB`);
    segments.push({ paddr, offset, filesz, memsz });
  }
  if (segments.length === 0) throw new RangeError('the ELF file has no PT_LOAD segment');
  return { class: is64 ? 64 : 32, entry, segments };
}

export function loadElf(image: Uint8Array, write: GuestWriter): LoadedImage {
  const elf = parseElf(image);
  for (const s of elf.segments) {
    if (s.filesz > 0) write(s.paddr, image.subarray(s.offset, s.offset + s.filesz));
    const bss = s.memsz - BigInt(s.filesz);
    if (bss > 0n) write(s.paddr + BigInt(s.filesz), new Uint8Array(Number(bss)));
  }
  return {
    entry: elf.entry,
    segments: elf.segments.map((s) => ({ start: s.paddr, end: s.paddr + s.memsz })),
    format: elf.class === 64 ? 'elf64' : 'elf32',
  };
}
