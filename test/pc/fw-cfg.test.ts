// fw_cfg against QEMU 7.2's bytes: every item SeaBIOS read at -m 128
// (test/fixtures/qemu-pc/fwcfg, captured with DMA disabled, so ID = 1) comes
// out of the port interface and out of DMA byte for byte; then the rules of
// hw/nvram/fw_cfg.c for what the fixture does not show, and bad guest input.
import * as fs from 'fs';
import * as path from 'path';
import { FwCfgDmaControl, FW_CFG_DMA_SIGNATURE } from '../../lib/devices/fw-cfg-dma';
import { FwCfgIo, FwCfgKey } from '../../lib/devices/fw-cfg';
import { MemTxResult } from '../../lib/memory';
import { addPcFwCfgItems, pcFwCfgMachineReset } from '../../lib/machines/pc/fw-cfg-items';
import { addPcItemsM128, FIXTURES, fixtureItems, fwCfgRig, RAM_SIZE } from './fw-cfg-rig';

const DESC = 0x1000; // FWCfgDmaAccess in RAM
const BUF = 0x2000; // where DMA reads land

type Rig = ReturnType<typeof fwCfgRig>;

/** Builds a FWCfgDmaAccess at `at`, starts it as SeaBIOS does (only the low half, at 0x518), returns the control word after. */
function dma(r: Rig, control: number, length: number, address: bigint, at = DESC, highHalf?: number): number {
  const d = new Uint8Array(16);
  const v = new DataView(d.buffer);
  v.setUint32(0, control >>> 0, false);
  v.setUint32(4, length >>> 0, false);
  v.setBigUint64(8, address, false);
  expect(r.memory.write(at, d)).toBe(MemTxResult.OK);
  if (highHalf !== undefined) r.outlBe(0x514, highHalf);
  r.outlBe(0x518, at);
  return new DataView(r.memory.read(at, 4).data.buffer).getUint32(0, false);
}

const ramBytes = (r: Rig, at: number, len: number) => r.memory.read(at, len).data;

describe('fw_cfg at -m 128: QEMU 7.2 bytes through the port interface', () => {
  test('each captured item, selected with outw 0x510 and read from 0x511 (DMA off: ID = 1, as captured)', () => {
    const r = fwCfgRig({ dma: false });
    try {
      addPcItemsM128(r.fw);
      expect(r.fw.dmaRegion).toBeNull();
      for (const item of fixtureItems()) {
        expect({ key: item.key, bytes: Array.from(r.readItem(item.key, item.bytes.length)) })
          .toEqual({ key: item.key, bytes: Array.from(item.bytes) });
      }
    } finally {
      r.close();
    }
  });

  test('the same items with DMA on, except ID = 3 (traditional | DMA)', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      for (const item of fixtureItems()) {
        const want = item.key === FwCfgKey.ID ? [3, 0, 0, 0] : Array.from(item.bytes);
        expect({ key: item.key, bytes: Array.from(r.readItem(item.key, item.bytes.length)) }).toEqual({ key: item.key, bytes: want });
      }
    } finally {
      r.close();
    }
  });

  test("SeaBIOS's read order of fixtures/README.txt replays: selects reset the offset, both FILE_DIR reads are prefixes", () => {
    const readme = fs.readFileSync(path.join(FIXTURES, 'README.txt'), 'utf8');
    const order = [...readme.matchAll(/^\s+\d+\s+0x([0-9a-f]{4})\s+(\S+)\s+(\d+)$/gm)].map((m) => ({ key: parseInt(m[1], 16), name: m[2], len: Number(m[3]) }));
    expect(order).toHaveLength(22);
    const captured = new Map(fixtureItems().map((i) => [`${i.key}/${i.bytes.length}`, i.bytes]));
    const r = fwCfgRig({ dma: false });
    try {
      addPcItemsM128(r.fw);
      let compared = 0;
      for (const { key, len } of order) {
        const got = r.readItem(key, len);
        const want = captured.get(`${key}/${len}`);
        if (want) {
          expect(Array.from(got)).toEqual(Array.from(want));
          compared++;
        } else if (key === FwCfgKey.ACPI_TABLES || key === FwCfgKey.SMBIOS_ENTRIES) {
          expect(Array.from(got)).toEqual([0, 0]); // empty in QEMU: a count of 0
        }
      }
      expect(compared).toBe(14); // the rest: a 0-byte read, the two empty legacy keys, ACPI/SMBIOS contents (not captured)
      // The 388-byte read stopped at etc/e820 (count + 6 entries); the 708-byte one is the whole list (11).
      expect(388).toBe(4 + 6 * 64);
      expect(708).toBe(4 + 11 * 64);
    } finally {
      r.close();
    }
  });

  test('FILE_DIR is the 2052-byte item of 0x20 slots; files are in strcmp order with selectors 0x20 + index', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      const dir = r.fw.item(FwCfgKey.FILE_DIR)!;
      expect(dir.length).toBe(4 + 0x20 * 64);
      const want = fs.readFileSync(path.join(FIXTURES, '0019_file_dir_708.bin'));
      expect(Buffer.from(dir.subarray(0, 708)).equals(want)).toBe(true);
      expect(dir.subarray(708).every((b) => b === 0)).toBe(true);
      expect(r.fw.fileSelector('etc/e820')).toBe(0x25);
      expect(r.fw.fileSelector('etc/boot-fail-wait')).toBe(0x24);
      expect(r.fw.fileSelector('etc/sercon-port')).toBeUndefined();
    } finally {
      r.close();
    }
  });
});

