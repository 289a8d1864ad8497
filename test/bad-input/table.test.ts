// The bad-input table: every public call given wrong types, negative,
// non-integer, huge or unaligned numbers, reused regions, alias cycles,
// closed handles... Each row names the typed error the user gets; after each
// row the machine must still work exactly as before: a known guest reads a
// TypeScript MMIO device, writes a port and exits with its code, and the flat
// view, the KVM slot table, open fds and host mappings are unchanged.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  AddressSpace, allocateHostMemory, DeviceError, Kvm, KvmError, Machine, MemoryRegion, MemoryRegionError,
  parseSize, Snapshot, SnapshotError, transaction,
} from '../../lib';
import { assemble } from '../helpers/assemble';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

type ErrorClass = abstract new (...args: never[]) => Error;

interface Row {
  /** The public call and what is wrong with its input. */
  call: string;
  run(ctx: Context): unknown;
  error: ErrorClass;
  /** The message must say this (what is wrong, what to do). */
  says: RegExp;
  code?: string;
}

interface Context {
  m: Machine;
  /** How the MMIO device answers reads (rows may make it misbehave; reset after each row). */
  device: { read: () => unknown; write: () => void };
  tmp: string;
}

const MB = 1n << 20n;

const rows: Row[] = [
  // ---- KVM layer
  { call: 'Kvm.open: a path that does not exist', run: () => Kvm.open('/nonexistent/kvm'), error: KvmError, code: 'ENOENT', says: /KVM is not available/ },
  { call: 'Kvm.open: a device that is not KVM', run: () => Kvm.open('/dev/null'), error: KvmError, code: 'ENOTTY', says: /KVM_GET_API_VERSION/ },
  { call: 'Kvm.open: a number as path', run: () => Kvm.open(42 as never), error: TypeError, says: /path must be a string/ },
  { call: 'allocateHostMemory: a negative size', run: () => allocateHostMemory(-1), error: RangeError, says: /negative/ },
  { call: 'allocateHostMemory: a string size', run: () => allocateHostMemory('1M' as never), error: TypeError, says: /bigint/ },
  { call: 'allocateHostMemory: a size above 2^64', run: () => allocateHostMemory(1n << 65n), error: RangeError, says: /larger than 2\^64/ },
  { call: 'allocateHostMemory: a number past 2^53', run: () => allocateHostMemory(2 ** 60), error: RangeError, says: /pass it as a bigint/ },
  { call: 'vm.setUserMemoryRegion: an unaligned guest address', run: ({ m }) => m.vm.setUserMemoryRegion({ slot: 900, guestPhysAddr: 0x4000_0001n, memorySize: 0x1000n, userspaceAddr: 0n }), error: RangeError, says: /4 KiB aligned/ },
  { call: 'vm.setUserMemoryRegion: host memory that is not ours', run: ({ m }) => m.vm.setUserMemoryRegion({ slot: 900, guestPhysAddr: 0x4000_0000n, memorySize: 0x1000n, userspaceAddr: 0x1000n }), error: RangeError, says: /allocateHostMemory/ },
  { call: 'vm.setUserMemoryRegion: a slot over guest RAM', run: ({ m }) => withHostMemory(0x1000, (h) => m.vm.setUserMemoryRegion({ slot: 900, guestPhysAddr: 0n, memorySize: 0x1000n, userspaceAddr: h.hostAddress })), error: KvmError, code: 'EEXIST', says: /delete that slot first/ },
  { call: 'vm.createVcpu: an id already in use', run: ({ m }) => m.vm.createVcpu(0), error: KvmError, code: 'EEXIST', says: /already exists/ },
  { call: 'vm.createVcpu: a negative id', run: ({ m }) => m.vm.createVcpu(-1), error: RangeError, says: /id must be an integer/ },
  { call: 'vm.getDirtyPages: a region without RAM', run: ({ m }) => m.vm.getDirtyPages(MemoryRegion.io('no-ram', 1)), error: TypeError, says: /has no RAM/ },
  { call: 'vm.addAddressSpace: an address space already attached', run: ({ m }) => m.vm.addAddressSpace(m.memory.system), error: RangeError, says: /already registered/ },
  { call: 'vcpu.setRegs: a negative rip', run: ({ m }) => m.vcpu.setRegs({ rip: -1n }), error: RangeError, says: /64 bits/ },
  { call: 'vcpu.setRegs: null', run: ({ m }) => m.vcpu.setRegs(null as never), error: TypeError, says: /expects an object/ },
  { call: 'vcpu.setSregs: CR0.PG without PE', run: ({ m }) => m.vcpu.setSregs({ cr0: 0x8000_0000n }), error: KvmError, code: 'EINVAL', says: /KVM_SET_SREGS/ },
  { call: 'vcpu.setMsrs: an MSR that does not exist', run: ({ m }) => m.vcpu.setMsrs([[0xdeadbeef, 1n]]), error: KvmError, code: 'EINVAL', says: /MSR 0xdeadbeef cannot be written/ },
  { call: 'vcpu.ioctl: a variable-size struct whose count lies', run: ({ m }) => m.vcpu.ioctl('KVM_GET_MSRS', Uint8Array.of(100, 0, 0, 0, 0, 0, 0, 0)), error: RangeError, says: /too small/ },
  { call: 'vcpu.ioctl: a VM ioctl on a vCPU', run: ({ m }) => m.vcpu.ioctl('KVM_CREATE_IRQCHIP'), error: TypeError, says: /not allowed on this handle/ },
  { call: 'vcpu.ioctl: a name that is no ioctl', run: ({ m }) => m.vcpu.ioctl('KVM_MAKE_COFFEE'), error: Error, says: /unknown ioctl KVM_MAKE_COFFEE/ },
  // ---- memory model
  { call: 'MemoryRegion.ram: a negative size', run: () => MemoryRegion.ram('bad', -1), error: RangeError, says: /negative/ },
  { call: 'MemoryRegion.ram: a non-integer size', run: () => MemoryRegion.ram('bad', 1.5), error: RangeError, says: /integer/ },
  { call: 'MemoryRegion.container: a size above 2^64', run: () => MemoryRegion.container('bad', (1n << 64n) + 1n), error: RangeError, says: /larger than 2\^64/ },
  { call: 'MemoryRegion.io: a string size', run: () => MemoryRegion.io('bad', '16' as never), error: TypeError, says: /bigint/ },
  { call: 'MemoryRegion.io: ops.read that is not a function', run: () => MemoryRegion.io('bad', 1, { read: 42 as never }), error: TypeError, says: /ops\.read must be a function/ },
  { call: 'MemoryRegion.romDevice: no ops', run: () => MemoryRegion.romDevice('bad', 0x1000, undefined as never), error: TypeError, says: /ops are mandatory/ },
  { call: 'MemoryRegion.alias: a negative offset', run: ({ m }) => MemoryRegion.alias('bad', m.memory.ram, -1n, 0x1000), error: RangeError, says: /negative/ },
  { call: 'addSubregion: a region that already has a container', run: ({ m }) => m.memory.root.addSubregion(0x4000_0000n, m.memory.ram), error: MemoryRegionError, says: /already a subregion.*alias/ },
  { call: 'addSubregion: a negative address', run: ({ m }) => m.memory.root.addSubregion(-1n, MemoryRegion.io('bad', 1)), error: RangeError, says: /negative/ },
  { call: 'addSubregionOverlap: a non-integer priority', run: ({ m }) => m.memory.root.addSubregionOverlap(0x4000_0000n, MemoryRegion.io('bad', 1), 1.5), error: RangeError, says: /signed 32-bit integer/ },
  { call: 'addSubregion: an alias cycle', run: () => { const c = MemoryRegion.container('c', 0x1000); c.addSubregion(0n, MemoryRegion.alias('a', c, 0, 0x1000)); }, error: MemoryRegionError, says: /cycle/ },
  { call: 'removeSubregion: a region that is not a child', run: ({ m }) => m.memory.root.removeSubregion(MemoryRegion.io('stranger', 1)), error: MemoryRegionError, says: /not a subregion/ },
  { call: 'setAddress: an address past 2^64', run: ({ m }) => m.memory.ram.setAddress(1n << 64n), error: RangeError, says: /64 bits/ },
  { call: 'setSize: a size above 2^64', run: ({ m }) => m.memory.ram.setSize(1n << 65n), error: RangeError, says: /larger than 2\^64/ },
  { call: 'setEnabled: a string', run: ({ m }) => m.memory.ram.setEnabled('yes' as never), error: TypeError, says: /boolean/ },
  { call: 'new AddressSpace: no root', run: () => new AddressSpace(null as never, 'x'), error: TypeError, says: /root must be a MemoryRegion/ },
  { call: 'AddressSpace.read: an address past 2^64', run: ({ m }) => m.memory.system.read(1n << 64n, 1), error: RangeError, says: /64 bits/ },
  { call: 'AddressSpace.write: a string instead of bytes', run: ({ m }) => m.memory.system.write(0x1000n, 'abc' as never), error: TypeError, says: /Uint8Array or an array of byte values/ },
  { call: 'AddressSpace.write: byte values out of range', run: ({ m }) => m.memory.system.write(0x1000n, [1, 256]), error: TypeError, says: /integers 0-255/ },
  { call: 'transaction: not a function', run: () => transaction(42 as never), error: TypeError, says: /expects a function/ },
  { call: 'AddressSpace.read: a negative length', run: ({ m }) => m.memory.system.read(0n, -1), error: RangeError, says: /non-negative/ },
  // ---- machine, guests, devices
  { call: 'Machine.create: memory below 1 MiB', run: () => Machine.createSync({ memory: '1K' }), error: RangeError, says: /between 1M and 3G/ },
  { call: 'Machine.create: a size with an unknown unit', run: () => Machine.createSync({ memory: '16Q' }), error: RangeError, says: /not a size/ },
  { call: 'Machine.create: an unknown CPU mode', run: () => Machine.createSync({ mode: 'turbo' as never }), error: RangeError, says: /'real', 'protected' or 'long'/ },
  { call: 'Machine.create: a serial port past 0xffff', run: () => Machine.createSync({ serial: { port: 0x10000 } }), error: RangeError, says: /serial\.port/ },
  { call: 'parseSize: a negative size', run: () => parseSize('-16M'), error: RangeError, says: /not a size/ },
  { call: 'machine.load: a number', run: ({ m }) => m.load(42 as never), error: TypeError, says: /Uint8Array or a file path/ },
  { call: 'machine.load: an image past the end of RAM', run: ({ m }) => m.load(new Uint8Array(16), { address: 16n * MB - 8n }), error: RangeError, says: /outside guest RAM.*larger memory size/ },
  { call: 'machine.writeGuest: past the end of RAM', run: ({ m }) => m.writeGuest(16n * MB, new Uint8Array(1)), error: RangeError, says: /outside RAM/ },
  { call: 'machine.runSync: a negative timeout', run: ({ m }) => m.runSync({ timeoutMs: -1 }), error: RangeError, says: /timeoutMs/ },
  { call: 'machine.runSync: zero maxExits', run: ({ m }) => m.runSync({ maxExits: 0 }), error: RangeError, says: /maxExits/ },
  { call: 'machine.addDevice: not a device', run: ({ m }) => m.addDevice({} as never), error: TypeError, says: /snapshotName, saveState/ },
  { call: 'machine.restore: not a snapshot', run: ({ m }) => m.restore({} as never), error: TypeError, says: /expects a Snapshot/ },
  { call: 'Snapshot.read: a file that is not a snapshot', run: ({ tmp }) => Snapshot.read(writeFile(tmp, 'not.snap', 'hello, world, this is text')), error: SnapshotError, says: /not a node-kvm snapshot/ },
  { call: 'device read returns garbage (a string) during a guest run', run: (ctx) => { ctx.device.read = () => 'forty-one'; return runKnownGuest(ctx.m); }, error: DeviceError, says: /device "mmio-dev" threw on a 4-byte read at address 0xd0000000 \(guest RIP 0x[0-9a-f]+\): .*must return an integer/ },
  { call: 'device read returns a value wider than 64 bits', run: (ctx) => { ctx.device.read = () => 1n << 70n; return runKnownGuest(ctx.m); }, error: DeviceError, says: /does not fit in 64 bits/ },
  { call: 'device write callback throws', run: ({ m }) => { m.memory.ioRoot.addSubregion(0x700n, MemoryRegion.io('grumpy', 1, { write: () => { throw new Error('grumpy device'); } })); try { m.load(Uint8Array.of(0xb0, 1, 0x66, 0xba, 0x00, 0x07, 0xee, 0xf4), { format: 'flat' }); return m.runSync({ timeoutMs: 2000 }); } finally { m.memory.ioRoot.removeSubregion(m.memory.ioRoot.subregions.find((r) => r.name === 'grumpy')!); } }, error: DeviceError, says: /device "grumpy" threw on a 1-byte write at port 0x700.*grumpy device/ },
];

