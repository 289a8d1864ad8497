// The `pc` memory map against QEMU 7.2's own text (test/fixtures/qemu-pc/):
// at reset, after SeaBIOS' PAM/SMRAM settings reach the i440FX through the
// PCI configuration ports, and at other RAM sizes.  `info mtree -D` needs no
// KVM; the flat view's " KVM" suffixes come from a real VM's slot table.
import * as fs from 'fs';
import * as path from 'path';
import { Kvm } from '../../lib';
import { formatRamBlocks } from '../../lib/memory/ramblock-info';
import { PcMemoryMap } from '../../lib/machines/pc/memory-map';
import { describeKvm, mappingCount } from '../helpers/kvm';
import {
  configWrite, fixture, memoryFlatView, memoryTreeD, PC_FIXTURES, pciDump, POST_DUMP, seabios, testPc, type TestPc,
} from '../helpers/pc';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

/**
 * The pc.ram / pc.bios / pc.rom rows of `info ramblock`, with the header.
 * (The shared capture came through QMP's human-monitor-command, whose
 * monitor turns "\n" into "\r\n"; QEMU's ram_block_format itself writes "\n".)
 */
function ramblockRows(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n').filter((l) => l.includes('Block Name') || / pc\.(ram|bios|rom) /.test(l));
}

/** SeaBIOS' last PAM/SMRAM writes (src/fw/shadow.c make_bios_readonly), with the values the dump shows */
function applyPostPamAndSmram(pc: TestPc): void {
  const after = pciDump(POST_DUMP, 'after-POST', '0000');
  const dword = (r: number) => after[r] + after[r + 1] * 0x100 + after[r + 2] * 0x10000 + after[r + 3] * 0x1000000;
  configWrite(pc.map.ioSpace, 0, 0x58, dword(0x58), 4);
  configWrite(pc.map.ioSpace, 0, 0x5c, dword(0x5c), 4);
  configWrite(pc.map.ioSpace, 0, 0x72, after[0x72], 1);
}

/** `-m` as QEMU reads it (a bare number is MiB) */
function parseM(s: string): bigint {
  const m = /^(\d+)([MG]?)$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return BigInt(m[1]) * (m[2] === 'G' ? GiB : MiB);
}

const SIZES = fs.readdirSync(path.join(PC_FIXTURES, 'sizes')).filter((d) => d.startsWith('m')).sort();

describe('pc memory map at -m 128, without KVM', () => {
  let pc: TestPc;
  beforeEach(() => { pc = testPc(128n * MiB); });
  afterEach(() => pc.close());

  test('at reset, info mtree -D of "memory" is QEMU\'s, line for line', () => {
    expect(memoryTreeD(pc).split('\n')).toEqual(fixture('m128/reset/memory-tree-D.txt').split('\n'));
  });

  test("the pc.ram, pc.bios and pc.rom rows of info ramblock are QEMU's", () => {
    expect(ramblockRows(formatRamBlocks(pc.map.ramList))).toEqual(ramblockRows(fixture('m128/reset/info_ramblock.txt')));
    expect(formatRamBlocks(pc.map.ramList).split('\n').length - 2).toBe(3);
  });

  test('pc.bios holds the image; isa-bios shows its last 128 KiB at 0xe0000, both read-only', () => {
    const image = fs.readFileSync('/usr/share/seabios/bios-256k.bin');
    const top = pc.map.memory.read(0xfffc0000n, image.length).data;
    expect(Buffer.from(top).equals(image)).toBe(true);
    const low = pc.map.memory.read(0xe0000n, 0x20000).data;
    expect(Buffer.from(low).equals(image.subarray(image.length - 0x20000))).toBe(true);
    // the reset vector
    expect(Array.from(pc.map.memory.read(0xfffffff0n, 1).data)).toEqual([image[image.length - 16]]);
    pc.map.memory.write(0xffff0n, [0x12]);
    expect(pc.map.memory.read(0xffff0n, 1).data[0]).toBe(image[image.length - 16]);
  });

  test('after POST (SeaBIOS\' PAM/SMRAM values written to 0xcf8/0xcfc), info mtree -D is QEMU\'s', () => {
    applyPostPamAndSmram(pc);
    expect(memoryTreeD(pc).split('\n')).toEqual(fixture('m128/post/memory-tree-D.txt').split('\n'));
  });
});

