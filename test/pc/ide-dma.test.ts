// QEMU's IDE beyond PIO: bus-master DMA through the PIIX BMDMA's PRD table
// (hw/ide/pci.c bmdma_prepare_buf, hw/ide/core.c ide_dma_cb) and the
// channel's snapshot state.
import * as fs from 'fs';
import { stateFromJson, stateToJson } from '../../lib/snapshot/device-state';
import { BMDMA_BASE, ideRig, MiB, pattern, removeDir, sha256, tempImage, wordsOf } from './ide-rig';


describe('bus-master DMA through the PRD table (PIIX BMDMA)', () => {
  let img: { file: string; dir: string };
  beforeEach(() => { img = tempImage(1 * MiB, (s) => (s < 64 ? pattern(s) : null)); });
  afterEach(() => removeDir(img.dir));
  const bm = BMDMA_BASE;
  /** PRD entries at 0x1000: [address, byte count], the last one with end-of-table. */
  const prdTable = (r: ReturnType<typeof ideRig>, entries: [number, number][]) => {
    const view = new DataView(r.ram.buffer);
    entries.forEach(([addr, len], i) => {
      view.setUint32(0x1000 + 8 * i, addr, true);
      view.setUint32(0x1000 + 8 * i + 4, (len & 0xffff) | (i === entries.length - 1 ? 0x80000000 : 0), true);
    });
    r.outl(bm + 4, 0x1000);
  };

  test('READ DMA: command first, START after it; the sectors land in the PRD buffers; IRQ, INT set, active clear', () => {
    const r = ideRig(img.file);
    try {
      r.outb(bm + 2, 0x06); // clear INT and error
      prdTable(r, [[0x10000, 512], [0x20000, 1024]]);
      r.lba28(10, 3, 0xc8);
      expect([r.inb(0x3f6), r.primary.irqPending]).toEqual([0x58, false]);
      r.outb(bm, 0x09); // START, to memory
      expect(Buffer.from(r.ram.subarray(0x10000, 0x10200)).equals(Buffer.from(pattern(10)))).toBe(true);
      expect(Buffer.from(r.ram.subarray(0x20000, 0x20400)).equals(Buffer.from([...pattern(11), ...pattern(12)]))).toBe(true);
      expect([r.inb(bm + 2), r.primary.irqPending]).toEqual([0x04, true]);
      expect(r.inb(0x1f7)).toBe(0x50);
      expect([r.inb(0x1f3), r.inb(0x1f2)]).toEqual([13, 0]); // the registers point past the transfer
      r.outb(bm, 0x00);
      r.outb(bm + 2, 0x04); // write 1 to clear INT
      expect(r.inb(bm + 2)).toBe(0x00);
    } finally {
      r.close();
    }
  });

  test('WRITE DMA with the engine already started; READ DMA EXT reads it back; a 64 KiB PRD (count 0)', () => {
    const r = ideRig(img.file);
    try {
      r.ram.set(Uint8Array.from({ length: 1024 }, (_, i) => (i * 3) & 0xff), 0x30000);
      prdTable(r, [[0x30000, 1024]]);
      r.outb(bm, 0x01);
      r.lba28(40, 2, 0xca);
      expect([r.inb(0x1f7), r.inb(bm + 2)]).toEqual([0x50, 0x04]);
      expect(Buffer.from(fs.readFileSync(img.file).subarray(40 * 512, 42 * 512)).equals(Buffer.from(r.ram.subarray(0x30000, 0x30400)))).toBe(true);
      r.outb(bm, 0x00);
      prdTable(r, [[0x40000, 0]]); // 0 = 64 KiB, longer than 2 sectors: the engine stays active
      r.outb(0x1f6, 0x40);
      for (const [port, hi, lo] of [[0x1f2, 0, 2], [0x1f3, 0, 40], [0x1f4, 0, 0], [0x1f5, 0, 0]]) { r.outb(port, hi); r.outb(port, lo); }
      r.outb(0x1f7, 0x25);
      r.outb(bm, 0x09);
      expect(Buffer.from(r.ram.subarray(0x40000, 0x40400)).equals(Buffer.from(r.ram.subarray(0x30000, 0x30400)))).toBe(true);
      expect([r.inb(0x1f7), r.inb(bm + 2)]).toEqual([0x50, 0x05]);
    } finally {
      r.close();
    }
  });

  test('a PRD table shorter than the transfer: the engine stops without an interrupt; readonly WRITE DMA aborts', () => {
    const r = ideRig(img.file);
    try {
      prdTable(r, [[0x10000, 512]]);
      r.lba28(0, 2, 0xc8);
      r.outb(bm, 0x09);
      expect([r.inb(0x3f6), r.inb(bm + 2), r.primary.irqPending]).toEqual([0x50, 0x00, false]);
      r.outb(bm, 0x00);
    } finally {
      r.close();
    }
    const before = sha256(img.file);
    const ro = ideRig(img.file, { readonly: true });
    try {
      prdTable(ro, [[0x10000, 512]]);
      ro.outb(bm, 0x01);
      ro.lba28(0, 1, 0xca);
      expect([ro.inb(0x1f7), ro.inb(0x1f1), ro.inb(bm + 2)]).toEqual([0x41, 0x04, 0x04]);
    } finally {
      ro.close();
    }
    expect(sha256(img.file)).toBe(before);
  });
});

