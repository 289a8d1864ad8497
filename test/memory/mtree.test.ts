/**
 * The `info mtree` page (semantics §3): headers, grouping, alias targets,
 * FlatView blocks, -D, overflow marker.
 */
import { MemoryRegion, TWO_64, UNASSIGNED_IO_OPS, formatMtree } from '../../lib/memory';
import { cleanup, space, track } from './util';

afterEach(cleanup);

function pc() {
  const system = MemoryRegion.container('system', TWO_64);
  const ram = track(MemoryRegion.ram('pc.ram', 0x8000000));
  const pci = MemoryRegion.container('pci', TWO_64);
  const rom = track(MemoryRegion.rom('pc.rom', 0x20000));
  const bios = track(MemoryRegion.rom('pc.bios', 0x40000));
  const isaBios = MemoryRegion.alias('isa-bios', bios, 0x20000, 0x20000);
  isaBios.setReadonly(true);
  pci.addSubregion(0xfffc0000, bios);
  pci.addSubregionOverlap(0xe0000, isaBios, 1);
  pci.addSubregionOverlap(0xc0000, rom, 1);
  system.addSubregionOverlap(0, pci, -1);
  system.addSubregion(0, MemoryRegion.alias('ram-below-4g', ram, 0, 0x8000000));
  system.addSubregionOverlap(0xc0000, MemoryRegion.alias('pam-pci', pci, 0xc0000, 0x4000), 1);
  const pamRam = MemoryRegion.alias('pam-ram', ram, 0xc0000, 0x4000);
  pamRam.setEnabled(false);
  system.addSubregionOverlap(0xc0000, pamRam, 1);
  system.addSubregionOverlap(0xa0000, MemoryRegion.alias('smram-region', pci, 0xa0000, 0x20000), 1);
  const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  io.addSubregion(0x70, MemoryRegion.io('rtc', 2));
  const bm = MemoryRegion.container('bus master container', TWO_64);
  const bmAlias = MemoryRegion.alias('bus master container', system, 0, TWO_64);
  bmAlias.setEnabled(false);
  bm.addSubregion(0, bmAlias);
  const memory = space(system, 'memory');
  const ioAs = space(io, 'I/O');
  const cpu = space(system, 'cpu-memory-0');
  const piix = space(bm, 'PIIX3');
  return { memory, ioAs, cpu, piix };
}

test('info mtree: groups by root, names sorted, alias targets dumped after', () => {
  const { memory, ioAs, cpu } = pc();
  expect(formatMtree([memory, ioAs, cpu])).toBe([
    'address-space: cpu-memory-0',
    'address-space: memory',
    '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
    '    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff',
    '    0000000000000000-ffffffffffffffff (prio -1, i/o): pci',
    '      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom',
    '      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff',
    '      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios',
    '    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff',
    '    00000000000c0000-00000000000c3fff (prio 1, i/o): alias pam-pci @pci 00000000000c0000-00000000000c3fff',
    '',
    'address-space: I/O',
    '  0000000000000000-000000000000ffff (prio 0, i/o): io',
    '    0000000000000070-0000000000000071 (prio 0, i/o): rtc',
    '',
    'memory-region: pc.ram',
    '  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram',
    '',
    'memory-region: pc.bios',
    '  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios',
    '',
    'memory-region: pci',
    '  0000000000000000-ffffffffffffffff (prio -1, i/o): pci',
    '    00000000000c0000-00000000000dffff (prio 1, rom): pc.rom',
    '    00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff',
    '    00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios',
    '',
    '',
  ].join('\n'));
});

test('info mtree -D shows disabled regions', () => {
  const { memory } = pc();
  const text = formatMtree([memory], { disabled: true });
  expect(text).toContain('    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-ram @pc.ram 00000000000c0000-00000000000c3fff [disabled]\n');
  expect(formatMtree([memory])).not.toContain('pam-ram');
});

