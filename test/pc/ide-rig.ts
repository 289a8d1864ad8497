// The PC's two IDE channels and the PIIX BMDMA block in an I/O address space,
// accessed with in/out of 1, 2 and 4 bytes as a guest does, over a raw image
// file in a temporary directory.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AtaDisk } from '../../lib/devices/ide/ata-disk';
import { PiixBmdma } from '../../lib/devices/ide/bmdma';
import { DiskImage, type DiskImageOptions } from '../../lib/devices/ide/disk-image';
import { IDE_PRIMARY, IDE_SECONDARY, IdeBus } from '../../lib/devices/ide/ide-bus';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';

export const MiB = 1 << 20;
/** Where the rig maps the BMDMA BAR (SeaBIOS puts it at 0xc000 at -m 128). */
export const BMDMA_BASE = 0xc000;

/** A temporary raw image of `size` bytes; `fill(sector)` gives a sector's contents (default: zeros). */
export function tempImage(size: number, fill?: (sector: number) => Uint8Array | null): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-ide-'));
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, Buffer.alloc(0));
  fs.truncateSync(file, size);
  if (fill) {
    const fd = fs.openSync(file, 'r+');
    for (let s = 0; s * 512 < size; s++) {
      const data = fill(s);
      if (data) fs.writeSync(fd, data, 0, data.length, s * 512);
    }
    fs.closeSync(fd);
  }
  return { file, dir };
}

export function ideRig(file: string | null, imageOptions: DiskImageOptions = {}) {
  const image = file === null ? null : new DiskImage(file, imageOptions);
  const disk = image === null ? null : new AtaDisk(image);
  const levels: { 14: boolean[]; 15: boolean[] } = { 14: [], 15: [] };
  // guest RAM for bus-master DMA: 1 MiB of bytes behind MMIO callbacks
  const ram = new Uint8Array(MiB);
  const ramRegion = MemoryRegion.io('ram', MiB, {
    read: (offset, size) => {
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(ram[Number(offset) + i]);
      return v;
    },
    write: (offset, value, size) => {
      for (let i = 0; i < size; i++) ram[Number(offset) + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    },
    impl: { minAccessSize: 1, maxAccessSize: 8 },
    valid: { minAccessSize: 1, maxAccessSize: 8 },
    endianness: 'little',
  });
  const memRoot = MemoryRegion.container('memory', 1n << 32n);
  memRoot.addSubregion(0n, ramRegion);
  const memory = new AddressSpace(memRoot, 'memory');
  const bmdma = new PiixBmdma({ memory });
  const primary = new IdeBus({ ...IDE_PRIMARY, drives: [disk], irq: callbackIrqLine((l) => levels[14].push(l), 'IRQ 14'), dma: bmdma.channels[0] });
  const secondary = new IdeBus({ ...IDE_SECONDARY, irq: callbackIrqLine((l) => levels[15].push(l), 'IRQ 15'), dma: bmdma.channels[1] });
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  for (const m of [...primary.mappings, ...secondary.mappings]) ioRoot.addSubregion(m.address, m.region);
  ioRoot.addSubregionOverlap(BigInt(BMDMA_BASE), bmdma.region, 1);
  const io = new AddressSpace(ioRoot, 'I/O');
  const inN = (port: number, size: number) => {
    const d = io.read(port, size).data;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + d[i];
    return v;
  };
  const outN = (port: number, value: number, size: number) => {
    const bytes: number[] = [];
    for (let i = 0; i < size; i++) bytes.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
    io.write(port, bytes);
  };
  const inb = (port: number) => inN(port, 1);
  const inw = (port: number) => inN(port, 2);
  const inl = (port: number) => inN(port, 4);
  const outb = (port: number, v: number) => outN(port, v, 1);
  const outw = (port: number, v: number) => outN(port, v, 2);
  const outl = (port: number, v: number) => outN(port, v, 4);
  /** 256 words from the data port. */
  const readSectorWords = () => Array.from({ length: 256 }, () => inw(0x1f0));
  /** LBA28 command on the primary master: LBA, count, command. */
  const lba28 = (lba: number, count: number, command: number) => {
    outb(0x1f6, 0xe0 | ((lba >>> 24) & 0x0f));
    outb(0x1f2, count & 0xff);
    outb(0x1f3, lba & 0xff);
    outb(0x1f4, (lba >>> 8) & 0xff);
    outb(0x1f5, (lba >>> 16) & 0xff);
    outb(0x1f7, command);
  };
  const close = () => {
    primary.close();
    secondary.close();
    bmdma.close();
    ioRoot.close();
    memory.destroy();
    io.destroy();
    ramRegion.close();
    memRoot.close();
    image?.close();
  };
  return { io, ram, image, disk, primary, secondary, bmdma, levels, inb, inw, inl, outb, outw, outl, readSectorWords, lba28, close };
}

export const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Sector `sector`'s contents in the tests' images: bytes (7·sector + i) mod 256. */
export const pattern = (sector: number) => Uint8Array.from({ length: 512 }, (_, i) => (sector * 7 + i) & 0xff);
/** Little-endian 16-bit words of `bytes`, as the data port reads them. */
export const wordsOf = (bytes: Uint8Array) => Array.from({ length: bytes.length / 2 }, (_, i) => bytes[2 * i] | (bytes[2 * i + 1] << 8));
export const removeDir = (dir: string) => fs.rmSync(dir, { recursive: true, force: true });
