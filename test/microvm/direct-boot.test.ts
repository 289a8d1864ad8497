// The microvm machine boots kernels without firmware: node-kvm lays out the
// kernel, its boot information, the E820 map and the ACPI and MP tables,
// and the vCPU's first instruction is the kernel's. The multiboot kernel
// (test/guests/multiboot-mbi.S) and the PVH kernel (pvh-start-info.S) print
// what they are given; it is what QEMU gives them (test/fixtures/kernel-boot:
// the same kernels under qemu-system-x86_64 -kernel) except the memory map,
// which is the board's own, and where the PVH initrd goes (below the top of
// RAM, where no firmware tables are). The tables the guest finds by
// scanning 0xe0000-0xfffff are read back out of guest memory and checked.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { Machine, type MachineOptions } from '../../lib/machine';
import { KernelImageError } from '../../lib/x86/kernel-image-error';
import { acpiTables, madtEntries, mpTable } from '../helpers/acpi';
import { kernelBootFixture } from '../helpers/kernel-boot';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { inDir, module2, multibootFiles } from '../helpers/multiboot';
import { pvhElf } from '../helpers/pvh';

const fixture = (name: string) => kernelBootFixture(name).split('\n');
const hex8 = (n: number | bigint) => n.toString(16).padStart(8, '0');

/** The board's memory map at 128 MiB (microvm/e820.ts), as the guests print it. */
const E820_128M = [
  [0x0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xe0000, 0x20000, 2], [0x100000, 0x7f00000, 1], [0xfeffc000, 0x4000, 2],
] as const;

