/**
 * Transactions and listeners (semantics §4): deletes before adds, forward /
 * reverse priority order, region_nop, log_start/log_stop, replay on
 * register/unregister, one notification per outermost transaction.
 */
import {
  AddressSpace, MemoryRegion, MemoryRegionError, type MemoryListener, type MemoryRegionSection, TWO_64, transaction,
} from '../../lib/memory';
import { cleanup, flat, space, track } from './util';

afterEach(cleanup);

const hex = (v: bigint) => v.toString(16);
const sec = (s: MemoryRegionSection) => `${s.mr.name}@${hex(s.offsetWithinAddressSpace)}+${hex(s.size)}${s.offsetWithinRegion ? ' off ' + hex(s.offsetWithinRegion) : ''}${s.readonly ? ' ro' : ''}`;

function recorder(tag: string, log: string[], priority?: number): MemoryListener {
  return {
    priority,
    begin: () => log.push(`${tag} begin`),
    commit: () => log.push(`${tag} commit`),
    regionAdd: (s) => log.push(`${tag} add ${sec(s)}`),
    regionDel: (s) => log.push(`${tag} del ${sec(s)}`),
    regionNop: (s) => log.push(`${tag} nop ${sec(s)}`),
    logStart: (s, o, n) => log.push(`${tag} logStart ${sec(s)} ${o}->${n}`),
    logStop: (s, o, n) => log.push(`${tag} logStop ${sec(s)} ${o}->${n}`),
  };
}

function pc() {
  const root = MemoryRegion.container('system', TWO_64);
  const ram = track(MemoryRegion.ram('pc.ram', 0x200000));
  const below = MemoryRegion.alias('ram-below-4g', ram, 0, 0x200000);
  root.addSubregion(0, below);
  const pamRom = MemoryRegion.alias('pam-rom', ram, 0xf0000, 0x10000);
  pamRom.setReadonly(true);
  pamRom.setEnabled(false);
  root.addSubregionOverlap(0xf0000, pamRom, 1);
  const mmio = MemoryRegion.io('hpet', 0x400);
  root.addSubregion(0xfed00000, mmio);
  return { root, ram, pamRom, mmio };
}

test('register replays the current view: begin, add per range, logStart for logged ranges, commit', () => {
  const { root, ram } = pc();
  ram.setDirtyLogging(true);
  const as = space(root, 'memory');
  const log: string[] = [];
  as.addListener(recorder('L', log));
  expect(log).toEqual([
    'L begin',
    'L add pc.ram@0+200000',
    'L logStart pc.ram@0+200000 0->1',
    'L add hpet@fed00000+400',
    'L commit',
  ]);
  log.length = 0;
  as.removeListener(as.listeners[0]);
  expect(log).toEqual([
    'L begin',
    'L logStop pc.ram@0+200000 1->0',
    'L del pc.ram@0+200000',
    'L del hpet@fed00000+400',
    'L commit',
  ]);
});

test('a split: all deletions (old order) before additions (new order); forward/reverse by priority', () => {
  const { root, pamRom } = pc();
  const as = space(root, 'memory');
  const log: string[] = [];
  // registered out of priority order on purpose
  as.addListener(recorder('B10', log, 10));
  as.addListener(recorder('A0', log, 0));
  log.length = 0;
  pamRom.setEnabled(true);
  expect(log).toEqual([
    'A0 begin', 'B10 begin',
    'B10 del pc.ram@0+200000', 'A0 del pc.ram@0+200000',
    'A0 add pc.ram@0+f0000', 'B10 add pc.ram@0+f0000',
    'A0 add pc.ram@f0000+10000 off f0000 ro', 'B10 add pc.ram@f0000+10000 off f0000 ro',
    'A0 add pc.ram@100000+100000 off 100000', 'B10 add pc.ram@100000+100000 off 100000',
    'A0 nop hpet@fed00000+400', 'B10 nop hpet@fed00000+400',
    'A0 commit', 'B10 commit',
  ]);
  // merging back: three deletes, then one add
  log.length = 0;
  pamRom.setEnabled(false);
  expect(log.filter((l) => l.startsWith('A0'))).toEqual([
    'A0 begin',
    'A0 del pc.ram@0+f0000',
    'A0 del pc.ram@f0000+10000 off f0000 ro',
    'A0 del pc.ram@100000+100000 off 100000',
    'A0 add pc.ram@0+200000',
    'A0 nop hpet@fed00000+400',
    'A0 commit',
  ]);
});

test('dirty logging changes are logStart (forward) / logStop (reverse) on an unchanged range, after its nop', () => {
  const { root, ram } = pc();
  const as = space(root, 'memory');
  const log: string[] = [];
  as.addListener(recorder('A', log, 0));
  as.addListener(recorder('B', log, 5));
  log.length = 0;
  ram.setDirtyLogging(true);
  expect(log).toEqual([
    'A begin', 'B begin',
    'A nop pc.ram@0+200000', 'B nop pc.ram@0+200000',
    'A logStart pc.ram@0+200000 0->1', 'B logStart pc.ram@0+200000 0->1',
    'A nop hpet@fed00000+400', 'B nop hpet@fed00000+400',
    'A commit', 'B commit',
  ]);
  log.length = 0;
  ram.setDirtyLogging(false);
  expect(log).toEqual([
    'A begin', 'B begin',
    'A nop pc.ram@0+200000', 'B nop pc.ram@0+200000',
    'B logStop pc.ram@0+200000 1->0', 'A logStop pc.ram@0+200000 1->0',
    'A nop hpet@fed00000+400', 'B nop hpet@fed00000+400',
    'A commit', 'B commit',
  ]);
});