describe('fw_cfg at -m 128: the same bytes by DMA', () => {
  test('SELECT|READ of each captured item: RAM receives exactly its bytes, control is cleared', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      for (const item of fixtureItems()) {
        const want = item.key === FwCfgKey.ID ? Uint8Array.of(3, 0, 0, 0) : item.bytes;
        r.memory.write(BUF, new Uint8Array(item.bytes.length + 16).fill(0xee));
        const control = dma(r, (item.key << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.READ, want.length, BigInt(BUF));
        expect({ key: item.key, control }).toEqual({ key: item.key, control: 0 });
        expect(Array.from(ramBytes(r, BUF, want.length))).toEqual(Array.from(want));
        expect(ramBytes(r, BUF + want.length, 16).every((b) => b === 0xee)).toBe(true); // nothing beyond the length
      }
    } finally {
      r.close();
    }
  });

  test('FILE_DIR entry by entry as SeaBIOS reads it: count, then READ-only continuations of 64 bytes', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      const want = fs.readFileSync(path.join(FIXTURES, '0019_file_dir_388.bin'));
      expect(dma(r, (FwCfgKey.FILE_DIR << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.READ, 4, BigInt(BUF))).toBe(0);
      for (let i = 0; i < 6; i++) expect(dma(r, FwCfgDmaControl.READ, 64, BigInt(BUF + 4 + 64 * i))).toBe(0);
      expect(Buffer.from(ramBytes(r, BUF, 388)).equals(want)).toBe(true);
    } finally {
      r.close();
    }
  });

  test('SKIP advances the offset; reads past the end are zero-filled; a 64-bit write at 0x514 and the high half work too', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      // etc/e820 = 60 bytes: skip the first entry, read 40 more and 20 past the end.
      expect(dma(r, (0x25 << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.SKIP, 20, 0n)).toBe(0);
      r.memory.write(BUF, new Uint8Array(60).fill(0xee));
      expect(dma(r, FwCfgDmaControl.READ, 60, BigInt(BUF))).toBe(0);
      const e820 = fs.readFileSync(path.join(FIXTURES, '0025_etc_e820_60.bin'));
      expect(Buffer.from(ramBytes(r, BUF, 40)).equals(e820.subarray(20))).toBe(true);
      expect(ramBytes(r, BUF + 40, 20).every((b) => b === 0)).toBe(true);
      // 64-bit access: one write of the whole address
      const d = new Uint8Array(16);
      new DataView(d.buffer).setUint32(0, (FwCfgKey.SIGNATURE << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.READ, false);
      new DataView(d.buffer).setUint32(4, 4, false);
      new DataView(d.buffer).setBigUint64(8, BigInt(BUF + 0x100), false);
      r.memory.write(DESC, d);
      const addr = new Uint8Array(8);
      new DataView(addr.buffer).setBigUint64(0, BigInt(DESC), false);
      expect(r.io.write(0x514, addr)).toBe(MemTxResult.OK);
      expect(Buffer.from(ramBytes(r, BUF + 0x100, 4)).toString()).toBe('QEMU');
      // a descriptor above 4 GiB needs the high half: nothing is there, so nothing is written and nothing throws
      expect(() => dma(r, FwCfgDmaControl.READ, 4, BigInt(BUF), DESC, 1)).not.toThrow();
    } finally {
      r.close();
    }
  });

  test('reads of the DMA register return "QEMU CFG" at every size; neither flag means length 0', () => {
    const r = fwCfgRig();
    try {
      expect(Buffer.from(r.io.read(0x514, 8).data).toString()).toBe('QEMU CFG');
      expect(Buffer.from(r.io.read(0x514, 4).data).toString() + Buffer.from(r.io.read(0x518, 4).data).toString()).toBe('QEMU CFG');
      expect(Array.from({ length: 8 }, (_, i) => r.inb(0x514 + i))).toEqual(Array.from(Buffer.from('QEMU CFG')));
      expect(FW_CFG_DMA_SIGNATURE).toBe(0x51454d5520434647n);
      r.memory.write(BUF, [0xee]);
      expect(dma(r, (FwCfgKey.SIGNATURE << 16) | FwCfgDmaControl.SELECT, 4, BigInt(BUF))).toBe(0);
      expect(ramBytes(r, BUF, 1)[0]).toBe(0xee);
    } finally {
      r.close();
    }
  });
});