/** COM1's text once the kernel exits through isa-debug-exit at 0xf4, the run's result and what `inspect` read before close. */
async function boot<T>(options: Omit<MachineOptions, 'machine' | 'serial'>, inspect: (m: Machine) => T, cwd = process.cwd()) {
  const com1 = new PassThrough();
  let text = '';
  com1.on('data', (b: Buffer) => { text += b.toString('latin1'); });
  const machine = inDir(cwd, () => Machine.createSync({ machine: 'microvm', serial: { output: com1 }, debugExit: { port: 0xf4 }, ...options }));
  try {
    const result = await machine.run({ timeoutMs: 60_000 });
    machine.serial?.flush();
    return { result, lines: text.split('\n'), seen: inspect(machine) };
  } finally {
    machine.close();
  }
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-microvm-'));
  fs.writeFileSync(path.join(dir, 'pvh32.elf'), pvhElf(32));
  fs.writeFileSync(path.join(dir, 'pvh64.elf'), pvhElf(64));
  fs.writeFileSync(path.join(dir, 'initrd'), module2());
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeKvm('direct boot on the microvm machine', () => {
  jest.setTimeout(60_000);

  test.each([['aout'], ['elf']] as const)('multiboot %s image, -append, two modules: the entry state and MBI are QEMU\'s, the mmap the board\'s', async (kind) => {
    const files = multibootFiles(kind);
    try {
      const { result, lines } = await boot({ kernel: files.kernel, append: 'hello world', initrd: 'm1 arg1 arg2,m2' }, () => null, files.dir);
      expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      const qemu = fixture(`${kind}-m128.txt`);
      // EFLAGS aside (its arithmetic flags are what QEMU's ROM left), the entry state is QEMU's: EAX, EBX = 0x9500, CR0 = PE|ET, flat selectors.
      const state = (l: string[]) => l.slice(0, 10).filter((x) => !x.startsWith('eflags='));
      expect(state(lines)).toEqual(state(qemu));
      const mbi = (l: string[]) => l.filter((x) => x.startsWith('mbi['));
      // every MBI word as QEMU's but mem_upper (2) and mmap_length (0xb), which follow the memory map
      const ours = mbi(lines);
      const theirs = mbi(qemu);
      expect(ours).toHaveLength(22);
      for (const i of [2, 0xb]) { ours[i] = theirs[i] = ''; }
      expect(ours).toEqual(theirs);
      expect(mbi(lines)[2]).toBe(`mbi[00000002:${hex8(0x7f00000 / 1024)}`);
      expect(mbi(lines)[0xb]).toBe(`mbi[0000000b:${hex8(E820_128M.length * 24)}`);
      // cmdline, loader name, both modules (addresses, strings and bytes' sums)
      const rest = (l: string[]) => l.filter((x) => /^(cmdline|loader|module) /.test(x) || /^(cmdline|loader)=/.test(x));
      expect(rest(lines)).toEqual(rest(qemu));
      expect(lines.filter((x) => x.startsWith('mmap ')).slice(0, E820_128M.length)).toEqual(
        E820_128M.map(([a, n, t]) => `mmap 00000014 ${hex8(a)} 00000000 ${hex8(n)} 00000000 ${hex8(t)} `));
      expect(lines).toContain('done');
    } finally {
      files.remove();
    }
  });

  test.each([[32], [64]] as const)('PVH ELF%i with -append and -initrd: hvm_start_info, cmdline, the module\'s bytes, the memmap and the RSDP', async (bits) => {
    const { result, lines, seen } = await boot(
      { kernel: path.join(dir, `pvh${bits}.elf`), append: 'hello pvh world', initrd: path.join(dir, 'initrd') },
      (m) => acpiTables((a, n) => m.readGuest(a, n)).rsdp.address,
    );
    expect(result).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    const qemu = fixture(`pvh-elf${bits}-m128.txt`);
    const word = (l: string[], i: number) => l.find((x) => x.startsWith(`start_info[${hex8(i)}:`))!.split(':')[1];
    expect(lines[0]).toBe('ebx=00006000'); // pvhBoot's start_info (QEMU's ROM builds it elsewhere)
    for (const i of [0, 1, 2, 3]) expect(word(lines, i)).toBe(word(qemu, i)); // magic, version 1, flags, one module
    expect(parseInt(word(lines, 8), 16)).toBe(seen); // rsdp_paddr: the RSDP a scan of 0xe0000-0xfffff finds
    expect(word(lines, 0xc)).toBe(hex8(E820_128M.length));
    expect(lines).toContain('cmdline="hello pvh world"');
    // the module: 5000 bytes whose sum is QEMU's, in RAM at a page below the top of RAM
    const [addr, size, str, sum] = lines.find((x) => x.startsWith('module '))!.split(' ').slice(1).map((x) => parseInt(x, 16));
    expect([size, str, sum]).toEqual(qemu.find((x) => x.startsWith('module '))!.split(' ').slice(2).map((x) => parseInt(x, 16)));
    expect(addr % 4096).toBe(0);
    expect(addr + size).toBeLessThanOrEqual(0x8000000);
    expect(lines.filter((x) => x.startsWith('memmap ')).slice(0, E820_128M.length)).toEqual(
      E820_128M.map(([a, n, t]) => `memmap ${hex8(a)} 00000000 ${hex8(n)} 00000000 ${hex8(t)} 00000000 `));
    expect(lines).toContain('rsdp 20445352 20525450'); // "RSD PTR "
  });

  test('the tables in guest memory: RSDP (revision 2) in 0xe0000-0xfffff, RSDT and XSDT, a hardware-reduced FADT with the GED registers, DSDT, MADT, MP table', async () => {
    const { seen } = await boot({ kernel: path.join(dir, 'pvh32.elf') }, (m) => {
      const read = (a: number, n: number) => m.readGuest(a, n);
      return { acpi: acpiTables(read), mp: mpTable(read) };
    });
    const { rsdp, tables } = seen.acpi;
    expect(rsdp.bytes[15]).toBe(2);
    expect([...tables.keys()].sort()).toEqual(['APIC', 'DSDT', 'FACP', 'RSDT', 'XSDT']);
    const fadt = tables.get('FACP')!.bytes;
    const fdv = new DataView(fadt.buffer, fadt.byteOffset);
    expect([fadt.length, fadt[8]]).toEqual([268, 5]);
    expect(fdv.getUint32(112, true) & (1 << 20)).not.toBe(0); // HW_REDUCED_ACPI
    expect(fdv.getBigUint64(248, true)).toBe(0xfea00200n); // SLEEP_CONTROL_REG: the GED's
    expect(fdv.getBigUint64(120, true)).toBe(0xfea00202n); // RESET_REG
    expect(fadt[128]).toBe(0x42);
    // the DSDT's \_S5 package: SLP_TYP 5 for the GED
    expect(Buffer.from(tables.get('DSDT')!.bytes.subarray(36)).toString('hex')).toBe('085f53355f1207040a05000000');
    const entries = madtEntries(tables.get('APIC')!.bytes);
    expect(entries.filter((e) => e.type === 0)).toHaveLength(1); // one CPU
    expect(entries.filter((e) => e.type === 1).map((e) => [...e.bytes])).toEqual([[1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]]);
    expect(entries.filter((e) => e.type === 2).map((e) => [e.bytes[3], e.bytes[4]])).toEqual([[0, 2]]); // IRQ 0 on GSI 2
    const { config, floatingAt } = seen.mp;
    expect(floatingAt).toBe(0xf0000);
    // walk the entries: a processor entry is 20 bytes, the others 8
    const types: number[] = [];
    for (let at = 44; at < config.length; at += config[at] === 0 ? 20 : 8) types.push(config[at]);
    expect(types.length).toBe(new DataView(config.buffer, config.byteOffset).getUint16(34, true));
    expect(types.filter((t) => t === 0)).toHaveLength(1); // one CPU
    expect(types.slice(0, 3)).toEqual([0, 1, 2]); // the processor, the ISA bus, the IOAPIC
    expect(types.filter((t) => t === 3)).toHaveLength(15); // ISA IRQs 0-15 but 2 (IRQ 0 on INTIN 2)
    expect(config[44 + 3] & 3).toBe(3); // enabled, bootstrap processor
  });
});

describeKvm('microvm: system reset', () => {
  jest.setTimeout(60_000);
  test('systemReset() enters the kernel again: the tables and the kernel are written again and it prints the same report', async () => {
    const com1 = new PassThrough();
    let text = '';
    com1.on('data', (b: Buffer) => { text += b.toString('latin1'); });
    const m = Machine.createSync({ machine: 'microvm', kernel: path.join(dir, 'pvh32.elf'), append: 'again', serial: { output: com1 }, debugExit: { port: 0xf4 } });
    try {
      expect(await m.run({ timeoutMs: 30_000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      m.serial?.flush();
      const first = text;
      m.writeGuest(0xe0000, new Uint8Array(16)); // the RSDP's signature gone: the reset must bring it back
      text = '';
      m.systemReset();
      expect(await m.run({ timeoutMs: 30_000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      m.serial?.flush();
      expect(text).toBe(first);
      expect(text).toContain('rsdp 20445352 20525450');
    } finally {
      m.close();
    }
  });
});

describeKvm('microvm: bad kernels and options', () => {
  test('no kernel, an unknown option, load(): clear errors, nothing left open', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    expect(() => Machine.createSync({ machine: 'microvm' })).toThrow(/no firmware: give it a kernel/);
    expect(() => Machine.createSync({ machine: 'microvm', kernel: path.join(dir, 'pvh32.elf'), disks: ['x'] })).toThrow(TypeError);
    const m = Machine.createSync({ machine: 'microvm', kernel: path.join(dir, 'pvh32.elf'), serial: false });
    try {
      expect(() => m.load(new Uint8Array(16))).toThrow(/boots the kernel it was created with/);
      expect(() => m.setupMode(0x1234)).toThrow(RangeError);
    } finally {
      m.close();
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBeLessThanOrEqual(maps); // (earlier closed machines' RAM goes when GC takes their views; none may stay)
  });

  test.each([
    ['a missing file', 'nope.elf', /could not open kernel file/],
    ['an empty file', 'empty', /the file is empty/],
    ['a 64-bit ELF without a PVH note', 'nonote64', /Error loading uncompressed kernel without PVH ELF Note/],
    ['a Linux bzImage', 'bzimage', /Linux kernel \(bzImage\).*multiboot and PVH/],
  ])('%s: a KernelImageError', (_what, name, message) => {
    fs.writeFileSync(path.join(dir, 'empty'), '');
    const elf = Buffer.from(pvhElf(64));
    const noNote = Buffer.from(elf);
    noNote.write('Xe?', noNote.indexOf('Xen\0'), 'latin1'); // keep the note, change its type's owner: still no PHYS32_ENTRY
    noNote.writeUInt32LE(99, noNote.indexOf('Xe?') - 4); // type 99
    fs.writeFileSync(path.join(dir, 'nonote64'), noNote);
    const bz = Buffer.alloc(0x1000);
    bz.write('HdrS', 0x202, 'latin1');
    fs.writeFileSync(path.join(dir, 'bzimage'), bz);
    const err = (() => {
      try { Machine.createSync({ machine: 'microvm', kernel: path.join(dir, name) }); } catch (e) { return e; }
      return null;
    })();
    expect(err).toBeInstanceOf(KernelImageError);
    expect((err as Error).message).toMatch(message);
  });
});
