// Guest faults are reported as exits, never fatal to the process, and the
// vCPU can be reset and run again afterwards.
import { Kvm } from '../../lib';
import { kvmConstant, layout } from '../../lib/binding';
import { decodeExit } from '../../lib/kvm/exits';
import { describeKvm } from '../helpers/kvm';
import { rawGuest } from '../helpers/raw-guest';

const HLT = [0xf4];

describeKvm('guest faults', () => {
  let kvm: Kvm;
  beforeAll(() => (kvm = Kvm.open()));
  afterAll(() => kvm.close());

  /** Runs `code` and returns the first exit; then proves the vCPU still runs a good guest. */
  function firstExit(code: number[], mode: 'real' | 'long' = 'long', tweak?: (g: ReturnType<typeof rawGuest>) => void) {
    const g = rawGuest(kvm, code, mode);
    try {
      tweak?.(g);
      const exit = g.vcpu.run();
      const rip = g.vcpu.getRegs().rip;
      g.reset(HLT);
      expect(g.vcpu.run().reason).toBe('hlt');
      expect(g.vcpu.getRegs().rip).toBe(g.entry + 1n);
      return { exit, rip };
    } finally {
      g.close();
    }
  }

  test('triple fault (ud2 with no IDT) is a shutdown exit', () => {
    const { exit, rip } = firstExit([0x0f, 0x0b]);
    expect(exit.reason).toBe('shutdown');
    expect(rip).toBe(0x100000n); // the faulting instruction
  });

  test('hlt with interrupts off is a hlt exit (no in-kernel irqchip to wait on)', () => {
    const { exit, rip } = firstExit([0xfa, 0xf4]); // cli; hlt
    expect(exit.reason).toBe('hlt');
    expect(rip).toBe(0x100002n);
  });

  test('an instruction fetch from MMIO (no RAM) is an internal error, RIP at the target', () => {
    // movabs rax, 0x400000; jmp rax  -- identity-mapped, but no memory slot there
    const { exit, rip } = firstExit([0x48, 0xb8, 0, 0, 0x40, 0, 0, 0, 0, 0, 0xff, 0xe0]);
    expect(exit).toMatchObject({ reason: 'internalError', suberror: 1, suberrorName: 'emulation failure' });
    expect(rip).toBe(0x400000n);
  });

  test.each([
    ['int3', [0xcc]],
    ['popcnt', [0xf3, 0x48, 0x0f, 0xb8, 0xc0]],
    ['fwait', [0x9b]],
  ])('an instruction the ring-0 emulator rejects (%s): internal error with its bytes', (_name, code) => {
    const { exit, rip } = firstExit(code);
    // Hosts that run ring 0 natively execute these; this host emulates ring 0.
    if (exit.reason === 'internalError') {
      expect(exit.suberror).toBe(kvmConstant('KVM_INTERNAL_ERROR_EMULATION'));
      expect(rip).toBe(0x100000n);
      if (exit.instructionBytes) expect([...exit.instructionBytes.slice(0, code.length)]).toEqual(code);
    } else {
      expect(['hlt', 'shutdown', 'mmio', 'io']).toContain(exit.reason);
    }
  });

  test('invalid entry state: failEntry (hardware) or shutdown (emulated), never a crash', () => {
    // Ring-3 stack with ring-0 code: VMX refuses to enter; an emulating host triple-faults.
    const { exit } = firstExit(HLT, 'long', (g) => {
      const s = g.vcpu.getSregs();
      g.vcpu.setSregs({ ss: { ...s.ss, dpl: 3, selector: 0x13 } });
    });
    expect(['failEntry', 'shutdown']).toContain(exit.reason);
  });

  test('a state KVM itself rejects (CR0.PG without PE): KvmError EINVAL, vCPU unchanged', () => {
    const g = rawGuest(kvm, HLT);
    try {
      const before = g.vcpu.getSregs();
      expect(() => g.vcpu.setSregs({ cr0: 0x8000_0000n })).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'KVM_SET_SREGS' }));
      expect(g.vcpu.getSregs()).toEqual(before);
      expect(g.vcpu.run().reason).toBe('hlt');
    } finally {
      g.close();
    }
  });
});

describe('exit decoding of reasons this host does not produce', () => {
  // This host emulates invalid guest state instead of failing VM entry, so
  // failEntry is checked against a kvm_run page written here.
  test('failEntry carries the hardware reason and CPU', () => {
    const page = new ArrayBuffer(4096);
    const dv = new DataView(page);
    dv.setBigUint64(layout('run.failEntry.reason'), 0x80000021n, true);
    dv.setUint32(layout('run.failEntry.cpu'), 3, true);
    expect(decodeExit(page, dv, kvmConstant('KVM_EXIT_FAIL_ENTRY'))).toEqual({
      reason: 'failEntry', hardwareEntryFailureReason: 0x80000021n, cpu: 3,
    });
  });

  test('systemEvent carries its type and data', () => {
    const page = new ArrayBuffer(4096);
    const dv = new DataView(page);
    dv.setUint32(layout('run.systemEvent.type'), 2, true); // KVM_SYSTEM_EVENT_RESET
    dv.setUint32(layout('run.systemEvent.ndata'), 1, true);
    dv.setBigUint64(layout('run.systemEvent.data'), 7n, true);
    expect(decodeExit(page, dv, kvmConstant('KVM_EXIT_SYSTEM_EVENT'))).toEqual({ reason: 'systemEvent', type: 2, data: [7n] });
  });

  test('an exit number KVM may add later is unknown, not an error', () => {
    const page = new ArrayBuffer(4096);
    expect(decodeExit(page, new DataView(page), 9999)).toEqual({ reason: 'unknown', exitReason: 9999 });
  });
});
