// The real SeaBIOS (Debian's 1.16.2) POSTs on the pc machine to "No bootable
// device.", and the memory map it leaves is QEMU 7.2's for the same command
// line: the "memory" address space's `info mtree -D` block, its flat view and
// the pc.ram/pc.bios/pc.rom rows of `info ramblock`, line for line, at RAM
// sizes below 3.5 GiB, across it and above 4 GiB (captured from QEMU on this
// host: test/fixtures/qemu-pc/post-sizes, capture.py --post).
import * as fs from 'fs';
import * as path from 'path';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { memoryFlatViewOf, memoryTreeDOf, NO_BOOTABLE_DEVICE, PC_FIXTURES, pcMachine } from '../helpers/pc';

const POST_SIZES = fs.readdirSync(path.join(PC_FIXTURES, 'post-sizes')).filter((d) => d.startsWith('m')).sort();
const fixture = (rel: string) => fs.readFileSync(path.join(PC_FIXTURES, rel), 'utf8');

/** "-m" of a fixture directory (m128, m1G, m5G, m3584) as Machine.create()'s memory. */
function memoryOf(dir: string): string {
  const size = dir.slice(1);
  return /^\d+$/.test(size) ? `${size}M` : size;
}

/** The rows of pc.ram, pc.bios and pc.rom in an `info ramblock` answer. */
function ramblockRows(text: string): string[] {
  return text.split('\n').filter((l) => /^\s*(pc\.ram|pc\.bios|pc\.rom)\s/.test(l));
}

describeKvm('SeaBIOS on the pc machine', () => {
  jest.setTimeout(120_000);

  test('the captures cover RAM below 3.5 GiB, across it and above 4 GiB', () => {
    expect(POST_SIZES).toEqual(expect.arrayContaining(['m128', 'm1G', 'm3584', 'm4096', 'm5G', 'm8G']));
  });

  test.each(POST_SIZES)('%s: after "No bootable device." the memory map is QEMU\'s', async (dir) => {
    const pc = pcMachine({ memory: memoryOf(dir) });
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const m = pc.machine;
      expect(memoryTreeDOf(m.mtree({ disabled: true })).split('\n')).toEqual(memoryTreeDOf(fixture(`post-sizes/${dir}/info_mtree_D.txt`)).split('\n'));
      expect(memoryFlatViewOf(m.mtree({ flat: true })).split('\n')).toEqual(memoryFlatViewOf(fixture(`post-sizes/${dir}/info_mtree_f.txt`)).split('\n'));
      expect(ramblockRows(m.formatRamBlocks())).toEqual(ramblockRows(fixture(`post-sizes/${dir}/info_ramblock.txt`)));
    } finally {
      pc.machine.close();
    }
  });

  test('the debugcon log follows QEMU\'s: banner, fw_cfg, PCI, the e820 map, the boot attempts', async () => {
    const pc = pcMachine();
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const qemu = fixture('m128/post/debugcon.log');
      // Lines that do not depend on QEMU's ACPI tables (node-kvm lets SeaBIOS build its own) or the host's TSC.
      const stable = (log: string) => log.split('\n').filter((l) => /^(SeaBIOS|Running on|Found QEMU|QEMU fw_cfg|qemu\/e820|PCI: |Found \d|PIIX3|ATA controller|PS2 keyboard|Booting from|Boot failed|No bootable)/.test(l));
      expect(stable(pc.debugcon())).toEqual(stable(qemu));
    } finally {
      pc.machine.close();
    }
  });
});

describeKvm('pc machine lifecycle', () => {
  jest.setTimeout(120_000);

  test('a guest reset (PIIX3 0xcf9) re-runs SeaBIOS: the banner twice, and nothing leaks', async () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const pc = pcMachine();
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      pc.machine.systemReset();
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      expect(pc.debugcon().match(/SeaBIOS \(version 1\.16\.2-debian-1\.16\.2-1\)/g)).toHaveLength(4); // twice per POST (debug log + screen)
    } finally {
      pc.machine.close();
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });
});
