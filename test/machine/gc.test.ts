// Machines and regions the program forgot to close are collected: nothing
// process-wide (the address-space and listener lists, the default RAM list)
// keeps them, so the addon's finalizers release their fds and mappings and
// later commits do not pay for them. Runs in a child process with
// --expose-gc, where nothing else (jest) holds objects or shares the heap.
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as v8 from 'v8';
import * as vmModule from 'vm';
import { AddressSpace, MemoryRegion, RamList, addressSpaces, defaultRamList } from '../../lib/memory';
import { describeKvm, mappingCount } from '../helpers/kvm';

const ROOT = path.join(__dirname, '..', '..');

describeKvm('forgotten machines', () => {
  test('100 machines left unclosed: fds and mappings come back after GC, commits stay as fast', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', 'scripts/run-example.js', 'test/machine/fixtures/forgotten-machines.ts'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout) as Record<'before' | 'held' | 'after', { fds: number; mappings: number; commitUs?: number }>;
    process.stdout.write(`forgotten machines: ${r.stdout}`);
    // while referenced, each machine holds 3 fds (kvm, VM, vCPU) and 2 mappings (RAM, kvm_run)
    expect(f.held.fds).toBeGreaterThanOrEqual(f.before.fds + 300);
    expect(f.held.mappings).toBe(f.before.mappings + 200);
    expect(f.after.fds).toBe(f.before.fds);
    expect(f.after.mappings).toBe(f.before.mappings);
    expect(f.after.commitUs!).toBeLessThan(2 * f.before.commitUs! + 5);
  });
});

describe('forgotten regions', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vmModule.runInNewContext('gc') as () => void;
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 8; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  test('a RAM region dropped without close() leaves the default RAM list and is unmapped', async () => {
    await settle();
    const blocks = defaultRamList.blocks.length;
    const mappings = mappingCount();
    (() => { for (let i = 0; i < 20; i++) MemoryRegion.ram(`forgotten${i}`, 0x10000).bytes()[0] = 1; })();
    expect(defaultRamList.blocks.length).toBe(blocks + 20);
    await settle();
    expect(defaultRamList.blocks.length).toBe(blocks);
    expect(mappingCount()).toBe(mappings);
  });

  test('a region still referenced keeps its block and its place in the list', async () => {
    const list = new RamList();
    const a = MemoryRegion.ram('a', 0x40000, { ramList: list });
    (() => { MemoryRegion.ram('gone', 0x40000, { ramList: list }); })();
    await settle();
    expect(list.blocks).toEqual([a.ramBlock]);
    // the collected block's ram_addr range is free again, as after remove()
    const b = MemoryRegion.ram('b', 0x40000, { ramList: list });
    expect(b.ramAddr()).toBe(0x40000n);
    a.close();
    b.close();
  });
});

describe('address spaces', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vmModule.runInNewContext('gc') as () => void;

  test('one whose reference was dropped keeps reporting to its listener while a region of it is alive', async () => {
    const root = MemoryRegion.container('kept-root', 1n << 32n);
    const seen: string[] = [];
    (() => { new AddressSpace(root, 'unreferenced').addListener({ regionAdd: (s) => seen.push(s.mr.name) }); })();
    for (let i = 0; i < 8; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    const dev = MemoryRegion.io('dev', 0x1000);
    root.addSubregion(0x1000n, dev);
    expect(seen).toEqual(['dev']);
    expect(addressSpaces().map((s) => s.name)).toContain('unreferenced');
    for (const s of addressSpaces()) if (s.name === 'unreferenced') s.destroy();
    dev.close();
    root.close();
  });
});