describeKvm('pc memory map on a real VM: the flat view with KVM slots', () => {
  let kvm: Kvm;
  beforeAll(() => { kvm = Kvm.open(); });
  afterAll(() => kvm.close());

  function withVm(pc: TestPc, fn: () => void): void {
    const vm = kvm.createVm();
    try {
      vm.addAddressSpace(pc.map.memory);
      fn();
    } finally {
      vm.close();
      pc.close();
    }
  }

  test('-m 128 at reset', () => {
    const pc = testPc(128n * MiB);
    withVm(pc, () => {
      expect(memoryFlatView(pc).split('\n')).toEqual(fixture('m128/reset/memory-flatview.txt').split('\n'));
    });
  });

  test('-m 128 after POST: the PAM writes flip 0xc0000-0xfffff to pc.ram in the flat view', () => {
    const pc = testPc(128n * MiB);
    withVm(pc, () => {
      applyPostPamAndSmram(pc);
      expect(memoryFlatView(pc).split('\n')).toEqual(fixture('m128/post/memory-flatview.txt').split('\n'));
    });
  });

  test('the KVM slots: QEMU\'s layout at reset and after POST; the slot ioctls of SeaBIOS\' PAM writes are fewer than QEMU\'s', () => {
    const pc = testPc(128n * MiB);
    const vm = kvm.createVm();
    const trace: string[] = [];
    try {
      vm.addAddressSpace(pc.map.memory, { trace: (l) => trace.push(l) });
      const slots = () => vm.slots().map((s) => `${s.guestPhysAddr.toString(16)}+${s.memorySize.toString(16)}:${s.flags}`);
      // pc-machine.md 2.4: what QEMU has before the CPU runs (the state after the construction steps of the trace)
      expect(slots()).toEqual(['0+c0000:0', 'c0000+20000:2', 'e0000+20000:2', '100000+7f00000:0', 'fffc0000+40000:2']);
      // src/fw/shadow.c: make_bios_writable, then make_bios_readonly
      for (const [reg, v] of [[0x58, 0x33333000], [0x5c, 0x33333333], [0x58, 0x11111000], [0x5c, 0x33111111]]) configWrite(pc.map.ioSpace, 0, reg, v, 4);
      // QEMU's final table (flags 0x2 = KVM_MEM_READONLY)
      const qemu = fixture('kvm-slots-m128.txt').split('\n').map((l) => /gpa=0x([0-9a-f]+)-0x[0-9a-f]+ size=0x([0-9a-f]+) flags=0x(\d)/.exec(l))
        .filter((m) => m !== null).map((m) => ({ range: `${m![1]}+${m![2]}`, flags: Number(m![3]) }));
      const ours = slots().map((s) => ({ range: s.split(':')[0], flags: Number(s.split(':')[1]) }));
      expect(ours.map((s) => s.range)).toEqual(qemu.map((s) => s.range).sort((a, b) => parseInt(a, 16) - parseInt(b, 16)));
      // the one difference, by the listener's design (lib/kvm/memory-listener.ts flagsFor): the PAM
      // read-only segments get KVM_MEM_READONLY from their section; QEMU 7.2 maps them writable
      expect(ours.filter((s) => s.flags !== (qemu.find((q) => q.range === s.range)!.flags)).map((s) => s.range)).toEqual(['c0000+28000', 'f0000+10000']);
      // QEMU: 30 KVM_SET_USER_MEMORY_REGION from machine creation to the end of POST
      const ioctls = trace.filter((l) => l.startsWith('kvm_set_user_memory'));
      expect(ioctls.length).toBeLessThan(30);
      process.stdout.write(`pc -m 128: ${ioctls.length} slot ioctls for attach + SeaBIOS' 4 PAM writes (QEMU: 30 from creation to POST end)\n`);
    } finally {
      vm.close();
      pc.close();
    }
  });

  test.each(SIZES)('sizes/%s at reset: info mtree -D, the flat view and the ramblock rows are QEMU\'s', (dir) => {
    const [size, option] = dir.slice(1).split('-max-ram-below-4g=');
    const pc = testPc(parseM(size), option ? { maxRamBelow4g: parseM(option) } : {});
    withVm(pc, () => {
      expect(memoryTreeD(pc).split('\n')).toEqual(fixture(`sizes/${dir}/memory-tree-D.txt`).split('\n'));
      expect(memoryFlatView(pc).split('\n')).toEqual(fixture(`sizes/${dir}/memory-flatview.txt`).split('\n'));
      expect(ramblockRows(formatRamBlocks(pc.map.ramList))).toEqual(ramblockRows(fixture(`sizes/${dir}/info_ramblock.txt`)));
    });
  });

  test('the captures cover the sizes the rule turns on', () => {
    expect(SIZES).toEqual(expect.arrayContaining(['m128', 'm3583', 'm3584', 'm3585', 'm4096', 'm8G']));
  });
});

describe('PcMemoryMap: bad input and clean-up', () => {
  test('a wrong BIOS, RAM size or option is refused and nothing stays allocated; close() frees everything', () => {
    const before = mappingCount();
    const bios = seabios();
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB, bios: bios.subarray(0, 0x30000 + 1) })).toThrow('non-zero multiple of 64 KiB');
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB, bios: new Uint8Array(0) })).toThrow(RangeError);
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB, bios: 'bios.bin' as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB + 1n, bios })).toThrow('multiple of 4 KiB');
    expect(() => new PcMemoryMap({ ramSize: 0, bios })).toThrow(RangeError);
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB, bios, memory: 1 } as never)).toThrow("unknown option 'memory'");
    expect(() => new PcMemoryMap({ ramSize: 128n * MiB, bios, maxRamBelow4g: 5n * GiB })).toThrow('expects size less than or equal to 4G');
    expect(mappingCount()).toBe(before);
    const map = new PcMemoryMap({ ramSize: 128n * MiB, bios });
    expect(mappingCount()).toBe(before + 3);
    expect(map.ramList.blocks.map((b) => b.idstr)).toEqual(['pc.ram', 'pc.bios', 'pc.rom']);
    map.close();
    map.close();
    expect(mappingCount()).toBe(before);
    expect(map.ramList.blocks).toEqual([]);
  });

  test('a 64 KiB BIOS: isa-bios is all of it, at 0xf0000', () => {
    const image = new Uint8Array(0x10000).fill(0xea);
    const map = new PcMemoryMap({ ramSize: 16n * MiB, bios: image });
    try {
      expect(map.isaBios.addr).toBe(0xf0000n);
      expect(map.isaBios.size).toBe(0x10000n);
      expect(map.bios.addr).toBe(0xffff0000n);
      expect(map.memory.read(0xf0000n, 1).data[0]).toBe(0xea);
    } finally {
      map.close();
    }
  });
});
