// QEMU's IDE for the pc machine (hw/ide/core.c, ioport.c, piix.c): the
// channels' ports as a guest drives them through the I/O address space.
// Ground truth: every IDE access SeaBIOS made in QEMU 7.2 with an 8 MiB disk
// (test/fixtures/qemu-pc/traces/seabios-io-sequence-m128-with-disk.txt),
// replayed value for value, including IDENTIFY DEVICE's 256 words.
import * as fs from 'fs';
import { AtaDisk } from '../../lib/devices/ide/ata-disk';
import { DiskImage, DiskImageError } from '../../lib/devices/ide/disk-image';
import { formatMtree } from '../../lib/memory';
import { fixture } from '../helpers/pc';
import { BMDMA_BASE, ideRig, MiB, pattern, removeDir, sha256, tempImage, wordsOf } from './ide-rig';

interface Access { dir: 'IN' | 'OUT'; port: number; size: number; value: number }

/** The trace's accesses to the IDE ports, in order. */
function traceIdeAccesses(): Access[] {
  const out: Access[] = [];
  for (const line of fixture('traces/seabios-io-sequence-m128-with-disk.txt').split('\n')) {
    const m = /^(IN|OUT) +ide 0x([0-9a-f]+)\.(\d) 0x([0-9a-f]+)$/.exec(line);
    if (m) out.push({ dir: m[1] as 'IN' | 'OUT', port: parseInt(m[2], 16), size: Number(m[3]), value: parseInt(m[4], 16) });
  }
  return out;
}

/** The data words SeaBIOS read after command `cmd` (IDENTIFY 0xec, READ SECTORS 0x20). */
function wordsAfter(accesses: Access[], cmd: number): number[] {
  const at = accesses.findIndex((a) => a.dir === 'OUT' && a.port === 0x1f7 && a.value === cmd);
  return accesses.slice(at + 1).filter((a) => a.port === 0x1f0 && a.size === 2).slice(0, 256).map((a) => a.value);
}

const le16 = (words: number[]) => Uint8Array.from(words.flatMap((w) => [w & 0xff, w >> 8]));

describe('SeaBIOS 1.16.2 on QEMU 7.2 with an 8 MiB raw disk: the trace replayed', () => {
  const accesses = traceIdeAccesses();
  // the image: the boot sector SeaBIOS read in the trace, zeros after it
  const bootSector = le16(wordsAfter(accesses, 0x20));
  const { file, dir } = tempImage(8 * MiB, (s) => (s === 0 ? bootSector : null));
  afterAll(() => removeDir(dir));

  test('every IN of the primary and the empty secondary channel reads what QEMU returned', () => {
    expect(accesses.length).toBeGreaterThan(600);
    const r = ideRig(file);
    try {
      const got: string[] = [];
      const want: string[] = [];
      accesses.forEach((a, i) => {
        if (a.dir === 'OUT') {
          (a.size === 1 ? r.outb : a.size === 2 ? r.outw : r.outl)(a.port, a.value);
          return;
        }
        const v = (a.size === 1 ? r.inb : a.size === 2 ? r.inw : r.inl)(a.port);
        got.push(`${i}: in ${a.port.toString(16)} ${v.toString(16)}`);
        want.push(`${i}: in ${a.port.toString(16)} ${a.value.toString(16)}`);
      });
      expect(got).toEqual(want);
    } finally {
      r.close();
    }
  });

  test("IDENTIFY DEVICE: QEMU's 256 words; SeaBIOS's 'QEMU HARDDISK ATA-7 Hard-Disk (8 MiBytes)', 16/16/63", () => {
    const r = ideRig(file);
    try {
      r.lba28(0, 0, 0xec);
      expect(r.inb(0x1f7)).toBe(0x58);
      const words = r.readSectorWords();
      expect(words).toEqual(wordsAfter(accesses, 0xec));
      expect(r.inb(0x1f7)).toBe(0x50);
      const str = (from: number, n: number) => String.fromCharCode(...words.slice(from, from + n).flatMap((w) => [w >> 8, w & 0xff])).trimEnd();
      const version = 31 - Math.clz32(words[80]); // SeaBIOS ata_extract_version
      const mib = (words[100] + words[101] * 0x10000) * 512 / MiB;
      expect(`${str(27, 20)} ATA-${version} Hard-Disk (${mib} MiBytes)`).toBe('QEMU HARDDISK ATA-7 Hard-Disk (8 MiBytes)');
      expect(fixture('boot-disk/debugcon-timestamped.log')).toContain('ata0-0: QEMU HARDDISK ATA-7 Hard-Disk (8 MiBytes)');
      expect([str(10, 10), str(23, 4)]).toEqual(['QM00001', '2.5+']);
      expect(r.disk?.geometry).toEqual({ cylinders: 16, heads: 16, sectors: 63, translation: 'none' });
      expect(fixture('traces/seabios-io-sequence-m128-with-disk.txt')).toContain('PCHS=16/16/63 translation=none');
    } finally {
      r.close();
    }
  });
});

