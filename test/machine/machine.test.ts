// The Machine on real KVM: a guest in each CPU mode, ELF and flat loading,
// serial input while the guest runs, vCPU state accessors, clean close().
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { KvmError, LAPIC_REG, Machine } from '../../lib';
import { assemble } from '../helpers/assemble';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-machine-'));
}

describeKvm('Machine', () => {
  test.each([
    ['real', 'mode-real.S', ['--32'], 'real', 0x21],
    ['protected', 'mode-protected.S', ['--32'], 'prot32', 0x41],
    ['long', 'mode-long.S', ['--64'], 'long64', 0x61],
  ] as const)('%s mode: the guest checks its own mode, prints, and exits with its code', async (mode, file, flags, text, code) => {
    const { machine, output } = await testMachine({ mode });
    try {
      machine.load(assemble(file, [...flags]));
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: code });
      expect(output()).toBe(text);
    } finally {
      machine.close();
    }
  });

  test('ELF64 and ELF32 executables: PT_LOAD segments at their addresses, .bss zeroed, entry honoured', async () => {
    const dir = tmpdir();
    const src = path.join(dir, 'g.S');
    // Entry is not the first byte; .data is a second segment; .bss must be zero even if RAM was dirty.
    fs.writeFileSync(src, `
      .text
      .byte 0xf4, 0xf4, 0xf4, 0xf4     # hlt padding: starting here would be wrong
      .globl _start
_start:
      mov value, %eax
      add bss_word, %eax
      mov $0x3f8, %dx
      out %al, %dx
      mov $0x501, %dx
      mov $5, %al
      out %al, %dx
      hlt
      .data
value: .long 0x41
      .bss
bss_word: .long 0
`);
    for (const [bits, mode, asFlag, ldEmu] of [[64, 'long', '--64', 'elf_x86_64'], [32, 'protected', '--32', 'elf_i386']] as const) {
      const obj = path.join(dir, `g${bits}.o`);
      const elf = path.join(dir, `g${bits}.elf`);
      execFileSync('as', [asFlag, '-o', obj, src]);
      execFileSync('ld', ['-m', ldEmu, '-static', '-nostdlib', '-Ttext=0x200000', '-Tdata=0x300000', '-Tbss=0x310000', '-e', '_start', '-o', elf, obj]);
      const { machine, output } = await testMachine({ mode });
      try {
        machine.writeGuest(0x310000n, Uint8Array.of(0xff, 0xff, 0xff, 0xff)); // dirty .bss
        const img = machine.load(elf);
        expect(img.format).toBe(`elf${bits}`);
        expect(img.entry).toBe(0x200004n);
        expect(img.segments.map((s) => s.start)).toEqual(expect.arrayContaining([0x200000n, 0x300000n]));
        const r = await machine.run({ timeoutMs: 10000 });
        expect(r).toMatchObject({ reason: 'debugExit', exitCode: 11 });
        expect(output()).toBe('A');
        expect([...machine.readGuest(0x310000n, 4)]).toEqual([0, 0, 0, 0]);
      } finally {
        machine.close();
      }
    }
    fs.rmSync(dir, { recursive: true });
  });

  test('a 32-bit ELF refuses a long-mode machine and changes nothing', async () => {
    const dir = tmpdir();
    const src = path.join(dir, 'g.S');
    fs.writeFileSync(src, '.globl _start\n_start: hlt\n');
    execFileSync('as', ['--32', '-o', path.join(dir, 'g.o'), src]);
    execFileSync('ld', ['-m', 'elf_i386', '-static', '-nostdlib', '-Ttext=0x200000', '-o', path.join(dir, 'g.elf'), path.join(dir, 'g.o')]);
    const { machine } = await testMachine({ mode: 'long' });
    try {
      const rip = machine.vcpu.getRegs().rip;
      expect(() => machine.load(path.join(dir, 'g.elf'))).toThrow(/needs mode 'protected'/);
      expect(machine.vcpu.getRegs().rip).toBe(rip);
      expect([...machine.readGuest(0x200000n, 1)]).toEqual([0]);
      expect(() => machine.load(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1))).toThrow(RangeError);
      expect(() => machine.load(new Uint8Array(16), { address: 0x3ffff8n })).toThrow(/outside guest RAM/);
    } finally {
      machine.close();
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('serial input arrives from a stream while the guest runs (a polling driver echoes it)', async () => {
    const input = new PassThrough();
    const { machine, output } = await testMachine({ serial: { input } });
    try {
      machine.load(assemble('serial-echo.S'));
      const running = machine.run({ timeoutMs: 10000, sliceMs: 5 });
      setTimeout(() => input.write('hello, '), 20);
      setTimeout(() => input.write('kvm\n'), 60);
      const r = await running;
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x55 });
      expect(output()).toBe('HELLO, KVM\n');
    } finally {
      machine.close();
    }
  });

  test('vCPU state: CPUID and MSRs as the guest sees them, FPU state round trip', async () => {
    const { machine } = await testMachine();
    try {
      const vcpu = machine.vcpu;
      const cpuid = vcpu.getCpuid();
      expect(cpuid.length).toBeGreaterThan(0); // the machine set the supported set
      const leaf0 = { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x65646f6e, edx: 0x6d766b2d, ecx: 0x54534554 }; // "node-kvmTEST"
      vcpu.setCpuid([leaf0, ...cpuid.filter((e) => e.function !== 0)]);
      expect(vcpu.getCpuid().find((e) => e.function === 0)).toMatchObject({ ebx: leaf0.ebx, ecx: leaf0.ecx, edx: leaf0.edx });
      const xmm3 = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
      vcpu.setFpu({ fcw: 0x0372, mxcsr: 0x1f80, xmm: [new Uint8Array(16), new Uint8Array(16), new Uint8Array(16), xmm3] });
      const fpu = vcpu.getFpu();
      expect(fpu.fcw).toBe(0x0372);
      expect([...fpu.xmm[3]]).toEqual([...xmm3]);
      vcpu.setMsrs([[0x174, 0x1234n]]);
      expect(vcpu.getMsr(0x174)).toBe(0x1234n);

      machine.load(assemble('cpu-state.S'));
      expect(vcpu.getMsr(0xc0000080) & 0x500n).toBe(0x500n); // EFER.LME|LMA, as load() -> setupLongMode left it
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r.reason).toBe('hlt');
      const regs = vcpu.getRegs();
      expect([regs.rax, regs.rbx, regs.rdx, regs.rcx]).toEqual([0xdn, 0x65646f6en, 0x6d766b2dn, 0x54534554n]);
      expect(regs.r12).toBe(0x1234n);
      expect(() => vcpu.getMsrs([0xdeadbeef])).toThrow(KvmError);
      expect(() => vcpu.setFpu({ fcw: 0x10000 })).toThrow(RangeError);
      expect(vcpu.getFpu().fcw).toBe(0x0372); // unchanged by the refused call
    } finally {
      machine.close();
    }
  });

  test('the in-kernel IRQ chip: a LAPIC with ID 0, and getLapic without it is a KvmError', async () => {
    const withChip = await testMachine({ irqchip: true });
    try {
      expect(withChip.machine.irqchip).not.toBeNull();
      const lapic = withChip.machine.vcpu.getLapic();
      expect(lapic.id).toBe(0);
      expect(lapic.get(LAPIC_REG.VERSION) & 0xff).toBe(0x14); // KVM's xAPIC version
      withChip.machine.vcpu.setLapic(lapic);
      // The PIT and PICs are in the kernel: a guest that halts waits there, so the run times out.
      withChip.machine.load(Uint8Array.of(0xfa, 0xf4)); // cli; hlt
      expect((await withChip.machine.run({ timeoutMs: 100 })).reason).toBe('timeout');
    } finally {
      withChip.machine.close();
    }
    const without = await testMachine();
    try {
      expect(without.machine.irqchip).toBeNull();
      expect(() => without.machine.vcpu.getLapic()).toThrow(KvmError);
    } finally {
      without.machine.close();
    }
  });

  test('options are validated strictly; close() releases every fd and mapping', async () => {
    await expect(Machine.create({ memory: '16 M' })).rejects.toThrow(RangeError);
    await expect(Machine.create({ memory: '1.5G' })).rejects.toThrow(RangeError);
    await expect(Machine.create({ memory: '16MB' })).rejects.toThrow(RangeError);
    await expect(Machine.create({ memory: '512K' })).rejects.toThrow(/between 1M and 3G/);
    await expect(Machine.create({ mode: 'smm' as never })).rejects.toThrow(RangeError);
    await expect(Machine.create({ serial: { port: 0x10000 } })).rejects.toThrow(RangeError);

    const warm = await Machine.create({ serial: { output: null } });
    warm.close();
    const fds = openFdCount();
    const maps = mappingCount();
    for (let i = 0; i < 5; i++) {
      const m = await Machine.create({ memory: '16M', serial: { output: null } });
      m.load(assemble('mode-long.S'));
      expect((await m.run({ timeoutMs: 10000 })).reason).toBe('debugExit');
      m.close();
      m.close(); // idempotent
      expect(() => m.load(new Uint8Array(1))).toThrow(/closed/);
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });

  test('mtree shows RAM, the serial port and the debug-exit port as QEMU prints them', async () => {
    const { machine } = await testMachine({ memory: '16M' });
    try {
      const tree = machine.mtree();
      expect(tree).toContain('address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n    0000000000000000-0000000000ffffff (prio 0, ram): ram\n');
      expect(tree).toContain('    00000000000003f8-00000000000003ff (prio 0, i/o): serial\n');
      expect(tree).toContain('    0000000000000501-0000000000000502 (prio 0, i/o): isa-debug-exit\n');
      expect(machine.mtree({ flat: true })).toMatch(/0000000000000000-0000000000ffffff \(prio 0, ram\): ram KVM/);
    } finally {
      machine.close();
    }
  });
});