test('snapshot state: a READ stopped mid-sector continues on another channel after the file encoding; bad states change nothing', () => {
  const { file, dir } = tempImage(1 * MiB, (s) => (s < 8 ? pattern(s) : null));
  const a = ideRig(file);
  const b = ideRig(file);
  try {
    a.outb(0x1f6, 0xa0);
    a.outb(0x1f1, 0x03);
    a.outb(0x1f2, 0x44); // UDMA 4 selected in the IDENTIFY data
    a.outb(0x1f7, 0xef);
    a.lba28(2, 3, 0x20);
    const head = Array.from({ length: 100 }, () => a.inw(0x1f0));
    const saved = stateFromJson(JSON.parse(JSON.stringify(stateToJson(a.primary.saveState()))));
    expect(a.primary.snapshotName).toBe('ide.0');
    expect(b.secondary.snapshotName).toBe('ide.1');
    b.primary.loadState(saved);
    expect(b.primary.irqPending).toBe(true);
    const rest = [...Array.from({ length: 156 }, () => b.inw(0x1f0)), ...b.readSectorWords(), ...b.readSectorWords()];
    expect([...head, ...rest]).toEqual([2, 3, 4].flatMap((s) => wordsOf(pattern(s))));
    expect(b.inb(0x1f7)).toBe(0x50);
    b.lba28(0, 0, 0xec);
    expect(b.readSectorWords()[88]).toBe(0x103f);
    const before = JSON.stringify(stateToJson(b.primary.saveState()));
    const bad = (patch: Record<string, unknown>) => ({ ...(saved as Record<string, unknown>), ...patch }) as never;
    const unit1 = (saved as { units: Record<string, unknown>[] }).units[1];
    expect(() => b.primary.loadState(bad({ unit: 2 }))).toThrow(RangeError);
    expect(() => b.primary.loadState(bad({ units: [(saved as { units: unknown[] }).units[0], { ...unit1, endTransfer: 'x' }] }))).toThrow(TypeError);
    expect(() => b.primary.loadState(bad({ units: [{ ...unit1 }, unit1] }))).toThrow(TypeError); // no disk in that state
    expect(() => b.secondary.loadState(saved)).toThrow(TypeError); // a disk where the secondary has none
    expect(JSON.stringify(stateToJson(b.primary.saveState()))).toBe(before);
  } finally {
    a.close();
    b.close();
    removeDir(dir);
  }
});