describe('PIO reads and writes', () => {
  const size = 8 * MiB;
  let img: { file: string; dir: string };
  beforeEach(() => { img = tempImage(size, (s) => (s < 2100 ? pattern(s) : null)); });
  afterEach(() => removeDir(img.dir));

  test('READ SECTORS of LBA 0 and of LBA 1234, by LBA and by CHS (1/3/38), and 3 sectors with an IRQ per block', () => {
    const r = ideRig(img.file);
    try {
      r.lba28(0, 1, 0x20);
      expect(r.inb(0x3f6)).toBe(0x58);
      expect(r.readSectorWords()).toEqual(wordsOf(pattern(0)));
      expect(r.inb(0x1f7)).toBe(0x50);
      r.lba28(1234, 1, 0x20);
      expect(r.readSectorWords()).toEqual(wordsOf(pattern(1234)));
      // CHS: 1234 = (1 * 16 + 3) * 63 + 37
      r.outb(0x1f6, 0xa3);
      r.outb(0x1f2, 1);
      r.outb(0x1f3, 38);
      r.outb(0x1f4, 1);
      r.outb(0x1f5, 0);
      r.outb(0x1f7, 0x20);
      expect(r.readSectorWords()).toEqual(wordsOf(pattern(1234)));
      // the registers then address the next sector, 1/3/39
      expect([r.inb(0x1f3), r.inb(0x1f4), r.inb(0x1f6)]).toEqual([39, 1, 0xa3]);
      r.inb(0x1f7);
      r.levels[14].length = 0;
      r.lba28(2000, 3, 0x20);
      for (const s of [2000, 2001, 2002]) {
        expect(r.primary.irqPending).toBe(true);
        expect(r.inb(0x1f7)).toBe(0x58); // reading the status lowers the IRQ
        expect(r.primary.irqPending).toBe(false);
        const dwords = Array.from({ length: 128 }, () => r.inl(0x1f0)); // 32-bit PIO
        expect(dwords.flatMap((d) => [d & 0xffff, d >>> 16])).toEqual(wordsOf(pattern(s)));
      }
      expect(r.inb(0x1f7)).toBe(0x50);
      expect(r.levels[14]).toEqual([true, false, true, false, true, false]);
    } finally {
      r.close();
    }
  });

  test('WRITE SECTORS, then READ SECTORS gives the data back and the file has it; READ/WRITE MULTIPLE after SET MULTIPLE MODE', () => {
    const r = ideRig(img.file);
    try {
      const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 13 + 5) & 0xff);
      r.lba28(300, 2, 0x30);
      expect(r.inb(0x1f7)).toBe(0x58); // DRQ at once, no IRQ before the first block
      expect(r.primary.irqPending).toBe(false);
      for (const w of wordsOf(data)) r.outw(0x1f0, w);
      expect(r.inb(0x1f7)).toBe(0x50);
      expect(Buffer.from(fs.readFileSync(img.file).subarray(300 * 512, 302 * 512)).equals(Buffer.from(data))).toBe(true);
      r.lba28(300, 2, 0x20);
      expect([...r.readSectorWords(), ...r.readSectorWords()]).toEqual(wordsOf(data));
      // SET MULTIPLE MODE 4, READ MULTIPLE of 8 sectors: 2 blocks of 4 sectors
      r.lba28(0, 4, 0xc6);
      expect(r.inb(0x1f7)).toBe(0x50);
      r.lba28(1000, 8, 0xc4);
      const words: number[] = [];
      while (r.inb(0x3f6) & 0x08) words.push(r.inw(0x1f0));
      expect(words).toEqual(Array.from({ length: 8 }, (_, i) => wordsOf(pattern(1000 + i))).flat());
      r.lba28(0, 3, 0xc6); // not a power of two
      expect([r.inb(0x1f7), r.inb(0x1f1)]).toEqual([0x41, 0x04]);
    } finally {
      r.close();
    }
  });

  test('snapshot=on: the guest reads its writes, the file is untouched (SHA-256)', () => {
    const before = sha256(img.file);
    const r = ideRig(img.file, { snapshot: true });
    try {
      r.lba28(5, 1, 0x30);
      for (let i = 0; i < 256; i++) r.outw(0x1f0, 0xbeef);
      expect(r.inb(0x1f7)).toBe(0x50);
      r.lba28(5, 1, 0x20);
      expect(r.readSectorWords()).toEqual(new Array(256).fill(0xbeef));
    } finally {
      r.close();
    }
    expect(sha256(img.file)).toBe(before);
  });

  test('readonly: a write ends in ABRT with an IRQ, the file is untouched', () => {
    const before = sha256(img.file);
    const r = ideRig(img.file, { readonly: true });
    try {
      r.lba28(5, 1, 0x30);
      for (let i = 0; i < 256; i++) r.outw(0x1f0, 0x1234);
      expect([r.inb(0x1f7), r.inb(0x1f1)]).toEqual([0x41, 0x04]);
      expect(r.levels[14]).toEqual([true, false]);
      r.lba28(5, 1, 0x20); // reads still work
      expect(r.readSectorWords()).toEqual(wordsOf(pattern(5)));
    } finally {
      r.close();
    }
    expect(sha256(img.file)).toBe(before);
  });

  test('nIEN masks the IRQ; the alternate status does not lower it, the status register does', () => {
    const r = ideRig(img.file);
    try {
      r.outb(0x3f6, 0x02);
      r.lba28(1, 1, 0x20);
      expect(r.inb(0x3f6)).toBe(0x58);
      expect(r.levels[14]).toEqual([]);
      r.readSectorWords();
      r.outb(0x3f6, 0x00);
      r.lba28(1, 1, 0x20);
      expect(r.levels[14]).toEqual([true]);
      expect(r.bmdma.channels[0].status & 0x04).toBe(0x04); // the BMDMA's interrupt bit follows
      r.inb(0x3f6);
      expect(r.primary.irqPending).toBe(true);
      r.inb(0x1f7);
      expect(r.levels[14]).toEqual([true, false]);
    } finally {
      r.close();
    }
  });
});

