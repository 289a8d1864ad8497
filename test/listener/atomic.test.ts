// Atomic slot updates: a vCPU runs on its native thread, reading RAM in a
// loop, while the host re-maps the neighbouring PAM-like window 10,000 times.
// Every toggle deletes and re-creates the slot the guest executes from and
// reads (split <-> merge), so without holding the vCPU outside KVM_RUN the
// guest would hit a missing page (QEMU < 8.0's bug).
import { transaction } from '../../lib/memory';
import { Kvm } from '../../lib';
import { VcpuThread } from '../../lib/kvm/vcpu-thread';
import { setupRealMode } from '../../lib/x86/modes';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { smallPc } from '../helpers/small-pc';

const TOGGLES = 10_000;

describeKvm('KVM memory listener: atomic updates under a running vCPU', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  function machine() {
    const pc = smallPc();
    const mem = pc.ram.bytes();
    mem.set(assemble('ram-reader.S', ['--32']), 0x1000);
    mem[0x2000] = 0xaa; mem[0x2001] = 0x55;
    mem[0xdfff0] = 0xe7; mem[0xdfff1] = 0x7e;
    return { ...pc, mem };
  }

  function run(atomic: boolean) {
    const m = machine();
    const vm = kvm.createVm();
    try {
      const listener = vm.addAddressSpace(m.as, { atomic });
      const vcpu = vm.createVcpu(0);
      setupRealMode(vcpu, { cs: 0, ip: 0x1000 });
      const thread = new VcpuThread(vcpu);
      const counter = () => new DataView(m.mem.buffer, m.mem.byteOffset + 0x2008, 4).getUint32(0, true);
      thread.resume();
      const t0 = process.hrtime.bigint();
      let early = null;
      let firstCount = -1;
      const ioctls0 = listener.ioctlCount;
      for (let i = 0; i < TOGGLES; i++) {
        const rw = i % 2 === 0;
        transaction(() => {
          m.pamPci.setEnabled(!rw);
          m.pamRam.setEnabled(rw);
        });
        if (i === 100) firstCount = counter();
        if ((i & 63) === 0) {
          early = thread.poll();
          if (early) break;
        }
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const ioctls = listener.ioctlCount - ioctls0;
      m.mem[0x2002] = 1; // ask the guest to stop
      const exit = early ?? thread.wait(10_000);
      const stats = thread.stats();
      const regs = vcpu.getRegs();
      // describe the exit now: its data views die with the vCPU
      const exitText = JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v instanceof Uint8Array ? [...v] : v));
      thread.stop();
      return { exit, exitText, stats, regs, ms, ioctls, firstCount, lastCount: counter(), slots: vm.slots() };
    } finally {
      vm.close();
      m.close();
    }
  }

  test(`guest reads RAM correctly through ${TOGGLES} split/merge re-maps of its own slot`, () => {
    const r = run(true);
    // the guest halted normally, after the host asked: no fault, no wrong value (no `out`)
    expect(r.exit?.reason).toBe('hlt');
    expect(r.regs.rax & 0xffffn).toBe(0x7ee7n);
    // it really ran during the re-maps, and the re-maps really kicked it out of KVM_RUN
    expect(r.firstCount).toBeGreaterThan(0);
    expect(r.lastCount).toBeGreaterThan(r.firstCount);
    expect(r.stats.holds).toBe(TOGGLES);
    expect(r.stats.holdExits).toBeGreaterThan(0); // (the rest found the thread between runs)
    // merge = 3 deletes + 1 add, split = 1 delete + 3 adds
    expect(r.ioctls).toBe(TOGGLES * 4);
    console.log(`atomic stress: ${TOGGLES} re-maps in ${r.ms.toFixed(0)} ms (${(r.ms * 1000 / TOGGLES).toFixed(1)} µs each), ` +
      `${r.ioctls} ioctls, guest iterations ${r.lastCount}, hold exits ${r.stats.holdExits}, KVM_RUN calls ${r.stats.runs}`);
  });

  test('control: without the hold the same re-maps let the guest observe a missing page (QEMU < 8.0)', () => {
    const r = run(false);
    console.log(`non-atomic control: exit ${r.exitText} after ${r.lastCount} iterations`);
    expect(r.exit).not.toBeNull();
    expect(r.exit!.reason).not.toBe('hlt');
  });
});
