// The real SeaBIOS (Debian's 1.16.2) POSTs on the pc machine to "No bootable
// device.", and the memory map it leaves is QEMU 7.2's for the same command
// line: the "memory" address space's `info mtree -D` block, its flat view and
// the pc.ram/pc.bios/pc.rom rows of `info ramblock`, line for line, at RAM
// sizes below 3.5 GiB, across it and above 4 GiB (captured from QEMU on this
// host: test/fixtures/qemu-pc/post-sizes, capture.py --post).
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { assemble } from '../helpers/assemble';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { removeDir, tempImage } from './ide-rig';
import { memoryFlatViewOf, memoryTreeDOf, NO_BOOTABLE_DEVICE, PC_FIXTURES, pcMachine } from '../helpers/pc';

const POST_SIZES = fs.readdirSync(path.join(PC_FIXTURES, 'post-sizes')).filter((d) => d.startsWith('m')).sort();
const fixture = (rel: string) => fs.readFileSync(path.join(PC_FIXTURES, rel), 'utf8');

/** "-m" of a fixture directory (m128, m1G, m5G, m3584) as Machine.create()'s memory. */
function memoryOf(dir: string): string {
  const size = dir.slice(1);
  return /^\d+$/.test(size) ? `${size}M` : size;
}

/** The blank-line separated block of `text` (QEMU's answers have CR LF line ends) whose line `at` (default its first) is `line`. */
function blockStarting(text: string, line: string, at = 0): string[] {
  const block = text.replace(/\r\n/g, '\n').split('\n\n').map((b) => b.split('\n').filter((l) => l !== '')).find((b) => b[at] === line);
  if (!block) throw new Error(`no block with "${line}"`);
  return block;
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

  test('the PCI functions\' bus-master address spaces are QEMU\'s in info mtree, -D and -f (bus mastering off after POST)', async () => {
    const pc = pcMachine();
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const m = pc.machine;
      for (const [ours, qemu] of [[m.mtree(), 'info_mtree.txt'], [m.mtree({ disabled: true }), 'info_mtree_D.txt']] as const) {
        for (const fn of ['i440FX', 'PIIX3', 'piix3-ide', 'PIIX4_PM']) {
          expect(blockStarting(ours, `address-space: ${fn}`)).toEqual(blockStarting(fixture(`m128/post/${qemu}`), `address-space: ${fn}`));
        }
      }
      // (the FlatView's number follows QEMU's hash-table order: not compared)
      const flat = (text: string) => blockStarting(text, ' AS "i440FX", root: bus master container', 1).slice(1);
      expect(flat(m.mtree({ flat: true }))).toEqual(flat(fixture('m128/post/info_mtree_f.txt')));
    } finally {
      pc.machine.close();
    }
  });

  test('KVM slot ioctls from creation to "No bootable device.": no more than QEMU\'s (30 at -m 128), in QEMU\'s trace format', async () => {
    const ours: string[] = [];
    const pc = pcMachine({ traceSlots: (line) => ours.push(line) });
    let duringPost: string[];
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      duringPost = ours.slice();
    } finally {
      pc.machine.close();
    }
    const qemu = fixture('m128/post/kvm_set_user_memory.trace').split('\n').filter((l) => l.startsWith('kvm_set_user_memory '));
    expect(qemu).toHaveLength(30);
    for (const l of duringPost) expect(l).toMatch(/^kvm_set_user_memory Slot#\d+ flags=0x[0-9a-f]+ gpa=0x[0-9a-f]+ size=0x[0-9a-f]+ ua=0x[0-9a-f]+ ret=0$/);
    expect(duringPost.length).toBeLessThanOrEqual(qemu.length);
    process.stdout.write(`pc -m 128: ${duringPost.length} KVM_SET_USER_MEMORY_REGION from creation to "No bootable device." (QEMU: ${qemu.length})\n`);
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
  const BANNER = /SeaBIOS \(version 1\.16\.2-debian-1\.16\.2-1\)/g;
  const RETRY = 'No bootable device.  Retrying in 0 seconds.';

  test('with -nographic SeaBIOS\'s banner and "No bootable device." appear on COM1 (sercon), byte for byte as under QEMU', async () => {
    const com1 = new PassThrough();
    let text = '';
    com1.on('data', (b: Buffer) => { text += b.toString('latin1'); });
    const pc = pcMachine({ nographic: true, serial: { output: com1 } });
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      await pc.machine.run({ timeoutMs: 300 }); // sercon sends its buffer from the timer interrupt
    } finally {
      pc.machine.close();
    }
    // byte for byte what QEMU's COM1 sent (test/fixtures/qemu-pc/nographic)
    expect(text).toBe(fs.readFileSync(path.join(PC_FIXTURES, 'nographic/com1.txt'), 'latin1'));
  });

  test('the guest resets the machine (SeaBIOS after reboot-timeout, through 0xcf9): SeaBIOS runs again, nothing leaks', async () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const pc = pcMachine({ rebootTimeout: 0 });
    try {
      await pc.runUntil(RETRY);
      await pc.runUntil(RETRY);
      expect(pc.debugcon().match(BANNER)).toHaveLength(4); // twice per POST: its log, then its screen
      // the second POST saw the machine as new: the same PCI assignments, the same e820 map
      const posts = pc.debugcon().split('No Xen hypervisor found.');
      expect(posts).toHaveLength(3);
      const e820 = (log: string) => log.slice(log.indexOf('e820 map has'), log.indexOf('enter handle_19'));
      expect(e820(posts[2])).toBe(e820(posts[1]));
    } finally {
      pc.machine.close();
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });

  test('-no-reboot: the guest\'s reset ends the run (reason "reset") instead', async () => {
    const pc = pcMachine({ rebootTimeout: 0, noReboot: true });
    try {
      const r = await pc.machine.run({ timeoutMs: 60_000 });
      expect(r.reason).toBe('reset');
      expect(r.message).toMatch(/the guest reset the machine \(PIIX3 reset control/);
      expect(pc.debugcon().match(BANNER)).toHaveLength(2);
    } finally {
      pc.machine.close();
    }
  });

  test('a triple fault resets the machine (a boot sector faults, SeaBIOS boots it again); with -no-reboot it ends the run', async () => {
    const code = assemble('triple-fault-boot.S', ['--32']);
    const img = tempImage(1 << 20, (s) => (s === 0 ? code : null));
    try {
      const pc = pcMachine({ disks: [{ file: img.file, snapshot: true }] });
      try {
        await pc.runUntil('Booting from 0000:7c00');
        await pc.runUntil('Booting from 0000:7c00');
        expect(pc.debugcon().match(BANNER)).toHaveLength(4);
      } finally {
        pc.machine.close();
      }
      const once = pcMachine({ disks: [{ file: img.file, snapshot: true }], noReboot: true });
      try {
        const r = await once.machine.run({ timeoutMs: 60_000 });
        expect(r.reason).toBe('shutdown');
        expect(once.debugcon().match(BANNER)).toHaveLength(2);
      } finally {
        once.machine.close();
      }
    } finally {
      removeDir(img.dir);
    }
  });

  test('systemReset() (the monitor\'s system_reset) re-runs SeaBIOS: the banner twice, and nothing leaks', async () => {
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