test('LBA48 beyond 2^28: READ/WRITE SECTORS EXT with the HOB registers; IDENTIFY words 60-61 and 100-103', () => {
  const sectors = 2 ** 28 + 64;
  const { file, dir } = tempImage(sectors * 512); // sparse
  const r = ideRig(file);
  try {
    r.lba28(0, 0, 0xec);
    const id = r.readSectorWords();
    expect(id.slice(60, 62)).toEqual([0x0040, 0x1000]);
    expect(id.slice(100, 104)).toEqual([0x0040, 0x1000, 0, 0]);
    const lba = 2 ** 28 + 17;
    const ext = (command: number) => {
      r.outb(0x1f6, 0x40);
      for (const [port, hi, lo] of [[0x1f2, 0, 1], [0x1f3, (lba / 2 ** 24) & 0xff, lba & 0xff], [0x1f4, 0, (lba >> 8) & 0xff], [0x1f5, 0, (lba >> 16) & 0xff]]) {
        r.outb(port, hi);
        r.outb(port, lo);
      }
      r.outb(0x1f7, command);
    };
    ext(0x34);
    for (let i = 0; i < 256; i++) r.outw(0x1f0, 0xa000 + i);
    expect(r.inb(0x1f7)).toBe(0x50);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4);
    fs.readSync(fd, buf, 0, 4, lba * 512);
    fs.closeSync(fd);
    expect([...buf]).toEqual([0x00, 0xa0, 0x01, 0xa0]);
    ext(0x24);
    expect(r.readSectorWords()).toEqual(Array.from({ length: 256 }, (_, i) => 0xa000 + i));
    // HOB set: the registers' previous bytes, the high half of the next LBA
    r.outb(0x3f6, 0x80);
    expect(r.inb(0x1f3)).toBe(0x10);
    r.outb(0x3f6, 0x00);
    expect(r.inb(0x1f3)).toBe(0x12);
    // past the end: ABRT
    r.lba28(0, 0, 0xec);
    r.readSectorWords();
    r.outb(0x1f6, 0x40);
    for (const port of [0x1f2, 0x1f3, 0x1f4, 0x1f5]) { r.outb(port, port === 0x1f2 ? 0 : 0x20); r.outb(port, port === 0x1f2 ? 1 : 0); }
    r.outb(0x1f7, 0x24);
    expect([r.inb(0x1f7), r.inb(0x1f1)]).toEqual([0x41, 0x04]);
  } finally {
    r.close();
    removeDir(dir);
  }
});