test('a transaction collapses many changes into one begin/commit and one diff; nested ones too', () => {
  const { root, pamRom, mmio } = pc();
  const as = space(root, 'memory');
  const log: string[] = [];
  as.addListener(recorder('L', log));
  log.length = 0;
  transaction(() => {
    pamRom.setEnabled(true);
    transaction(() => {
      mmio.setAddress(0xfee00000);
      pamRom.setEnabled(false);
    });
    expect(log).toEqual([]); // nothing until the outermost commit
  });
  expect(log).toEqual([
    'L begin',
    'L del hpet@fed00000+400',
    'L nop pc.ram@0+200000',
    'L add hpet@fee00000+400',
    'L commit',
  ]);
});

test('no callbacks when nothing needs rendering (e.g. adding to a disabled container)', () => {
  const root = MemoryRegion.container('system', TWO_64);
  const off = MemoryRegion.container('off', 0x1000);
  off.setEnabled(false);
  root.addSubregion(0, off);
  const as = space(root);
  const log: string[] = [];
  as.addListener(recorder('L', log));
  log.length = 0;
  off.addSubregion(0, MemoryRegion.io('x', 0x10));
  off.setReadonly(true); // set_readonly only renders when the region is enabled
  expect(log).toEqual([]);
  // unchanged mutators are no-ops
  root.setEnabled(true);
  expect(log).toEqual([]);
});

test('address spaces are updated in creation order, each with its own listeners', () => {
  const mem = MemoryRegion.container('system', TWO_64);
  const io = MemoryRegion.io('io', 0x10000);
  const m = space(mem, 'memory');
  const i = space(io, 'I/O');
  const log: string[] = [];
  i.addListener(recorder('io', log));
  m.addListener(recorder('mem', log));
  log.length = 0;
  transaction(() => {
    io.addSubregion(0x70, MemoryRegion.io('rtc', 2));
    mem.addSubregion(0x1000, MemoryRegion.io('dev', 0x10));
  });
  expect(log).toEqual([
    'io begin', 'mem begin', // global listener list: equal priority in registration order
    'mem add dev@1000+10',
    'io del io@0+10000',
    'io add io@0+70',
    'io add rtc@70+2',
    'io add io@72+ff8e off 72',
    'io commit', 'mem commit',
  ]);
});

test('accelerator hook: " KVM" after ranges for which hasMemory is true', () => {
  const { root } = pc();
  const as = space(root, 'memory');
  as.addListener({ accelName: 'KVM', hasMemory: (start, size) => start === 0n && size === 0x200000n });
  expect(flat(as)).toEqual([
    '0000000000000000-00000000001fffff (prio 0, ram): pc.ram KVM',
    '00000000fed00000-00000000fed003ff (prio 0, i/o): hpet',
  ]);
});

test('a throwing listener does not leave the model half-updated', () => {
  const { root, pamRom } = pc();
  const as = space(root, 'memory');
  const other = space(MemoryRegion.io('io', 0x100), 'I/O');
  const log: string[] = [];
  let armed = false;
  as.addListener({ regionAdd: () => { if (armed) throw new Error('boom'); } });
  armed = true;
  other.addListener(recorder('io', log));
  log.length = 0;
  expect(() => pamRom.setEnabled(true)).toThrow('boom');
  expect(flat(as)).toHaveLength(4);
  expect(log).toEqual(['io begin', 'io nop io@0+100', 'io commit']); // the other AS was still diffed
  // and the model keeps working
  armed = false;
  pamRom.setEnabled(false);
  expect(flat(as)).toHaveLength(2);
});

test('a listener whose replay throws is not left registered', () => {
  const { root } = pc();
  const as = space(root, 'memory');
  expect(() => as.addListener({ regionAdd: () => { throw new Error('no'); } })).toThrow('no');
  expect(as.listeners).toEqual([]);
});

test('misuse: registering twice, removing an unknown listener', () => {
  const as = space(MemoryRegion.container('c', 0x1000));
  const l: MemoryListener = {};
  as.addListener(l);
  expect(() => as.addListener(l)).toThrow(MemoryRegionError);
  expect(() => as.removeListener({})).toThrow(MemoryRegionError);
  as.removeListener(l);
  expect(as.listeners).toEqual([]);
});

test('destroying an address space reports every range deleted', () => {
  const { root } = pc();
  const as = new AddressSpace(root, 'short-lived');
  const log: string[] = [];
  as.addListener(recorder('L', log));
  log.length = 0;
  as.destroy();
  expect(log).toEqual(['L begin', 'L del pc.ram@0+200000', 'L del hpet@fed00000+400', 'L commit']);
});
