// `info registers` of a real KVM vCPU against what QEMU 7.2 printed on this
// host (test/fixtures/qemu-hmp): at reset, and after the tiny -bios image
// test/guests/info-registers-bios.S ran into 32-bit protected mode. node-kvm
// runs the same 64 KiB image at 0xf0000 from the reset vector.
import * as fs from 'fs';
import * as path from 'path';
import { allocateHostMemory, Kvm, type HostMemory, type Vm } from '../../lib';
import { kvmConstant, layout } from '../../lib/binding';
import type { Vcpu } from '../../lib/kvm/vcpu';
import { decodeXsaveVectors, XSTATE_AVX, XSTATE_AVX512 } from '../../lib/kvm/vcpu-dump-state';
import { formatInfoRegisters, readInfoRegistersState, type InfoRegistersState } from '../../lib/x86/info-registers';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

const fixture = (name: string) => fs.readFileSync(path.resolve(__dirname, '../fixtures/qemu-hmp', name), 'utf8');
/** QEMU's EDX at reset: its default CPU model's CPUID signature (KVM's own default is 0x600) */
const QEMU64_SIGNATURE = 0x60fb1n;

describeKvm('info registers on a real vCPU', () => {
  let kvm: Kvm;
  let vm: Vm;
  let ram: HostMemory;
  let vcpu: Vcpu;

  beforeEach(() => {
    kvm = Kvm.open();
    vm = kvm.createVm();
    ram = allocateHostMemory(1 << 20);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memorySize: 1n << 20n, userspaceAddr: ram.hostAddress });
    vcpu = vm.createVcpu(0);
  });
  afterEach(() => {
    vm.close();
    ram.close();
    kvm.close();
  });

  test("at reset it is QEMU's text: real mode, the 32-bit layout, XMM0-7", () => {
    vcpu.setRegs({ rdx: QEMU64_SIGNATURE });
    expect(formatInfoRegisters(readInfoRegistersState(vcpu)).split('\n')).toEqual(fixture('reset-info_registers.txt').split('\n'));
  });

  /** Runs a -bios image from the reset vector, as QEMU does but in RAM below 1 MiB (CS base 0xf0000, not 0xffff0000), to its OUT to port 0x80. */
  function runBios(name: string): void {
    const image = assemble(name, ['--32']);
    expect(image.length).toBe(0x10000);
    ram.bytes().set(image, 0xf0000);
    vcpu.setCpuid(kvm.supportedCpuid()); // long mode needs CPUID's LM bit, as QEMU's CPU model has it
    vcpu.setSregs({ cs: { ...vcpu.getSregs().cs, base: 0xf0000n } });
    expect(vcpu.run()).toMatchObject({ reason: 'io', direction: 'out', port: 0x80 });
  }

  test("after the -bios image entered protected mode it is QEMU's text: DPL and types, flags, DR0/DR1, XMM values", () => {
    runBios('info-registers-bios.S');
    expect(formatInfoRegisters(readInfoRegistersState(vcpu)).split('\n')).toEqual(fixture('bios-pm32-info_registers.txt').split('\n'));
  });

  test("in 64-bit code it is QEMU's 64-bit layout: RAX..R15, 16-digit bases, CR2/CR3, TSS64-busy, XMM0-15", () => {
    runBios('info-registers-bios64.S');
    expect(formatInfoRegisters(readInfoRegistersState(vcpu)).split('\n')).toEqual(fixture('bios-long-info_registers.txt').split('\n'));
  });

  test('A20 is the board\'s; after a HLT exit to userspace the vCPU is runnable again (HLT=0), no shadow (II=0)', () => {
    ram.bytes().set([0xfb, 0xf4], 0xffff0); // sti; hlt at linear 0xffff0
    vcpu.setSregs({ cs: { ...vcpu.getSregs().cs, base: 0xf0000n } });
    vcpu.setRegs({ rflags: 0x2n });
    expect(vcpu.run().reason).toBe('hlt');
    const st = readInfoRegistersState(vcpu, false);
    expect(formatInfoRegisters(st).split('\n')[2]).toBe('EIP=0000fff2 EFL=00000202 [-------] CPL=0 II=0 A20=0 SMM=0 HLT=0');
  });

  test('HLT=1 for a halted vCPU and II=1 in an interrupt shadow, as KVM reports them (in-kernel irqchip)', () => {
    const irqVm = kvm.createVm();
    irqVm.createIrqchip(); // KVM takes a halted MP state only with its own LAPIC
    const cpu = irqVm.createVcpu(0);
    try {
      const mp = new Uint8Array(layout('sizeof.kvm_mp_state'));
      new DataView(mp.buffer).setUint32(0, kvmConstant('KVM_MP_STATE_HALTED'), true);
      cpu.ioctl('KVM_SET_MP_STATE', mp);
      const events = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
      new DataView(events.buffer).setUint32(layout('vcpu_events.flags'), kvmConstant('KVM_VCPUEVENT_VALID_SHADOW'), true);
      events[layout('vcpu_events.interrupt.shadow')] = 1; // KVM_X86_SHADOW_INT_MOV_SS
      cpu.ioctl('KVM_SET_VCPU_EVENTS', events);
      const st = readInfoRegistersState(cpu);
      expect([st.halted, st.interruptShadow, st.smm]).toEqual([true, true, false]);
      expect(formatInfoRegisters(st).split('\n')[2]).toBe('EIP=0000fff0 EFL=00000002 [-------] CPL=0 II=1 A20=1 SMM=0 HLT=1');
    } finally {
      irqVm.close();
    }
  });
});