test('info mtree -f: one block per FlatView, shared views list every AS, empty views say so', () => {
  const { memory, ioAs, cpu, piix } = pc();
  expect(formatMtree([memory, ioAs, cpu, piix], { flat: true })).toBe([
    'FlatView #0',
    ' AS "memory", root: system',
    ' AS "cpu-memory-0", root: system',
    ' Root memory region: system',
    // smram-region shows pci at 0xa0000, where pci has nothing: RAM shows through;
    // only 0xc0000-0xc3fff has a pam-pci alias, so pc.rom and isa-bios are hidden elsewhere
    '  0000000000000000-00000000000bffff (prio 0, ram): pc.ram',
    '  00000000000c0000-00000000000c3fff (prio 1, rom): pc.rom',
    '  00000000000c4000-0000000007ffffff (prio 0, ram): pc.ram @00000000000c4000',
    '  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios',
    '',
    'FlatView #1',
    ' AS "I/O", root: io',
    ' Root memory region: io',
    '  0000000000000000-000000000000006f (prio 0, i/o): io',
    '  0000000000000070-0000000000000071 (prio 0, i/o): rtc',
    '  0000000000000072-000000000000ffff (prio 0, i/o): io @0000000000000072',
    '',
    'FlatView #2',
    ' AS "PIIX3", root: bus master container',
    ' Root memory region: (none)',
    '  No rendered FlatView',
    '',
    '',
  ].join('\n'));
});

test('an AS whose root is an alias prints ", alias <target>"; the accelerator suffix is per AS of the view', () => {
  const t = MemoryRegion.container('sys', TWO_64);
  t.addSubregion(0x1000, MemoryRegion.io('dev', 0x10));
  t.addSubregion(0x3000, MemoryRegion.io('dev2', 0x10));
  const a = space(MemoryRegion.alias('bm', t, 0, TWO_64), 'bm-as');
  const b = space(t, 'sys-as');
  a.addListener({ accelName: 'KVM', hasMemory: (s) => s === 0x1000n });
  b.addListener({ accelName: 'KVM', hasMemory: (s) => s === 0x1000n });
  expect(formatMtree([a, b], { flat: true })).toBe([
    'FlatView #0',
    ' AS "bm-as", root: bm, alias sys',
    ' AS "sys-as", root: sys',
    ' Root memory region: sys',
    '  0000000000001000-000000000000100f (prio 0, i/o): dev KVM KVM',
    '  0000000000003000-000000000000300f (prio 0, i/o): dev2',
    '',
    '',
  ].join('\n'));
});

test('[DETECTED OVERFLOW!] before the indentation when an end wraps', () => {
  const root = MemoryRegion.container('root', TWO_64);
  root.addSubregion(0x1000, MemoryRegion.io('big', TWO_64));
  const as = space(root);
  expect(as.formatTree()).toBe([
    '  0000000000000000-ffffffffffffffff (prio 0, i/o): root',
    '[DETECTED OVERFLOW!]     0000000000001000-0000000000000fff (prio 0, i/o): big',
    '',
  ].join('\n'));
  // rendering clips at 2^64
  expect(as.formatFlatView()).toBe('0000000000001000-ffffffffffffffff (prio 0, i/o): big\n');
});

test('nonvolatile regions print nv-', () => {
  const root = MemoryRegion.container('root', TWO_64);
  const nv = track(MemoryRegion.ram('nvram', 0x1000));
  nv.setNonvolatile(true);
  root.addSubregion(0x2000, nv);
  root.addSubregion(0x8000, MemoryRegion.io('other', 0x10));
  const as = space(root);
  expect(as.formatTree()).toContain('    0000000000002000-0000000000002fff (prio 0, nv-ram): nvram\n');
  expect(as.formatFlatView()).toContain('0000000000002000-0000000000002fff (prio 0, nv-ram): nvram\n');
});

test('§9.28 QEMU prints groups in hash order (it changed between runs); here: the order given, the same every time', () => {
  const { memory, ioAs, cpu } = pc();
  const a = formatMtree([ioAs, memory, cpu]);
  const b = formatMtree([memory, ioAs, cpu]);
  const headers = (text: string) => text.split('\n').filter((l) => l.startsWith('address-space:'));
  expect(headers(a)).toEqual(['address-space: I/O', 'address-space: cpu-memory-0', 'address-space: memory']);
  expect(headers(b)).toEqual(['address-space: cpu-memory-0', 'address-space: memory', 'address-space: I/O']);
  expect(formatMtree([ioAs, memory, cpu])).toBe(a);
  // The same groups and lines either way: only their order differs, as in QEMU.
  expect(a.split('\n').sort()).toEqual(b.split('\n').sort());
});
