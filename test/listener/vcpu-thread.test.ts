// The native vCPU thread on its own: exits delivered through onExit on the
// JavaScript thread, poll/wait, a user kick, hold/release, stop.
import { AddressSpace, MemoryRegion } from '../../lib/memory';
import { Kvm, VcpuExit } from '../../lib';
import { VcpuThread } from '../../lib/kvm/vcpu-thread';
import { setupRealMode } from '../../lib/x86/modes';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

describeKvm('VcpuThread', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  function setup(code: number[]) {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('ram', 0x10000n);
    system.addSubregion(0n, ram);
    const as = new AddressSpace(system, 'memory');
    ram.bytes().set(code, 0x1000);
    const vm = kvm.createVm();
    vm.addAddressSpace(as);
    const vcpu = vm.createVcpu(0);
    setupRealMode(vcpu, { cs: 0, ip: 0x1000 });
    return {
      vm, vcpu, ram,
      close: () => {
        vm.close();
        as.destroy();
        ram.close();
        system.close();
      },
    };
  }

  test('onExit gets each exit on the JavaScript thread; resume continues the guest', async () => {
    // mov al,0x41 ; out 0x80,al ; hlt
    const m = setup([0xb0, 0x41, 0xe6, 0x80, 0xf4]);
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const t = new VcpuThread(m.vcpu, {
          onExit: (exit: VcpuExit) => {
            try {
              if (exit.reason === 'io') {
                seen.push(`io ${exit.direction} ${exit.port.toString(16)} ${[...exit.data]}`);
                t.resume();
              } else {
                seen.push(exit.reason);
                t.stop();
                resolve();
              }
            } catch (e) {
              reject(e);
            }
          },
        });
        t.resume();
      });
      expect(seen).toEqual(['io out 80 65', 'hlt']);
    } finally {
      m.close();
    }
  });

  test('a spinning guest: poll is null, kick reports interrupted, hold/release keep it running, stop ends it', () => {
    const m = setup([0xeb, 0xfe]); // jmp $
    try {
      const t = new VcpuThread(m.vcpu);
      expect(() => new VcpuThread(m.vcpu)).toThrow(RangeError);
      t.resume();
      expect(t.wait(50)).toBeNull();
      expect(() => t.resume()).toThrow(RangeError); // already running
      for (let i = 0; i < 20; i++) {
        const release = m.vm.holdVcpus();
        release();
      }
      expect(t.poll()).toBeNull(); // holds are invisible to the guest's owner
      expect(t.stats().holds).toBe(20);
      t.kick();
      expect(t.wait(5000)?.reason).toBe('interrupted');
      expect(m.vcpu.getRegs().rip).toBe(0x1000n);
      t.stop();
      expect(t.closed).toBe(true);
      t.stop(); // idempotent
    } finally {
      m.close();
    }
  });

  test('closing the VM stops a running thread; no fd or mapping is left behind', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    for (let i = 0; i < 5; i++) {
      const m = setup([0xeb, 0xfe]);
      const t = new VcpuThread(m.vcpu);
      t.resume();
      m.close();
      expect(t.closed).toBe(true);
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBeLessThanOrEqual(maps);
  });
});