describe('fw_cfg: bad guest input is answered as QEMU answers it, never with an exception', () => {
  test('an unknown or out-of-table selector reads 0 by port and zero-fills by DMA; bit 14 is masked off', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      expect(Array.from(r.readItem(0x1a, 4))).toEqual([0, 0, 0, 0]); // in the table, nothing there
      expect(Array.from(r.readItem(0x3f, 4))).toEqual([0, 0, 0, 0]); // past the files
      expect(Array.from(r.readItem(0x8003, 4))).toEqual([0, 0, 0, 0]); // E820_TABLE: not in QEMU 7.2
      expect(Array.from(r.readItem(0xffff, 4))).toEqual([0, 0, 0, 0]);
      expect(Buffer.from(r.readItem(0x4000, 4)).toString()).toBe('QEMU'); // FW_CFG_WRITE_CHANNEL | SIGNATURE
      r.memory.write(BUF, [1, 2, 3, 4]);
      expect(dma(r, (0x7fff << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.READ, 4, BigInt(BUF))).toBe(0);
      expect(Array.from(ramBytes(r, BUF, 4))).toEqual([0, 0, 0, 0]);
    } finally {
      r.close();
    }
  });

  test('DMA into unassigned memory, or WRITE to an item, sets ERROR; a descriptor in unassigned memory is left alone', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      const sel = (FwCfgKey.SIGNATURE << 16) | FwCfgDmaControl.SELECT;
      expect(dma(r, sel | FwCfgDmaControl.READ, 4, BigInt(RAM_SIZE + 0x1000))).toBe(FwCfgDmaControl.ERROR);
      expect(dma(r, sel | FwCfgDmaControl.READ, 4, BigInt(RAM_SIZE - 2))).toBe(FwCfgDmaControl.ERROR); // straddles the end
      expect(dma(r, sel | FwCfgDmaControl.WRITE, 4, BigInt(BUF))).toBe(FwCfgDmaControl.ERROR);
      expect(dma(r, sel | FwCfgDmaControl.WRITE, 4, BigInt(BUF), DESC)).toBe(FwCfgDmaControl.ERROR);
      // past the end of the item: reads zero-fill into unassigned memory -> ERROR
      expect(dma(r, sel | FwCfgDmaControl.READ, 0x10000, BigInt(RAM_SIZE - 0x100))).toBe(FwCfgDmaControl.ERROR);
      expect(() => r.outlBe(0x518, 0xfff00000)).not.toThrow(); // descriptor in nothing: ERROR goes nowhere
      // a huge length past the end of an item is fine: the first chunk beyond RAM stops it
      expect(dma(r, (0x1a << 16) | FwCfgDmaControl.SELECT | FwCfgDmaControl.READ, 0xffffffff, 0n)).toBe(FwCfgDmaControl.ERROR);
      // a length near 2^32 at the top of the 64-bit space wraps without throwing
      expect(dma(r, sel | FwCfgDmaControl.READ, 0xffffffff, 0xfffffffffffffff0n)).toBe(FwCfgDmaControl.ERROR);
    } finally {
      r.close();
    }
  });

  test('invalid accesses are rejected by the region rules (QEMU valid.accepts): no select, no transfer', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      r.outw(0x510, FwCfgKey.NB_CPUS);
      expect(r.io.read(0x510, 2)).toEqual({ data: Uint8Array.of(0, 0), result: MemTxResult.DECODE_ERROR });
      expect(r.io.write(0x510, [0x19, 0, 0, 0])).toBe(MemTxResult.DECODE_ERROR); // 32-bit write
      expect(r.io.write(0x511, [0x19])).toBe(MemTxResult.OK); // byte write: ignored
      expect(r.inb(0x510)).toBe(1); // data is readable at either port; still NB_CPUS
      expect(r.io.write(0x514, [0, 0])).toBe(MemTxResult.DECODE_ERROR);
      expect(r.io.write(0x516, [0, 0, 0, 0])).toBe(MemTxResult.DECODE_ERROR);
      expect(r.inb(0x511)).toBe(0);
    } finally {
      r.close();
    }
  });
});