describe('bad guest input never throws', () => {
  const { file, dir } = tempImage(1 * MiB);
  afterAll(() => removeDir(dir));

  test('unknown, ATAPI, SMART and TRIM commands abort with an IRQ; commands to the absent device 1 are ignored', () => {
    const r = ideRig(file);
    try {
      for (const cmd of [0x00, 0x08, 0xa0, 0xa1, 0xb0, 0xff, 0x06]) {
        r.outb(0x1f6, 0xa0);
        r.outb(0x1f7, cmd);
        expect([cmd, r.inb(0x1f7), r.inb(0x1f1)]).toEqual([cmd, 0x41, 0x04]);
      }
      r.outb(0x1f6, 0xb0);
      r.outb(0x1f7, 0xec);
      expect(r.inb(0x1f7)).toBe(0x00);
      expect(r.inb(0x1f6)).toBe(0xb0);
      r.outb(0x1f6, 0xa0);
      expect(r.inb(0x1f7)).toBe(0x41); // the master still shows its last command's result
      // CHS sector 0 and past-the-end LBAs abort
      r.outb(0x1f6, 0xa0);
      r.outb(0x1f3, 0);
      r.outb(0x1f2, 1);
      r.outb(0x1f7, 0x20);
      expect(r.inb(0x1f7)).toBe(0x41);
      r.lba28(0x0ffffff, 1, 0x20);
      expect(r.inb(0x1f7)).toBe(0x41);
    } finally {
      r.close();
    }
  });

  test('data port without DRQ reads 0, writes are dropped; odd widths and offsets; the empty channel reads 0', () => {
    const before = sha256(file);
    const r = ideRig(file);
    try {
      expect([r.inw(0x1f0), r.inl(0x1f0), r.inb(0x1f0)]).toEqual([0, 0, 0]);
      r.outw(0x1f0, 0x1234);
      r.outl(0x1f0, 0x12345678);
      expect(r.inl(0x1f4)).toBe(0xffffffff); // a dword at a register port: all ones
      r.outl(0x1f2, 0x11223344); // and dropped
      expect(r.inb(0x1f2)).toBe(0x00);
      r.outw(0x1f2, 0x0201); // a word is two byte writes: count 1, sector 2
      expect(r.inw(0x1f2)).toBe(0x0201);
      expect(r.inw(0x1f7) & 0xff).toBe(0x50);
      expect(r.io.read(0x1f5, 3).data.length).toBe(3);
      expect(r.inw(0x3f6)).toBe(0xff50 & 0xffff);
      expect([r.inb(0x177), r.inb(0x176), r.inb(0x172), r.inb(0x376), r.inw(0x170)]).toEqual([0, 0, 0, 0, 0]);
      r.outb(0x177, 0xec);
      expect(r.inb(0x177)).toBe(0);
      // a read of a data block, stopped half-way by a new command: the command is ignored while DRQ is set
      r.lba28(0, 1, 0x20);
      r.inw(0x1f0);
      r.outb(0x1f7, 0xec);
      expect(r.inb(0x1f7)).toBe(0x58);
      expect(r.readSectorWords().length).toBe(256);
      expect(r.inb(0x1f7)).toBe(0x50);
      expect(r.inw(0x1f0)).toBe(0);
    } finally {
      r.close();
    }
    expect(sha256(file)).toBe(before);
  });

  test('an image closed under the channel (or failing): READ, WRITE, FLUSH and DMA end in ABRT, nothing throws', () => {
    const r = ideRig(file);
    try {
      r.image!.close();
      r.lba28(0, 1, 0x20);
      expect([r.inb(0x1f7), r.inb(0x1f1)]).toEqual([0x41, 0x04]);
      r.lba28(0, 1, 0x30);
      for (let i = 0; i < 256; i++) r.outw(0x1f0, 0);
      expect([r.inb(0x1f7), r.inb(0x1f1)]).toEqual([0x41, 0x04]);
      r.lba28(0, 0, 0xe7);
      expect(r.inb(0x1f7)).toBe(0x41);
      r.outl(BMDMA_BASE + 4, 0x1000);
      new DataView(r.ram.buffer).setUint32(0x1004, 0x80000200, true);
      r.outb(BMDMA_BASE, 0x09);
      r.lba28(0, 1, 0xc8);
      expect(r.inb(0x1f7)).toBe(0x41);
    } finally {
      r.close();
    }
  });

  test('SRST: both positions reset with the disk signature (count 1, sector 1, cylinder 0, error 0x01), no IRQ under nIEN', () => {
    const r = ideRig(file);
    try {
      r.lba28(0, 1, 0x20); // a transfer in progress is dropped
      r.outb(0x3f6, 0x06);
      r.outb(0x3f6, 0x02);
      expect([r.inb(0x1f7), r.inb(0x1f1), r.inb(0x1f2), r.inb(0x1f3), r.inb(0x1f4), r.inb(0x1f5), r.inb(0x1f6)]).toEqual([0x50, 0x01, 1, 1, 0, 0, 0xa0]);
      expect(r.inw(0x1f0)).toBe(0);
      r.outb(0x1f6, 0xb0);
      expect([r.inb(0x1f4), r.inb(0x1f5)]).toEqual([0xff, 0xff]); // nothing at device 1
      expect(r.levels[14]).toEqual([true, false]);
    } finally {
      r.close();
    }
  });
});

