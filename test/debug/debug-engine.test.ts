// The debug engine on real KVM, with a guest whose instruction stream is
// known (20 × `inc %rax`, 3 bytes each, then hlt): run({ count }) executes
// exactly N instructions, run({ until }) stops before the address, code
// hooks see the instructions they cover, more breakpoints than DR slots
// still stop (by single-stepping where int3 is not reported), bad options
// are refused with the machine still usable.
import { describeKvm } from '../helpers/kvm';
import { testMachine, type TestMachine } from '../helpers/machine';

const INC_RAX = [0x48, 0xff, 0xc0];
const PROGRAM = Uint8Array.from([...Array.from({ length: 20 }, () => INC_RAX).flat(), 0xf4]);

describeKvm('DebugEngine: run({ count, until }), code hooks, breakpoints', () => {
  let tm: TestMachine;
  let entry: bigint;
  beforeEach(async () => {
    tm = await testMachine({ mode: 'long' });
    entry = tm.machine.load(PROGRAM).entry;
    tm.machine.vcpu.setRegs({ rax: 0n });
  });
  afterEach(() => tm.machine.close());
  const at = (n: number) => entry + BigInt(3 * n);

  test('count: N executes exactly N instructions, again and again', async () => {
    const r = await tm.machine.run({ count: 5 });
    expect(r).toMatchObject({ reason: 'debug', debug: { kind: 'count', address: at(5) } });
    expect(tm.machine.vcpu.getRegs()).toMatchObject({ rax: 5n, rip: at(5) });
    await tm.machine.run({ count: 1 });
    expect(tm.machine.vcpu.getRegs()).toMatchObject({ rax: 6n, rip: at(6) });
    const rest = await tm.machine.run({ count: 100 });
    expect(rest.reason).toBe('hlt'); // the guest ended first
    expect(tm.machine.vcpu.getRegs().rax).toBe(20n);
  });

  test('until stops before executing the address; a plain run() afterwards runs to the end', async () => {
    const r = await tm.machine.run({ until: at(12) });
    expect(r).toMatchObject({ reason: 'debug', debug: { kind: 'until', address: at(12) } });
    expect(tm.machine.vcpu.getRegs()).toMatchObject({ rax: 12n, rip: at(12) });
    expect((await tm.machine.run()).reason).toBe('hlt');
    expect(tm.machine.vcpu.getRegs().rax).toBe(20n);
  });

  test('an address hook runs once before its instruction, a range hook before each of its instructions; removed, they are not called', async () => {
    const seen: [bigint, bigint][] = [];
    const ranged: bigint[] = [];
    const one = tm.machine.hooks.code(at(3), (e) => seen.push([e.address, tm.machine.vcpu.getRegs().rax]));
    const range = tm.machine.hooks.code({ start: at(10), end: at(15) - 1n }, (e) => ranged.push(e.address));
    expect((await tm.machine.run()).reason).toBe('hlt');
    expect(seen).toEqual([[at(3), 3n]]);
    expect(ranged).toEqual([10, 11, 12, 13, 14].map(at));
    one.remove();
    range.remove();
    one.remove(); // idempotent
    tm.machine.load(PROGRAM);
    expect((await tm.machine.run()).reason).toBe('hlt');
    expect(seen).toHaveLength(1);
    expect(ranged).toHaveLength(5);
    expect(tm.machine.debug.active).toBe(false);
  });

  test('a hook that calls stop() ends the run before its instruction', async () => {
    tm.machine.hooks.code(at(7), (e) => e.stop());
    const r = await tm.machine.run();
    expect(r.reason).toBe('stopped');
    expect(tm.machine.vcpu.getRegs()).toMatchObject({ rax: 7n, rip: at(7) });
  });

  test('six breakpoints (more than DR0-DR3): each stops in turn, then the guest runs to its end', async () => {
    const stops = [2, 4, 6, 8, 10, 12];
    for (const n of stops) tm.machine.debug.breakpoints.insert(at(n), 'gdb-sw');
    for (const n of stops) {
      const r = await tm.machine.run();
      expect(r).toMatchObject({ reason: 'debug', debug: { kind: 'swbreak', address: at(n) } });
      expect(tm.machine.vcpu.getRegs().rax).toBe(BigInt(n));
    }
    expect((await tm.machine.run()).reason).toBe('hlt');
  });

  test('bad options and hook targets are refused, changing nothing', async () => {
    await expect(tm.machine.run({ count: 0 })).rejects.toThrow(RangeError);
    await expect(tm.machine.run({ count: 1.5 })).rejects.toThrow(RangeError);
    await expect(tm.machine.run({ until: -1 })).rejects.toThrow(RangeError);
    await expect(tm.machine.run({ until: 'x' as unknown as bigint })).rejects.toThrow(TypeError);
    expect(() => tm.machine.hooks.code(at(1), 'cb' as never)).toThrow(TypeError);
    expect(() => tm.machine.hooks.code({ start: at(2), end: at(1) }, () => {})).toThrow(/is above end/);
    expect(tm.machine.debug.active).toBe(false);
    expect((await tm.machine.run()).reason).toBe('hlt');
    expect(tm.machine.vcpu.getRegs().rax).toBe(20n);
  });
});
