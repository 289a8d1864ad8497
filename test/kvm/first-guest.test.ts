// End to end: real guests on real KVM, every exit and the final registers checked.
import { allocateHostMemory, Kvm, VcpuExit } from '../../lib';
import { setupLongMode, setupRealMode } from '../../lib/x86/modes';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

function expectIoOut(exit: VcpuExit, port: number, bytes: number[]): void {
  expect(exit.reason).toBe('io');
  if (exit.reason !== 'io') return;
  expect(exit).toMatchObject({ direction: 'out', port, size: 1, count: 1 });
  expect([...exit.data]).toEqual(bytes);
}

function expectMmioWrite(exit: VcpuExit, address: bigint, bytes: number[]): void {
  expect(exit.reason).toBe('mmio');
  if (exit.reason !== 'mmio') return;
  expect(exit.address).toBe(address);
  expect(exit.isWrite).toBe(true);
  expect(exit.length).toBe(bytes.length);
  expect([...exit.data]).toEqual(bytes);
}

describeKvm('first guests on KVM', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  test('real mode: 2+2 on the serial port, an MMIO write, then hlt', () => {
    const code = assemble('add-real.S', ['--32']);
    const vm = kvm.createVm();
    const ram = allocateHostMemory(0x10000);
    try {
      ram.bytes(0x1000, code.length).set(code);
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, userspaceAddr: ram.hostAddress });
      const vcpu = vm.createVcpu(0);
      setupRealMode(vcpu, { cs: 0, ip: 0x1000 });

      expectIoOut(vcpu.run(), 0x3f8, [0x34]); // '4'
      expectMmioWrite(vcpu.run(), 0xf0000n, [0x42]);
      expect(vcpu.run().reason).toBe('hlt');

      const regs = vcpu.getRegs();
      expect(regs.rbx & 0xffn).toBe(4n);
      expect(regs.rax & 0xffn).toBe(0x34n);
      expect(regs.rdx & 0xffffn).toBe(0x3f8n);
      expect(regs.rip).toBe(0x1000n + BigInt(code.length)); // just past hlt
      expect(vcpu.getSregs().es.base).toBe(0xf0000n);
    } finally {
      vm.close();
      ram.close();
    }
  });

  test('long mode: the same guest in 64-bit code with paging', () => {
    const code = assemble('add-long.S');
    const vm = kvm.createVm();
    const ram = allocateHostMemory(2 << 20);
    try {
      const write = (gpa: bigint, bytes: Uint8Array) => ram.bytes(gpa, bytes.length).set(bytes);
      write(0x100000n, code);
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 2 << 20, userspaceAddr: ram.hostAddress });
      const vcpu = vm.createVcpu(0);
      setupLongMode(vcpu, write, { gdtAddr: 0x500n, pageTableAddr: 0x10000n, identityMapSize: 1n << 30n, entry: 0x100000n, stack: 0x8000n });
      const sregs = vcpu.getSregs();
      expect(sregs.cs.l).toBe(1);
      expect(sregs.efer & 0x500n).toBe(0x500n);

      expectIoOut(vcpu.run(), 0x3f8, [0x34]);
      expectMmioWrite(vcpu.run(), 0x400000n, [0x42]);
      expect(vcpu.run().reason).toBe('hlt');

      const regs = vcpu.getRegs();
      expect(regs.rbx).toBe(4n);
      expect(regs.rax).toBe(0x34n);
      expect(regs.rcx).toBe(0x400000n);
      expect(regs.rip).toBe(0x100000n + BigInt(code.length));
    } finally {
      vm.close();
      ram.close();
    }
  });

  test('guest writes land in host memory, host writes are seen by the guest', () => {
    // mov al,[0x2000]; inc al; mov [0x2001],al; hlt  (real mode, DS=0)
    const code = [0xa0, 0x00, 0x20, 0xfe, 0xc0, 0xa2, 0x01, 0x20, 0xf4];
    const vm = kvm.createVm();
    const ram = allocateHostMemory(0x10000);
    try {
      const bytes = ram.bytes();
      bytes.set(code, 0x1000);
      bytes[0x2000] = 41;
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, userspaceAddr: ram.hostAddress });
      const vcpu = vm.createVcpu(0);
      setupRealMode(vcpu, { ip: 0x1000 });
      expect(vcpu.run().reason).toBe('hlt');
      expect(bytes[0x2001]).toBe(42);
    } finally {
      vm.close();
      ram.close();
    }
  });
});
