/**
 * Global dirty logging, transaction bookkeeping, sections and lookups.
 */
import {
  MemoryRegion, MemoryRegionError, TWO_64, beginTransaction, commitTransaction, startGlobalDirtyLog,
  stopGlobalDirtyLog, transaction, transactionDepth,
} from '../../lib/memory';
import { cleanup, space, track } from './util';

afterEach(cleanup);

test('global dirty logging adds the MIGRATION bit to RAM ranges (log_start per range), not to MMIO', () => {
  const root = MemoryRegion.container('system', TWO_64);
  const ram = track(MemoryRegion.ram('ram', 0x10000));
  root.addSubregion(0, ram);
  root.addSubregion(0x100000, MemoryRegion.io('mmio', 0x1000));
  const as = space(root);
  const log: string[] = [];
  as.addListener({
    logGlobalStart: () => log.push('globalStart'),
    logGlobalStop: () => log.push('globalStop'),
    logStart: (s, o, n) => log.push(`start ${s.mr.name} ${o}->${n}`),
    logStop: (s, o, n) => log.push(`stop ${s.mr.name} ${o}->${n}`),
  });
  try {
    startGlobalDirtyLog();
    expect(log).toEqual(['globalStart', 'start ram 0->4']);
    expect(ram.dirtyLogMask).toBe(4);
    ram.setDirtyLogging(true);
    expect(log.slice(2)).toEqual(['start ram 4->5']);
  } finally {
    stopGlobalDirtyLog();
  }
  // the stop: bits cleared in an update transaction, then log_global_stop
  expect(log.slice(3)).toEqual(['stop ram 5->1', 'globalStop']);
  expect(ram.dirtyLogMask).toBe(1);
});

test('transaction depth, and a commit without a begin is refused', () => {
  expect(transactionDepth()).toBe(0);
  expect(() => commitTransaction()).toThrow(MemoryRegionError);
  beginTransaction();
  beginTransaction();
  expect(transactionDepth()).toBe(2);
  commitTransaction();
  commitTransaction();
  expect(transactionDepth()).toBe(0);
  // transaction() returns the function's value and commits even when it throws
  expect(transaction(() => 42)).toBe(42);
  const root = MemoryRegion.container('system', TWO_64);
  const as = space(root);
  expect(() => transaction(() => {
    root.addSubregion(0x1000, MemoryRegion.io('kept', 0x10));
    throw new Error('stop');
  })).toThrow('stop');
  expect(transactionDepth()).toBe(0);
  expect(as.flatView().map((f) => f.mr.name)).toEqual(['kept']);
});

test('sections mirror the FlatRanges; findSection clips like memory_region_find', () => {
  const root = MemoryRegion.container('system', TWO_64);
  const dev = MemoryRegion.io('dev', 0x1000);
  const t = MemoryRegion.io('t', 0x10000);
  root.addSubregion(0x1000, dev);
  root.addSubregion(0x4000, MemoryRegion.alias('a', t, 0x200, 0x800));
  const as = space(root);
  const secs = as.sections();
  expect(secs.map((s) => [s.mr.name, s.offsetWithinAddressSpace, s.size, s.offsetWithinRegion, s.addressSpace === as])).toEqual([
    ['dev', 0x1000n, 0x1000n, 0n, true],
    ['t', 0x4000n, 0x800n, 0x200n, true],
  ]);
  expect(Object.isFrozen(secs[0])).toBe(true);
  const f = as.findSection(0x800, 0x1000)!;
  expect([f.mr.name, f.offsetWithinAddressSpace, f.size, f.offsetWithinRegion]).toEqual(['dev', 0x1000n, 0x800n, 0n]);
  const g = as.findSection(0x4100, 0x10)!;
  expect([g.mr.name, g.offsetWithinAddressSpace, g.size, g.offsetWithinRegion]).toEqual(['t', 0x4100n, 0x10n, 0x300n]);
  expect(as.findSection(0x3000, 0x100)).toBeNull();
});

test('isMapped counts containers and aliases that are mapped', () => {
  const root = MemoryRegion.container('system', TWO_64);
  const t = MemoryRegion.io('t', 0x100);
  expect(t.isMapped).toBe(false);
  const a = MemoryRegion.alias('a', t, 0, 0x100);
  root.addSubregion(0, a);
  expect(t.isMapped).toBe(true);
  root.removeSubregion(a);
  expect(t.isMapped).toBe(false);
});
