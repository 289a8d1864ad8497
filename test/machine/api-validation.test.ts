// The Machine API (and every other public call taking an options object)
// refuses what it does not understand instead of ignoring it: unknown option
// keys are TypeErrors naming the valid ones; guest addresses are bigints or
// safe-integer numbers wherever the memory API takes them; readGuest() past
// RAM fails as writeGuest() does; a closed machine answers every call with a
// KvmError EBADF. Refused calls leave no fd or mapping behind.
import { PassThrough } from 'stream';
import {
  AddressSpace, allocateHostMemory, createInKernelIrqchip, DebugExit, formatMtree, KvmError, loadFlat, Machine,
  MemoryRegion, RamList, Serial16550A, SnapshotError, setupLongMode, setupRealMode, VcpuThread,
} from '../../lib';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

// mov edx, 0x501; mov al, 0x21; out dx, al; hlt  =>  debug-exit code 0x43
const GUEST = Uint8Array.from([0xba, 0x01, 0x05, 0x00, 0x00, 0xb0, 0x21, 0xee, 0xf4]);
const unknown = (key: string, where: string): RegExp =>
  new RegExp(`^unknown option '${key}' for ${where.replace(/[().{}]/g, '\\$&')}; valid options: `);

describeKvm('options objects', () => {
  let m: Machine;
  beforeAll(() => { m = Machine.createSync({ memory: '4M', serial: { output: null } }); });
  afterAll(() => m.close());

  test('Machine.create() names the misspelt option and the valid ones, and opens nothing', async () => {
    const fds = openFdCount();
    const mappings = mappingCount();
    await expect(Machine.create({ memroy: '32M' } as never)).rejects.toThrow(
      new TypeError("unknown option 'memroy' for Machine.create(); valid options: memory, mode, serial, debugExit, irqchip, cpus, kvmPath, traceSlots"));
    expect(() => Machine.createSync({ serial: { output: null, prot: 0x2f8 } as never })).toThrow(unknown('prot', 'Machine.create({ serial })'));
    expect(() => Machine.createSync({ debugExit: { prot: 0x501 } as never })).toThrow(unknown('prot', 'Machine.create({ debugExit })'));
    expect(() => Machine.createSync('16M' as never)).toThrow(new TypeError('the options of Machine.create() must be an object, got string'));
    expect(() => Machine.createSync(null as never)).toThrow(TypeError);
    // a key whose value is undefined is still a typo
    expect(() => Machine.createSync({ irqchp: undefined } as never)).toThrow(unknown('irqchp', 'Machine.create()'));
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(mappings);
  });

  test('every method of a machine that takes options checks their keys', async () => {
    const snap = m.snapshot();
    const cases: [() => unknown, string, string][] = [
      [() => m.load(GUEST, { adress: 0x200000n } as never), 'adress', 'machine.load()'],
      [() => m.runSync({ timeout: 10 } as never), 'timeout', 'machine.runSync()'],
      [() => m.runSync({ sliceMs: 10 } as never), 'sliceMs', 'machine.runSync()'],
      [() => m.snapshot({ dirty: false } as never), 'dirty', 'machine.snapshot()'],
      [() => m.restore(snap, { cpus: 'full' } as never), 'cpus', 'machine.restore()'],
      [() => m.mtree({ flta: true } as never), 'flta', 'machine.mtree()'],
    ];
    for (const [call, key, where] of cases) expect(call).toThrow(unknown(key, where));
    await expect(m.run({ timeout: 10 } as never)).rejects.toThrow(unknown('timeout', 'machine.run()'));
    // and the machine works as before
    m.load(GUEST);
    expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
  });

  test('Machine.load(file) checks its options before reading the file', () => {
    expect(() => Machine.load('/nonexistent.snap', { setpu: () => undefined } as never)).toThrow(unknown('setpu', 'Machine.load()'));
    expect(() => Machine.load('/nonexistent.snap', { setup: 'no' as never })).toThrow(new TypeError('setup must be a function (machine) => void'));
  });

  test('devices, host memory, vCPU threads, x86 set-up and the memory API check their options too', () => {
    const fds = openFdCount();
    const mappings = mappingCount();
    const cases: [() => unknown, string, string][] = [
      [() => new Serial16550A({ outptu: new PassThrough() } as never), 'outptu', 'new Serial16550A()'],
      [() => new DebugExit({ onExit: () => undefined, nmae: 'x' } as never), 'nmae', 'new DebugExit()'],
      [() => createInKernelIrqchip(m.vm, { pti: false } as never), 'pti', 'createInKernelIrqchip()'],
      [() => allocateHostMemory(4096, { memFd: true } as never), 'memFd', 'allocateHostMemory()'],
      [() => new VcpuThread(m.vcpu, { onexit: () => undefined } as never), 'onexit', 'new VcpuThread()'],
      [() => setupRealMode(m.vcpu, { IP: 0x7c00 } as never), 'IP', 'setupRealMode()'],
      [() => setupLongMode(m.vcpu, m.writeGuest, { gdtAddr: 0x500n, pageTableAddr: 0x1000n, entry: 0n, stak: 0n } as never), 'stak', 'setupLongMode()'],
      [() => MemoryRegion.ram('r', 0x1000, { maxsize: 0x2000 } as never), 'maxsize', 'MemoryRegion.ram()'],
      [() => MemoryRegion.rom('r', 0x1000, { ramlist: new RamList() } as never), 'ramlist', 'MemoryRegion.rom()'],
      [() => new RamList().allocate('b', 0x1000, { shard: true } as never), 'shard', 'RamList.allocate()'],
      [() => formatMtree([m.memory.system], { falt: true } as never), 'falt', 'formatMtree()'],
      [() => m.memory.system.formatTree({ disable: true } as never), 'disable', 'addressSpace.formatTree()'],
    ];
    for (const [call, key, where] of cases) expect(call).toThrow(unknown(key, where));
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(mappings);
    // the valid spelling still works
    const root = MemoryRegion.container('root', 0x10000);
    const as = new AddressSpace(root, 'as');
    expect(as.formatTree({ disabled: false })).toContain('root');
    as.destroy();
    root.close();
  });
});