function withHostMemory<T>(size: number, fn: (h: ReturnType<typeof allocateHostMemory>) => T): T {
  const h = allocateHostMemory(size);
  try {
    return fn(h);
  } finally {
    h.close();
  }
}

function writeFile(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

const HEALTH = assemble('health.S');

function runKnownGuest(m: Machine) {
  m.load(HEALTH);
  return m.runSync({ timeoutMs: 5000 });
}

describeKvm(`bad-input table (${rows.length} rows)`, () => {
  const ctx = {} as Context;
  const reported: number[] = [];
  let baseline: { flat: string; slots: string; fds: number; mappings: number };

  const defaultRead = () => 41;
  beforeAll(() => {
    ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-table-'));
    ctx.m = Machine.createSync({ memory: 16n * MB, serial: { output: null } });
    ctx.device = { read: defaultRead, write: () => {} };
    ctx.m.memory.root.addSubregion(0xd000_0000n, MemoryRegion.io('mmio-dev', 0x1000, {
      read: () => ctx.device.read() as number,
      write: () => ctx.device.write(),
    }));
    ctx.m.memory.ioRoot.addSubregion(0x600n, MemoryRegion.io('reporter', 4, { write: (_o, v) => void reported.push(Number(v)) }));
    expectHealthy(); // and take the baseline
  });
  afterAll(() => {
    ctx.m.close();
    fs.rmSync(ctx.tmp, { recursive: true, force: true });
  });

  function expectHealthy(): void {
    reported.length = 0;
    const r = runKnownGuest(ctx.m);
    expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
    expect(reported).toEqual([42]);
    const now = {
      flat: ctx.m.mtree({ flat: true }),
      slots: JSON.stringify(ctx.m.vm.slots(), (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
      fds: openFdCount(),
      mappings: mappingCount(),
    };
    baseline ??= now;
    expect(now.flat).toBe(baseline.flat);
    expect(now.slots).toBe(baseline.slots);
    expect(now.fds).toBeLessThanOrEqual(baseline.fds);
    expect(now.mappings).toBe(baseline.mappings);
  }

  test.each(rows.map((r) => [r.call, r] as const))('%s', (_call, row) => {
    let err: unknown;
    try {
      row.run(ctx);
    } catch (e) {
      err = e;
    } finally {
      ctx.device.read = defaultRead;
    }
    expect(err).toBeInstanceOf(row.error);
    expect((err as Error).message).toMatch(row.says);
    if (row.code) expect(err).toMatchObject({ code: row.code });
    expectHealthy();
  });

  test('at least 40 rows', () => expect(rows.length).toBeGreaterThanOrEqual(40));
});