describe('the devices as QEMU shows them', () => {
  test("the ports' regions, the BMDMA BAR tree, BMDMA register semantics", () => {
    const { file, dir } = tempImage(1 * MiB);
    const r = ideRig(file);
    try {
      const lines = (text: string) => text.split('\n').filter((l) => /: (ide|piix-bmdma|bmdma)/.test(l)).map((l) => l.trim());
      expect(lines(formatMtree([r.io]))).toEqual(lines(fixture('m128/post/io-tree.txt')));
      const bm = BMDMA_BASE;
      r.outl(bm + 4, 0x12345677);
      expect(r.inl(bm + 4)).toBe(0x12345674);
      r.outw(bm + 6, 0xabcd);
      expect([r.inl(bm + 4), r.inb(bm + 7)]).toEqual([0xabcd5674, 0xab]);
      r.outb(bm + 2, 0x66); // drive 0/1 DMA capable; error/interrupt bits are write-1-to-clear
      expect(r.inb(bm + 2)).toBe(0x60);
      r.outb(bm, 0x09);
      expect([r.inb(bm), r.inb(bm + 2)]).toEqual([0x09, 0x61]);
      r.outb(bm, 0x00);
      expect([r.inb(bm), r.inb(bm + 2), r.inw(bm), r.inb(bm + 1)]).toEqual([0x00, 0x60, 0xffff, 0xff]);
      expect(r.inb(bm + 8 + 2)).toBe(0);
    } finally {
      r.close();
      removeDir(dir);
    }
  });
});

describe('DiskImage', () => {
  test("a missing file: QEMU's message", () => {
    expect(() => new DiskImage('/nonexistent/x.img')).toThrow(new DiskImageError("Could not open '/nonexistent/x.img': No such file or directory", 'ENOENT'));
    expect(() => new DiskImage('/nonexistent/x.img')).toThrow(DiskImageError);
  });

  test('a size that is not a multiple of 512 rounds up; the tail reads as zeros; bad calls are typed errors', () => {
    const { file, dir } = tempImage(1000, (s) => (s === 0 ? new Uint8Array(1000).fill(0x11) : null));
    try {
      const img = new DiskImage(file);
      expect(img.sectorCount).toBe(2);
      const s1 = img.read(1, 1);
      expect([s1[487], s1[488], s1[511]]).toEqual([0x11, 0, 0]);
      expect(() => img.read(2, 1)).toThrow(RangeError);
      expect(() => img.write(0, new Uint8Array(100))).toThrow(TypeError);
      expect(() => new AtaDisk(img, { serial: 'x'.repeat(21) })).toThrow(TypeError);
      expect(() => new DiskImage(file, { snapshot: 'yes' as unknown as boolean })).toThrow(TypeError);
      img.close();
      expect(() => img.read(0, 1)).toThrow(DiskImageError);
      img.close();
    } finally {
      removeDir(dir);
    }
  });
});