describe('info registers layouts (state given directly)', () => {
  const zero16 = () => new Uint8Array(16);
  const seg = (over: Partial<InfoRegistersState['sregs']['cs']> = {}) => ({
    base: 0n, limit: 0xffffffff, selector: 0x10, type: 3, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, ...over,
  });
  function longModeState(): InfoRegistersState {
    const regs = Object.fromEntries(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']
      .map((n, i) => [n, BigInt(i + 1) << 40n])) as unknown as InfoRegistersState['regs'];
    return {
      regs: { ...regs, rip: 0xffffffff81000000n, rflags: 0x246n },
      sregs: {
        cs: seg({ selector: 0x08, type: 0xb, l: 1, db: 0 }), ds: seg(), es: seg(), fs: seg({ base: 0x7f0000001000n }), gs: seg(), ss: seg({ dpl: 0 }),
        tr: seg({ selector: 0x18, type: 0xb, s: 0, g: 0, db: 0, limit: 0x67, base: 0xfffffe0000001000n }), ldt: seg({ selector: 0, type: 2, s: 0, present: 0, unusable: 1, db: 0, g: 0 }),
        gdt: { base: 0xfffffe0000000000n, limit: 0x7f }, idt: { base: 0xfffffe0000000000n, limit: 0xfff },
        cr0: 0x80050033n, cr2: 0x7f0000002000n, cr3: 0x1234000n, cr4: 0x3506f0n, cr8: 0n, efer: 0xd01n, apicBase: 0xfee00900n,
        interruptBitmap: [0n, 0n, 0n, 0n],
      },
      debugRegs: { db: [0n, 0n, 0n, 0n], dr6: 0xffff0ff0n, dr7: 0x400n },
      fpu: { fpr: Array.from({ length: 8 }, zero16), fcw: 0x37f, fsw: 0, ftwx: 0, lastOpcode: 0, lastIp: 0n, lastDp: 0n, xmm: Array.from({ length: 16 }, (_, i) => Uint8Array.from({ length: 16 }, () => i)), mxcsr: 0x1f80 },
      xcr0: 1n, interruptShadow: true, smm: false, halted: true, a20: true,
    };
  }

  test('64-bit code prints the RAX..R15 layout, 16-digit bases, 64-bit system types and XMM0-15', () => {
    const lines = formatInfoRegisters(longModeState()).split('\n');
    expect(lines.slice(0, 15)).toEqual([
      'RAX=0000010000000000 RBX=0000020000000000 RCX=0000030000000000 RDX=0000040000000000',
      'RSI=0000050000000000 RDI=0000060000000000 RBP=0000080000000000 RSP=0000070000000000',
      'R8 =0000090000000000 R9 =00000a0000000000 R10=00000b0000000000 R11=00000c0000000000',
      'R12=00000d0000000000 R13=00000e0000000000 R14=00000f0000000000 R15=0000100000000000',
      'RIP=ffffffff81000000 RFL=00000246 [---Z-P-] CPL=0 II=1 A20=1 SMM=0 HLT=1',
      'ES =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]',
      'CS =0008 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]',
      'SS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]',
      'DS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]',
      'FS =0010 00007f0000001000 ffffffff 00c09300 DPL=0 DS   [-WA]',
      'GS =0010 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]',
      'LDT=0000 0000000000000000 ffffffff 00000200',
      'TR =0018 fffffe0000001000 00000067 00008b00 DPL=0 TSS64-busy',
      'GDT=     fffffe0000000000 0000007f',
      'IDT=     fffffe0000000000 00000fff',
    ]);
    expect(lines[15]).toBe('CR0=80050033 CR2=00007f0000002000 CR3=0000000001234000 CR4=003506f0');
    expect(lines.filter((l) => l.startsWith('XMM'))).toHaveLength(8);
    expect(lines.at(-2)).toBe('XMM14=0e0e0e0e0e0e0e0e 0e0e0e0e0e0e0e0e XMM15=0f0f0f0f0f0f0f0f 0f0f0f0f0f0f0f0f');
  });

  test('XCR0 with AVX prints YMM registers, with AVX-512 Opmask and ZMM (QEMU\'s order: high quadwords first)', () => {
    const image = new Uint8Array(4096);
    new DataView(image.buffer).setBigUint64(512, 0xe7n, true); // XSTATE_BV: x87, SSE, YMM, opmask, ZMM_Hi256, Hi16_ZMM
    image.fill(0xaa, 576, 576 + 16); // YMM0 high
    image[1088] = 0x5; // k0
    image.fill(0xbb, 1152, 1152 + 32); // ZMM0 bits 511:256
    image.fill(0xcc, 1664 + 64 * 15, 1664 + 64 * 16); // ZMM31
    const vectors = decodeXsaveVectors(image);
    const st = { ...longModeState(), xcr0: 0x7n, vectors };
    expect(XSTATE_AVX).toBe(6n);
    let lines = formatInfoRegisters(st).split('\n').filter((l) => /^(YMM|ZMM|XMM|Opmask)/.test(l));
    expect(lines).toHaveLength(16);
    expect(lines[0]).toBe('YMM00=aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa 0000000000000000 0000000000000000');
    lines = formatInfoRegisters({ ...st, xcr0: XSTATE_AVX512 | 1n }).split('\n').filter((l) => /^(YMM|ZMM|XMM|Opmask)/.test(l));
    expect(lines).toHaveLength(2 + 32);
    expect(lines[0]).toBe('Opmask00=0000000000000005 Opmask01=0000000000000000 Opmask02=0000000000000000 Opmask03=0000000000000000');
    expect(lines[2]).toBe(`ZMM00=${'bbbbbbbbbbbbbbbb '.repeat(4)}${'aaaaaaaaaaaaaaaa '.repeat(2)}0000000000000000 0000000000000000`);
    expect(lines[33]).toBe(`ZMM31=${Array(8).fill('cccccccccccccccc').join(' ')}`);
    // a component in its init state reads as zeros, whatever the image holds
    new DataView(image.buffer).setBigUint64(512, 0x3n, true);
    expect(decodeXsaveVectors(image).ymmHigh[0]).toEqual(new Uint8Array(16));
  });
});
