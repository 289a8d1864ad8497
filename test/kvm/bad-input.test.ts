// Bad input at the foundation layer: every row gets a clear typed error, the
// VM still works afterwards, and no file descriptor leaks.
import * as v8 from 'v8';
import * as vmModule from 'vm';
import { allocateHostMemory, Kvm, KvmError } from '../../lib';
import { native } from '../../lib/binding';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { rawGuest } from '../helpers/raw-guest';

/** `mov al, 0x5a; out 0x10, al; hlt` in real mode at 0x1000 (test/helpers/raw-guest.ts). */
const tinyGuest = (kvm: Kvm) => rawGuest(kvm, [0xb0, 0x5a, 0xe6, 0x10, 0xf4], 'real');

/** Runs the tiny guest from the start and checks its two exits. */
function expectGuestWorks(g: ReturnType<typeof tinyGuest>): void {
  g.vcpu.setRegs({ rip: 0x1000n });
  const io = g.vcpu.run();
  expect(io).toMatchObject({ reason: 'io', port: 0x10, direction: 'out' });
  if (io.reason === 'io') expect(io.data[0]).toBe(0x5a);
  expect(g.vcpu.run().reason).toBe('hlt');
}

describeKvm('bad input at the KVM layer', () => {
  let kvm: Kvm;
  let guest: ReturnType<typeof tinyGuest>;
  let fdsBefore: number;

  beforeAll(() => {
    fdsBefore = openFdCount();
    kvm = Kvm.open();
    guest = tinyGuest(kvm);
  });
  afterAll(() => {
    guest.close();
    kvm.close();
    expect(openFdCount()).toBeLessThanOrEqual(fdsBefore);
  });
  afterEach(() => expectGuestWorks(guest));

  test('a /dev/kvm that does not exist: KvmError ENOENT with advice, no fd leaked', () => {
    const before = openFdCount();
    let err: unknown;
    try {
      Kvm.open('/nonexistent/kvm');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'open' });
    expect((err as Error).message).toMatch(/KVM is not available/);
    expect(openFdCount()).toBeLessThanOrEqual(before);
  });

  test('a device that is not KVM: a clear error, no fd leaked', () => {
    const before = openFdCount();
    expect(() => Kvm.open('/dev/null')).toThrow(KvmError); // the API version ioctl fails (ENOTTY)
    expect(openFdCount()).toBeLessThanOrEqual(before);
  });

  test.each([
    ['a number', 123, TypeError],
    ['null', null, TypeError],
  ])('Kvm.open with %s as path: TypeError', (_what, path, type) => {
    expect(() => Kvm.open(path as never)).toThrow(type);
  });

  test.each([
    ['negative', -1, RangeError],
    ['zero', 0, RangeError],
    ['non-integer', 1.5, RangeError],
    ['a string', '4096', TypeError],
    ['above 2^64', 1n << 65n, RangeError],
    ['beyond what the host maps', 1n << 60n, RangeError],
    ['an unsafe number', 2 ** 60, RangeError],
  ])('allocateHostMemory with a %s size', (_what, size, type) => {
    const maps = mappingCount();
    expect(() => allocateHostMemory(size as never)).toThrow(type);
    expect(mappingCount()).toBe(maps);
  });

  test.each([
    ['an unaligned guest address', { guestPhysAddr: 0x20001n }, RangeError, /4 KiB aligned/],
    ['an unaligned size', { memorySize: 0x1001n }, RangeError, /4 KiB aligned/],
    ['a negative size', { memorySize: -4096 }, RangeError, /negative/],
    ['a non-integer slot', { slot: 1.5 }, RangeError, /slot/],
    ['a negative slot', { slot: -1 }, RangeError, /slot/],
    ['unknown flags', { flags: 0x80 }, RangeError, /flags/],
    ['a range past 2^64', { guestPhysAddr: 0xffff_ffff_ffff_f000n, memorySize: 0x2000n }, RangeError, /2\^64/],
    ['a string address', { guestPhysAddr: '0x20000' }, TypeError, /bigint/],
    ['a host address that is not ours', { userspaceAddr: 0x10000n }, RangeError, /allocateHostMemory/],
  ])('setUserMemoryRegion with %s: refused before the ioctl', (_what, patch, type, message) => {
    const extra = allocateHostMemory(0x4000);
    try {
      const region = { slot: 1, guestPhysAddr: 0x20000n, memorySize: 0x4000n, userspaceAddr: extra.hostAddress, ...patch };
      expect(() => guest.vm.setUserMemoryRegion(region as never)).toThrow(type);
      expect(() => guest.vm.setUserMemoryRegion(region as never)).toThrow(message);
      expect(extra.bytes().length).toBe(0x4000); // not mapped, still closable
    } finally {
      extra.close();
    }
  });

  test('a host range running past the end of its mapping: refused', () => {
    const extra = allocateHostMemory(0x4000);
    try {
      expect(() =>
        guest.vm.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x20000n, memorySize: 0x8000n, userspaceAddr: extra.hostAddress }),
      ).toThrow(/not inside a live mapping/);
    } finally {
      extra.close();
    }
  });

  test('a slot overlapping another: KvmError EEXIST with advice, table unchanged', () => {
    const extra = allocateHostMemory(0x4000);
    try {
      let err: unknown;
      try {
        guest.vm.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x8000n, memorySize: 0x4000n, userspaceAddr: extra.hostAddress });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KvmError);
      expect(err).toMatchObject({ code: 'EEXIST', syscall: 'KVM_SET_USER_MEMORY_REGION' });
      expect((err as Error).message).toMatch(/overlaps/);
      extra.close(); // the failed slot took no reference
    } finally {
      extra.close();
    }
  });

  test('closing host memory a slot still maps: KvmError EBUSY, memory intact', () => {
    let err: unknown;
    try {
      guest.ram.close();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EBUSY' });
    expect((err as Error).message).toMatch(/close the VM/);
    expect(guest.ram.closed).toBe(false);
    expect(guest.ram.bytes()[0x1000]).toBe(0xb0);
  });

  test.each([
    ['null', null, TypeError],
    ['a negative rip', { rip: -1n }, RangeError],
    ['a rip above 2^64', { rip: 1n << 64n }, RangeError],
    ['a string', { rax: '1' }, TypeError],
  ])('setRegs with %s: refused, registers unchanged', (_what, regs, type) => {
    const before = guest.vcpu.getRegs();
    expect(() => guest.vcpu.setRegs(regs as never)).toThrow(type);
    expect(guest.vcpu.getRegs()).toEqual(before);
  });

  test('setSregs with a selector that does not fit 16 bits: RangeError, unchanged', () => {
    const before = guest.vcpu.getSregs();
    expect(() => guest.vcpu.setSregs({ cs: { ...before.cs, selector: 0x10000 } })).toThrow(RangeError);
    expect(guest.vcpu.getSregs()).toEqual(before);
  });

  test('raw ioctls: unknown requests and short buffers are refused', () => {
    const n = native();
    expect(() => guest.vcpu.native.ioctl(0xdeadbeef)).toThrow(/not allowed/);
    expect(() => guest.vm.native.ioctl(n.ioctls.KVM_GET_REGS!, new Uint8Array(144))).toThrow(/not allowed/); // a vCPU ioctl on a VM
    expect(() => guest.vcpu.ioctl('KVM_GET_REGS', new Uint8Array(8))).toThrow(/too small/);
    expect(() => guest.vcpu.ioctl('KVM_GET_REGS', [1, 2] as never)).toThrow(/Uint8Array/);
    // a variable-size struct whose count claims more than the buffer holds
    const msrs = new Uint8Array(8 + 16);
    new DataView(msrs.buffer).setUint32(0, 1000, true);
    expect(() => guest.vcpu.ioctl('KVM_GET_MSRS', msrs)).toThrow(/too small/);
    expect(() => guest.vcpu.ioctl('NO_SUCH_IOCTL')).toThrow(/unknown ioctl/);
  });

  test('native classes cannot be constructed from JavaScript with junk', () => {
    const n = native() as unknown as Record<string, new (...a: unknown[]) => unknown>;
    expect(() => new n.Vm!()).toThrow(/createVm/);
    expect(() => new n.Vcpu!({})).toThrow(/createVcpu/);
    expect(() => new n.HostMemory!('big')).toThrow(/bigint/);
  });

  test('closed handles: KvmError EBADF, views detached, close is idempotent', () => {
    const g = tinyGuest(kvm);
    const view = g.ram.bytes();
    const page = new Uint8Array(g.vcpu.runPage);
    expect(page.length).toBeGreaterThan(0);
    g.vm.close();
    g.vm.close();
    expect(g.vcpu.closed).toBe(true); // closing the VM closes its vCPUs
    expect(page.length).toBe(0); // kvm_run view detached, not dangling
    expect(() => g.vcpu.run()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => g.vcpu.getRegs()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => g.vm.createVcpu(1)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    g.ram.close(); // no slot holds it any more
    g.ram.close();
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined(); // reading a detached view is harmless
    expect(() => g.ram.bytes()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const k = Kvm.open();
    k.close();
    expect(() => k.createVm()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  test('host memory stays mapped while a vCPU of a closed VM could still reach it', () => {
    const g = tinyGuest(kvm);
    g.vm.native.close(); // the raw VM fd only; the vCPU fd keeps the kernel VM alive
    expect(() => g.ram.close()).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    g.vm.close();
    g.ram.close();
  });

  test('repeated create/fail/close cycles leak no fd or mapping', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    for (let i = 0; i < 50; i++) {
      const g = tinyGuest(kvm);
      expect(() => g.vm.createVcpu(0)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expectGuestWorks(g);
      g.close();
    }
    expect(openFdCount()).toBeLessThanOrEqual(fds);
    expect(mappingCount()).toBe(maps);
  });

  test('handles the user forgot to close are closed by the GC', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vmModule.runInNewContext('gc') as () => void;
    // What earlier tests of this file dropped is collected first: otherwise the
    // baseline counts it, and its finalizers running below end under the baseline.
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    const fds = openFdCount();
    const maps = mappingCount();
    (() => {
      for (let i = 0; i < 20; i++) {
        const k = Kvm.open();
        const g = tinyGuest(k);
        expectGuestWorks(g);
        g.ram.bytes(); // a view that dies with everything else
      }
    })();
    expect(openFdCount()).toBeGreaterThan(fds);
    expect(mappingCount()).toBeGreaterThan(maps);
    for (let i = 0; i < 10 && (openFdCount() > fds || mappingCount() > maps); i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    expect(openFdCount()).toBeLessThanOrEqual(fds);
    expect(mappingCount()).toBe(maps);
  });
});