describe('fw_cfg items, files and state', () => {
  test('files are inserted in strcmp order whatever the order of adding; later files move up a selector', () => {
    const fw = new FwCfgIo({ dmaAddressSpace: null });
    try {
      fw.addFile('etc/b', Uint8Array.of(2));
      expect(fw.fileSelector('etc/b')).toBe(0x20);
      fw.addFile('etc/a', Uint8Array.of(1, 1));
      fw.addFile('Z', Uint8Array.of(3)); // 'Z' < 'e' in bytes
      expect(['Z', 'etc/a', 'etc/b'].map((n) => fw.fileSelector(n))).toEqual([0x20, 0x21, 0x22]);
      expect(Array.from(fw.item(0x22)!)).toEqual([2]);
      fw.modifyFile('etc/a', Uint8Array.of(9));
      expect(fw.fileSelector('etc/a')).toBe(0x21);
      const dir = fw.item(FwCfgKey.FILE_DIR)!;
      expect(Array.from(dir.subarray(0, 4))).toEqual([0, 0, 0, 3]);
      expect(Array.from(dir.subarray(4 + 64, 4 + 64 + 8))).toEqual([0, 0, 0, 1, 0, 0x21, 0, 0]);
      expect(() => fw.addFile('etc/a', new Uint8Array(0))).toThrow(new RangeError('duplicate fw_cfg file name: etc/a'));
      expect(() => fw.addFile('x'.repeat(56), new Uint8Array(0))).toThrow(RangeError);
      expect(() => fw.addFile('etc/c', [1] as never)).toThrow(TypeError);
      expect(() => fw.addBytes(FwCfgKey.SIGNATURE, new Uint8Array(1))).toThrow(/already set/);
      expect(() => fw.addBytes(0x20, new Uint8Array(1))).toThrow(/file selector/);
      expect(() => fw.addBytes(0x40, new Uint8Array(1))).toThrow(/out of range/);
      for (let i = 3; i < 0x20; i++) fw.addFile(`a${i}`, new Uint8Array(0)); // all sort before 'etc/'
      expect(() => fw.addFile('one-too-many', new Uint8Array(0))).toThrow(/no free file slot/);
      expect(fw.fileSelector('etc/b')).toBe(0x20 + 0x1f);
    } finally {
      fw.close();
    }
  });

  test('reset selects the signature; saveState/loadState carry the selection and offset; bad state changes nothing', () => {
    const r = fwCfgRig();
    try {
      addPcItemsM128(r.fw);
      r.outw(0x510, 0x25);
      r.inb(0x511);
      r.inb(0x511);
      const saved = r.fw.saveState();
      expect(saved).toEqual({ curEntry: 0x25, curOffset: 2, dmaAddress: 0n });
      r.fw.reset();
      expect(r.inb(0x511)).toBe(0x51); // 'Q'
      expect(() => r.fw.loadState({ curEntry: 0x25, curOffset: -1, dmaAddress: 0n })).toThrow(RangeError);
      expect(() => r.fw.loadState({ curEntry: 0x25, curOffset: 2, dmaAddress: 5 })).toThrow(TypeError);
      expect(r.inb(0x511)).toBe(0x45); // unchanged: 'E'
      r.fw.loadState(saved);
      expect(r.inb(0x511)).toBe(0xff); // third byte of the first e820 entry (0xfeffc000)
      // a half-written DMA address (high half only) is state too
      r.outlBe(0x514, 0x12);
      expect((r.fw.saveState() as { dmaAddress: bigint }).dmaAddress).toBe(0x12n << 32n);
    } finally {
      r.close();
    }
  });

  test('the pc list follows the command line: -smp 4, -m 5G, -nographic, -boot menu=on,reboot-timeout=1000', () => {
    const fw = new FwCfgIo({ dmaAddressSpace: null });
    try {
      addPcFwCfgItems(fw, {
        ramSize: 5n << 30n, ramSplit: { below4g: 3n << 30n, above4g: 2n << 30n }, bootCpus: 4,
        nographic: true, bootMenu: true, rebootTimeout: 1000, amdHyperTransportHole: true,
      });
      pcFwCfgMachineReset(fw, ['/pci@i0cf8/ide@1,1/drive@0/disk@0', '/rom@genroms/linuxboot.bin'], true);
      const item = (k: number) => Array.from(fw.item(k)!);
      expect(item(FwCfgKey.NB_CPUS)).toEqual([4, 0]);
      expect(item(FwCfgKey.MAX_CPUS)).toEqual([4, 0]);
      expect(item(FwCfgKey.NOGRAPHIC)).toEqual([1, 0]);
      expect(item(FwCfgKey.BOOT_MENU)).toEqual([1, 0]);
      expect(item(FwCfgKey.RAM_SIZE)).toEqual([0, 0, 0, 0x40, 1, 0, 0, 0]);
      expect(item(FwCfgKey.NUMA)).toEqual(new Array(5 * 8).fill(0));
      expect(item(FwCfgKey.IRQ0_OVERRIDE)).toEqual([1, 0, 0, 0]);
      expect(item(FwCfgKey.HPET)).toEqual([0xff, ...new Array(120).fill(0)]);
      expect(fw.item(FwCfgKey.ACPI_TABLES)).toEqual(new Uint8Array(0));
      expect(item(fw.fileSelector('etc/boot-fail-wait')!)).toEqual([0xe8, 0x03, 0, 0]);
      expect(Buffer.from(fw.item(fw.fileSelector('bootorder')!)!).toString())
        .toBe('/pci@i0cf8/ide@1,1/drive@0/disk@0\n/rom@genroms/linuxboot.bin\nHALT\0');
      const e820 = Buffer.from(fw.item(fw.fileSelector('etc/e820')!)!);
      const entries = Array.from({ length: e820.length / 20 }, (_, i) => [e820.readBigUInt64LE(i * 20), e820.readBigUInt64LE(i * 20 + 8), e820.readUInt32LE(i * 20 + 16)]);
      expect(entries).toEqual([
        [0xfeffc000n, 0x4000n, 2], [0xfd00000000n, 0x300000000n, 2], [0n, 0xc0000000n, 1], [0x100000000n, 0x80000000n, 1],
      ]);
      expect(() => addPcFwCfgItems(new FwCfgIo({ dmaAddressSpace: null }), { ramSize: 1, ramSplit: { below4g: 1, above4g: 0 }, bootCpus: 0, amdHyperTransportHole: false }))
        .toThrow(RangeError);
      expect(() => addPcFwCfgItems(new FwCfgIo({ dmaAddressSpace: null }), { ramSize: 1, ramSplit: { below4g: 1, above4g: 0 }, bootCpus: 1, rebootTimeout: 70000, amdHyperTransportHole: false }))
        .toThrow(/reboot timeout is invalid/);
    } finally {
      fw.close();
    }
  });

  test('an Intel-like CPU without the HyperTransport hole gets no such e820 entry', () => {
    const fw = new FwCfgIo({ dmaAddressSpace: null });
    try {
      addPcFwCfgItems(fw, { ramSize: 1n << 30n, ramSplit: { below4g: 1n << 30n, above4g: 0n }, bootCpus: 2, apicIdLimit: 4, amdHyperTransportHole: false });
      expect(fw.item(fw.fileSelector('etc/e820')!)!.length).toBe(40);
      expect(Array.from(fw.item(FwCfgKey.MAX_CPUS)!)).toEqual([4, 0]);
      expect(fw.item(FwCfgKey.NUMA)!.length).toBe(5 * 8);
      expect(() => new FwCfgIo({} as never)).toThrow(/dmaAddressSpace/);
      expect(() => new FwCfgIo({ dmaAddressSpace: 0x510 } as never)).toThrow(/dmaAddressSpace/);
      expect(() => new FwCfgIo(undefined as never)).toThrow(/dmaAddressSpace/);
      expect(() => new FwCfgIo({ dmaAddressSpace: null, fileSlots: 4 })).toThrow(RangeError);
    } finally {
      fw.close();
    }
  });
});
