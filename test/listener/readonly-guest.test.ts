// Read-only really is read-only: a guest writes to ROM, to a read-only alias
// of RAM and to a ROM device; the slots are KVM_MEM_READONLY, so each write
// arrives as an MMIO exit.  Routed with guestMmioAccess, ROM writes are
// dropped (the guest reads back the old value) and the ROM device's write
// callback gets its write.  Leaving romd mode removes the device's slot, so
// reads trap to the device too.
import { AddressSpace, MemoryRegion, transaction } from '../../lib/memory';
import { Kvm, VcpuExit } from '../../lib';
import { guestMmioAccess } from '../../lib/kvm/memory-listener';
import { setupRealMode } from '../../lib/x86/modes';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

describeKvm('KVM memory listener: read-only slots seen from a guest', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  test('writes to ROM and to a read-only alias are dropped, a ROM device gets its writes', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('ram', 0x100000n);
    const bios = MemoryRegion.rom('bios', 0x10000n);
    const deviceWrites: [bigint, bigint, number][] = [];
    const deviceReads: [bigint, number][] = [];
    const flash = MemoryRegion.romDevice('flash', 0x10000n, {
      write: (off, value, size) => {
        deviceWrites.push([off, value, size]);
      },
      read: (off, size) => {
        deviceReads.push([off, size]);
        return 0xab;
      },
    });
    const pamRom = MemoryRegion.alias('pam-rom', ram, 0xd0000n, 0x10000n);
    pamRom.setReadonly(true);
    transaction(() => {
      system.addSubregion(0n, ram);
      system.addSubregionOverlap(0xf0000n, bios, 1);
      system.addSubregionOverlap(0xe0000n, flash, 1);
      system.addSubregionOverlap(0xd0000n, pamRom, 1);
    });
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    try {
      ram.bytes().set(assemble('rom-writer.S', ['--32']), 0x1000);
      bios.bytes()[0x10] = 0x5a;
      flash.bytes()[0x20] = 0x33;
      ram.bytes()[0xd0010] = 0x44;
      vm.addAddressSpace(as);
      const ro = vm.slots().filter((s) => s.flags === 2).map((s) => [s.guestPhysAddr, s.memorySize]);
      expect(ro).toEqual([[0xd0000n, 0x10000n], [0xe0000n, 0x10000n], [0xf0000n, 0x10000n]]);

      const vcpu = vm.createVcpu(0);
      setupRealMode(vcpu, { cs: 0, ip: 0x1000 });
      const mmio: { address: bigint; isWrite: boolean; bytes: number[]; dropped: boolean }[] = [];
      const runToHlt = () => {
        for (let n = 0; n < 100; n++) {
          const exit: VcpuExit = vcpu.run();
          if (exit.reason === 'hlt') return;
          if (exit.reason !== 'mmio') throw new Error(`unexpected exit ${exit.reason}`);
          const { dropped } = guestMmioAccess(as, exit.address, exit.data, exit.isWrite);
          mmio.push({ address: exit.address, isWrite: exit.isWrite, bytes: [...exit.data], dropped });
        }
        throw new Error('guest did not halt');
      };

      runToHlt();
      expect(mmio).toEqual([
        { address: 0xf0010n, isWrite: true, bytes: [0x99], dropped: true },
        { address: 0xe0020n, isWrite: true, bytes: [0x77], dropped: false },
        { address: 0xd0010n, isWrite: true, bytes: [0x66], dropped: true },
      ]);
      expect(deviceWrites).toEqual([[0x20n, 0x77n, 1]]);
      const r = vcpu.getRegs();
      expect(r.rax & 0xffn).toBe(0x5an); // ROM before
      expect(r.rbx & 0xffn).toBe(0x5an); // ROM after the write: unchanged
      expect((r.rdx >> 8n) & 0xffn).toBe(0x33n); // ROM device content read directly (romd)
      expect(r.rdx & 0xffn).toBe(0x44n); // RAM behind the read-only alias: unchanged
      expect(bios.bytes()[0x10]).toBe(0x5a);
      expect(ram.bytes()[0xd0010]).toBe(0x44);

      // romd off: the device's slot goes away, so reads trap to its callback
      flash.setRomdMode(false);
      expect(vm.slots().some((s) => s.guestPhysAddr === 0xe0000n)).toBe(false);
      expect(as.formatFlatView().split('\n')).toContain('00000000000e0000-00000000000effff (prio 1, i/o): flash');
      mmio.length = 0;
      runToHlt();
      expect(mmio).toEqual([{ address: 0xe0020n, isWrite: false, bytes: [0xab], dropped: false }]);
      expect(deviceReads).toEqual([[0x20n, 1]]);
      expect((vcpu.getRegs().rax >> 8n) & 0xffn).toBe(0xabn);
    } finally {
      vm.close();
      as.destroy();
      for (const mr of [pamRom, flash, bios, ram, system]) mr.close();
    }
  });
});
