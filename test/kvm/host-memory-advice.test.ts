/**
 * Guest RAM asks for what QEMU's ram_block_add asks for every RAM block:
 * transparent huge pages (MADV_HUGEPAGE) and no copy into fork()ed children
 * (MADV_DONTFORK). Seen from the outside: the mapping's VmFlags in
 * /proc/self/smaps ("hg", "dc"), and a child_process spawn that leaves guest
 * RAM alone -- without the advice, fork() makes every touched page
 * copy-on-write, and the next write to each page faults.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { allocateHostMemory } from '../../lib/host-memory';
import { MemoryRegion } from '../../lib/memory';

/** The VmFlags of the mapping holding host address `addr`. */
function vmFlags(addr: bigint): string[] {
  for (const entry of fs.readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const [lo, hi] = entry.slice(0, entry.indexOf(' ')).split('-').map((x) => BigInt(`0x${x}`));
    if (addr >= lo && addr < hi) return /^VmFlags:(.*)$/m.exec(entry)![1].trim().split(/\s+/);
  }
  throw new Error(`no mapping holds ${addr.toString(16)}`);
}

/** Minor page faults of rewriting all of `bytes` after a child process was spawned. */
function faultsAfterSpawn(bytes: Uint8Array): number {
  bytes.fill(1);
  expect(spawnSync('true').status).toBe(0);
  const before = process.resourceUsage().minorPageFault;
  bytes.fill(2);
  return process.resourceUsage().minorPageFault - before;
}

const SIZE = 16n << 20n;

test('a RAM block\'s host memory asks for huge pages and stays out of forked children, as in QEMU', () => {
  const mr = MemoryRegion.ram('advised', SIZE);
  try {
    const host = mr.ramBlock!.host;
    expect(vmFlags(host.hostAddress)).toEqual(expect.arrayContaining(['hg', 'dc']));
    // 4,096 pages of 4 KiB: a copy-on-write fault for each would be thousands
    expect(faultsAfterSpawn(host.bytes())).toBeLessThan(64);
  } finally {
    mr.close();
  }
});

test('host memory allocated without the advice is inherited copy-on-write (what the advice avoids)', () => {
  const host = allocateHostMemory(SIZE);
  try {
    expect(vmFlags(host.hostAddress)).not.toContain('dc');
    expect(vmFlags(host.hostAddress)).not.toContain('hg');
    expect(faultsAfterSpawn(host.bytes())).toBeGreaterThan(1000);
  } finally {
    host.close();
  }
});

test('each hint on its own, and bad values refused before anything is mapped', () => {
  for (const [opts, want, not] of [[{ hugePages: true }, 'hg', 'dc'], [{ dontFork: true }, 'dc', 'hg']] as const) {
    const host = allocateHostMemory(SIZE, opts);
    try {
      expect(vmFlags(host.hostAddress)).toContain(want);
      expect(vmFlags(host.hostAddress)).not.toContain(not);
    } finally {
      host.close();
    }
  }
  expect(() => allocateHostMemory(SIZE, { hugePages: 'yes' as unknown as boolean })).toThrow(new TypeError('allocateHostMemory(): hugePages must be a boolean'));
  expect(() => allocateHostMemory(SIZE, { dontFork: 1 as unknown as boolean })).toThrow(TypeError);
  expect(() => allocateHostMemory(SIZE, { hugepages: true } as never)).toThrow(/hugePages/);
});