describeKvm('guest addresses', () => {
  let m: Machine;
  beforeEach(() => { m = Machine.createSync({ memory: '4M', serial: { output: null } }); });
  afterEach(() => m.close());

  test('load() takes a safe-integer address and entry as the memory API does', () => {
    const loaded = m.load(GUEST, { address: 0x200000, entry: 0x200000 });
    expect(loaded).toMatchObject({ entry: 0x200000n, segments: [{ start: 0x200000n, end: 0x200009n }] });
    expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
  });

  test('writeGuest, readGuest, setupMode and loadFlat take numbers; unsafe numbers are refused', () => {
    m.writeGuest(0x3000, Uint8Array.of(1, 2, 3));
    expect(m.readGuest(0x3000, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(m.readGuest(0x3000n, 3n)).toEqual(Uint8Array.of(1, 2, 3));
    expect(loadFlat(GUEST, m.writeGuest, 0x300000, 0x300000).entry).toBe(0x300000n);
    m.setupMode(0x300000);
    expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
    expect(() => m.writeGuest(2 ** 53, Uint8Array.of(1))).toThrow(/beyond Number.MAX_SAFE_INTEGER.*bigint/);
    expect(() => m.load(GUEST, { address: 4096.5 })).toThrow(RangeError);
    expect(() => m.readGuest(-1, 1)).toThrow(RangeError);
    expect(() => m.readGuest('0x1000' as never, 1)).toThrow(TypeError);
  });

  test('readGuest past the end of RAM fails like writeGuest', () => {
    const end = m.memorySize;
    expect(() => m.writeGuest(end - 1n, new Uint8Array(2))).toThrow(new RangeError('guest range 0x3fffff-0x400001 is outside RAM (0-0x400000)'));
    expect(() => m.readGuest(end - 1n, 2)).toThrow(new RangeError('guest range 0x3fffff-0x400001 is outside RAM (0-0x400000)'));
    expect(() => m.readGuest(0xfee00000n, 4)).toThrow(RangeError); // the LAPIC page is not RAM
    expect(m.readGuest(end - 2n, 2)).toEqual(new Uint8Array(2));
  });
});

describeKvm('a closed machine', () => {
  test('every method throws a KvmError EBADF that says so (snapshot and restore: SnapshotError "closed")', async () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    const snap = m.snapshot();
    m.close();
    const calls: [string, () => unknown][] = [
      ['load', () => m.load(GUEST)],
      ['writeGuest', () => m.writeGuest(0n, Uint8Array.of(1))],
      ['readGuest', () => m.readGuest(0n, 1)],
      ['setupMode', () => m.setupMode(0x100000n)],
      ['runSync', () => m.runSync()],
      ['stop', () => m.stop()],
      ['addDevice', () => m.addDevice({ snapshotName: 'd', saveState: () => ({}), loadState: () => undefined })],
      ['mtree', () => m.mtree()],
    ];
    for (const [method, call] of calls) {
      let err: unknown;
      try { call(); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(KvmError);
      expect(err).toMatchObject({ code: 'EBADF', syscall: `Machine.${method}`, message: expect.stringContaining('the machine is closed') });
    }
    await expect(m.run()).rejects.toMatchObject({ code: 'EBADF', message: expect.stringContaining('the machine is closed') });
    expect(() => m.snapshot()).toThrow(SnapshotError);
    expect(() => m.restore(snap)).toThrow(expect.objectContaining({ kind: 'closed' }));
    m.close(); // still idempotent
  });
});
