// The `exception` stop reason (issue 15): a guest without a usable IDT that
// faults is reported with the vector, the error code (and CR2 for a page
// fault) and the faulting RIP, in ring 0 and ring 3, instead of a bare
// triple fault; where the vector cannot be known for sure (an IDT whose
// gates are missing) the run still ends with 'shutdown'.
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';

const LOAD = 0x100000n;

describeKvm("run reason 'exception'", () => {
  async function runCode(code: number[]) {
    const { machine } = await testMachine({ mode: 'long', memory: '4M' });
    machine.load(Uint8Array.from(code));
    return { machine, r: await machine.run({ timeoutMs: 20000 }) };
  }

  test.each([
    ['#UD (ud2)', [0x0f, 0x0b], { vector: 6 }, 0n],
    ['#DE (div by 0)', [0x31, 0xc9, 0xf7, 0xf1], { vector: 0 }, 2n], // xor ecx, ecx; div ecx
    ['#GP(0) (a non-canonical address)', [0x48, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0x80], { vector: 13, errorCode: 0 }, 0n], // movabs 0x8000000000000000, %rax
    ['#GP(selector) (beyond the GDT)', [0x66, 0xb8, 0x33, 0, 0x8e, 0xd8], { vector: 13, errorCode: 0x30 }, 4n], // mov $0x33, %ax; mov %ax, %ds
    ['#PF (an unmapped address)', [0x48, 0xa1, 0, 0, 0, 0, 0, 0x20, 0, 0], { vector: 14, errorCode: 0, cr2: 0x200000000000n }, 0n], // movabs 0x200000000000, %rax
  ])('ring 0 %s: vector, error code, CR2, RIP and a readable message; the machine runs on', async (_name, code, want, at) => {
    const { machine, r } = await runCode(code);
    try {
      expect(r).toMatchObject({ reason: 'exception', rip: LOAD + at, ...want });
      if (!('errorCode' in want)) expect(r.errorCode).toBeUndefined();
      if (!('cr2' in want)) expect(r.cr2).toBeUndefined();
      expect(r.message).toContain(`the guest took exception ${want.vector} (`);
      expect(r.message).toContain(`at RIP 0x${(LOAD + at).toString(16)} with no usable IDT (IDTR limit 0x0`);
      expect(r.message).toMatch(/triple fault/);
      machine.load(Uint8Array.of(0xf4));
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('hlt');
    } finally {
      machine.close();
    }
  });

  test.each(['registers', 'full'] as const)("after restore(snap, { cpu: '%s' }), whose state stays staged in kvm_run until the run: the same report, every time", async (cpu) => {
    const { machine } = await testMachine({ mode: 'long', memory: '4M' });
    try {
      machine.load(Uint8Array.of(0x0f, 0x0b)); // ud2
      const snap = machine.snapshot();
      for (let i = 0; i < 3; i++) {
        expect(await machine.run({ timeoutMs: 20000 })).toMatchObject({ reason: 'exception', vector: 6, rip: LOAD });
        machine.restore(snap, { cpu });
      }
    } finally {
      machine.close();
    }
  });

  test('ring 3: #UD at the faulting RIP', async () => {
    const { machine } = await testMachine({ mode: 'long', memory: '4M' });
    try {
      const img = assemble('memory-hooks.S');
      machine.load(img);
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('hlt'); // the ring-0 half
      const fault = LOAD + new DataView(img.buffer, img.byteOffset).getBigUint64(img.length - 8, true);
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'exception', vector: 6, rip: fault });
      expect(machine.vcpu.getSregs().cs.selector & 3).toBe(3);
    } finally {
      machine.close();
    }
  });

  test('an IDT with room for every gate but none present: the vector is not known, the run ends with shutdown', async () => {
    // lidt (%rip+2); ud2; .word 0xfff; .quad 0x10000 (zeroed RAM: no gate present)
    const { machine, r } = await runCode([0x0f, 0x01, 0x1d, 0x02, 0, 0, 0, 0x0f, 0x0b, 0xff, 0x0f, 0, 0, 1, 0, 0, 0, 0, 0]);
    try {
      expect(r.reason).toBe('shutdown');
      expect(r.vector).toBeUndefined();
      expect(r.rip).toBe(LOAD + 7n);
      expect(r.message).toMatch(/triple fault/);
    } finally {
      machine.close();
    }
  });
});
