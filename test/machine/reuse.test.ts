// Reusing a machine: whatever a program left behind in the vCPU must not
// reach the next program loaded, or a snapshot restored, into the same
// machine. Found by the guest-code fuzz (test/fuzz/guest-code.test.ts).
import { Machine } from '../../lib';
import { layout } from '../../lib/binding';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

// mov edx, 0x501; mov al, 0x21; out dx, al; hlt  =>  exit code 0x43
const KNOWN = Uint8Array.from([0xba, 0x01, 0x05, 0x00, 0x00, 0xb0, 0x21, 0xee, 0xf4]);

describeKvm('reusing a machine', () => {
  test('a new program after a run stopped inside rep movs over MMIO: the old instruction does not come back', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      m.writeGuest(0x200000n, new Uint8Array(0x10000).fill(0xaa));
      const zeroed = () => m.readGuest(0x200000n, 0x10000).findIndex((b) => b !== 0);
      m.load(assemble('rep-movs-mmio.S'));
      expect(m.runSync({ maxExits: 5 })).toMatchObject({ reason: 'maxExits' });
      const copied = zeroed();
      expect(copied).toBeGreaterThan(0); // stopped halfway through the copy
      expect(m.vcpu.getRegs().rcx).toBeGreaterThan(0n);
      m.load(KNOWN);
      // Without abandoning the instruction, KVM resumed the copy under the new
      // registers: it kept zeroing RAM instead of running the new program.
      expect(m.runSync({ timeoutMs: 2000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
      expect(zeroed()).toBe(copied);
    } finally {
      m.close();
    }
  });

  test('resumed instead, the instruction continues where it stopped', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      m.load(assemble('rep-movs-mmio.S'));
      m.runSync({ maxExits: 5 });
      const first = m.vcpu.getRegs();
      m.runSync({ maxExits: 5 });
      const second = m.vcpu.getRegs();
      expect(second.rip).toBe(first.rip); // still the same rep movs
      expect(first.rcx - second.rcx).toBeGreaterThanOrEqual(5n); // five more dwords copied
      expect(second.rsi - first.rsi).toBe(4n * (first.rcx - second.rcx));
    } finally {
      m.close();
    }
  });

  test('a snapshot restored after such a stop runs the snapshot\'s program, not the old instruction', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      m.load(assemble('rep-movs-mmio.S'));
      const snap = m.snapshot();
      m.runSync({ maxExits: 7 });
      const first = m.vcpu.getRegs();
      m.restore(snap);
      expect(m.runSync({ maxExits: 7 })).toMatchObject({ reason: 'maxExits' });
      const again = m.vcpu.getRegs();
      // The same instruction, one consistent copy from the snapshot's start:
      // every dword counted down in RCX moved RSI and RDI by 4. (Exactly where
      // a repeated instruction stops depends on KVM's emulator: within a few dwords.)
      expect(again.rip).toBe(first.rip);
      const done = 0x100000n - again.rcx;
      expect(again.rsi).toBe(0xd0000000n + 4n * done);
      expect(again.rdi).toBe(0x200000n + 4n * done);
      expect(done > 0n && done - (0x100000n - first.rcx) < 8n && (0x100000n - first.rcx) - done < 8n).toBe(true);
    } finally {
      m.close();
    }
  });

  test('a pending exception and a hardware breakpoint left by one program do not reach the next', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      m.load(KNOWN);
      expect(m.runSync({ timeoutMs: 2000 })).toMatchObject({ exitCode: 0x43 });
      // What a program stopped mid-way can leave: an injected #GP, and DR7
      // arming an execution breakpoint on the next program's entry (0x100000).
      const events = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
      events[0] = 1; // exception.injected
      events[1] = 13; // #GP
      m.vcpu.ioctl('KVM_SET_VCPU_EVENTS', events);
      const debug = new Uint8Array(layout('sizeof.kvm_debugregs'));
      const dv = new DataView(debug.buffer);
      dv.setBigUint64(0, 0x100000n, true); // DR0
      dv.setBigUint64(32, 0xffff0ff0n, true); // DR6
      dv.setBigUint64(40, 0x401n, true); // DR7: L0, execute breakpoint
      m.vcpu.ioctl('KVM_SET_DEBUGREGS', debug);
      m.load(KNOWN);
      expect(m.runSync({ timeoutMs: 2000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
    } finally {
      m.close();
    }
  });
});
