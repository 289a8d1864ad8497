// The pc's remaining ISA and ACPI devices, driven through an I/O address
// space as a guest drives them; the expected values are QEMU 7.2's
// (read with its monitor's i/o commands and the probe guest of
// isa-rest-guest.test.ts): i8257 (hw/dma/i8257.c), isa-fdc without drives
// (hw/block/fdc.c), ioportF0 (hw/i386/pc.c), vmport (hw/i386/vmport.c), the
// PIIX4 PM's acpi-pci-hotplug (hw/acpi/pcihp.c) and acpi-cpu-hotplug
// (hw/acpi/cpu_hotplug.c).
import { AcpiCpuHotplug } from '../../lib/devices/acpi-cpu-hotplug';
import { AcpiPciHotplug } from '../../lib/devices/acpi-pci-hotplug';
import { type Device, deviceRegions, mapDevices } from '../../lib/devices/device';
import { I8257, I8257_PC } from '../../lib/devices/i8257';
import { IoportF0 } from '../../lib/devices/ioport-f0';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { IsaFdc } from '../../lib/devices/isa-fdc';
import type { PciBus } from '../../lib/devices/pci/pci-bus';
import { Vmport, type VmportCpu } from '../../lib/devices/vmport';
import type { Registers } from '../../lib/kvm/registers';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';
import { type DeviceStateValue, stateFromJson, stateToJson } from '../../lib/snapshot/device-state';

const throughFile = (s: DeviceStateValue) => stateFromJson(JSON.parse(JSON.stringify(stateToJson(s))));

/** A vCPU's registers as vmport sees them. */
function fakeCpu(init: Partial<Registers>): VmportCpu & { regs: Registers } {
  const zero = 0n;
  const regs: Registers = {
    rax: zero, rbx: zero, rcx: zero, rdx: zero, rsi: zero, rdi: zero, rsp: zero, rbp: zero, r8: zero, r9: zero, r10: zero,
    r11: zero, r12: zero, r13: zero, r14: zero, r15: zero, rip: zero, rflags: 2n, ...init,
  };
  return { regs, getRegs: () => ({ ...regs }), setRegs: (r) => { Object.assign(regs, r); } };
}

function rig() {
  const events: string[] = [];
  let cpu: VmportCpu | null = null;
  // the pc's root bus: i440FX at 00.0, PIIX3 and its functions at 01.x
  const bus = { functions: [0x00, 0x08, 0x09, 0x0b].map((devfn) => ({ devfn })), device: () => undefined } as unknown as PciBus;
  const dma = I8257_PC.map((o) => new I8257(o));
  const fdc = new IsaFdc({ irq: callbackIrqLine((l) => events.push(`irq6 ${Number(l)}`)) });
  const f0 = new IoportF0(callbackIrqLine((l) => events.push(`irq13 ${Number(l)}`)));
  const vmport = new Vmport({ ramSize: 128n << 20n, cpu: () => cpu });
  const pcihp = new AcpiPciHotplug(bus);
  const cpuhp = new AcpiCpuHotplug(1);
  const devices: Device[] = [f0, ...dma, fdc, vmport, pcihp, cpuhp];
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const memRoot = MemoryRegion.container('system', 1n << 32n);
  mapDevices({ memory: memRoot, io: ioRoot }, devices);
  const io = new AddressSpace(ioRoot, 'I/O');
  const out = (port: number, v: number, len: 1 | 2 | 4 = 1) => io.write(port, Array.from({ length: len }, (_, i) => (v >>> (8 * i)) & 0xff));
  const inp = (port: number, len: 1 | 2 | 4 = 1) => io.read(port, len).data.reduceRight((v, b) => v * 256 + b, 0);
  const close = () => {
    io.destroy();
    for (const r of deviceRegions(devices)) r.close();
    ioRoot.close();
    memRoot.close();
  };
  return { dma, fdc, f0, vmport, pcihp, cpuhp, events, out, inp, close, setCpu: (c: VmportCpu | null) => { cpu = c; } };
}
type Rig = ReturnType<typeof rig>;
function withRig(fn: (r: Rig) => void): void {
  const r = rig();
  try {
    fn(r);
  } finally {
    r.close();
  }
}

describe('i8257', () => {
  test('power-on: every channel masked, status 0; the address and count go through the flip-flop', () => withRig((r) => {
    expect([r.inp(0x08), r.inp(0x09), r.inp(0x0f), r.inp(0xd0), r.inp(0xd2)]).toEqual([0, 0xff, 0, 0, 0xff]);
    r.out(0x0c, 0);
    for (const b of [0x34, 0x12]) r.out(0x04, b);
    for (const b of [0x78, 0x56]) r.out(0x05, b);
    expect([r.inp(0x04), r.inp(0x04), r.inp(0x05), r.inp(0x05)]).toEqual([0x34, 0x12, 0x78, 0x56]);
    r.out(0x06, 0xcd); // a low byte alone does not restart the channel
    expect([r.inp(0x06), r.inp(0x06)]).toEqual([0, 0]);
    r.out(0x06, 0xab); // the flip-flop was on the high byte
    expect([r.inp(0x06), r.inp(0x06)]).toEqual([0xcd, 0xab]);
  }));

  test('mask, request and status bits; a master clear keeps the channels; the page registers', () => withRig((r) => {
    r.out(0x0e, 0);
    r.out(0x0a, 0x06);
    expect(r.inp(0x09)).toBe(0x04);
    r.out(0x09, 0x06);
    expect([r.inp(0x08), r.inp(0x08)]).toEqual([0x40, 0x40]);
    r.out(0x0c, 0);
    r.out(0x02, 0x11);
    r.out(0x02, 0x22);
    r.out(0x0d, 0);
    expect([r.inp(0x09), r.inp(0x08), r.inp(0x02), r.inp(0x02)]).toEqual([0xff, 0, 0x11, 0x22]);
    [0x81, 0x82, 0x83, 0x87, 0x89, 0x8a, 0x8b, 0x8f].forEach((p, i) => r.out(p, i + 1));
    expect([0x81, 0x82, 0x83, 0x84, 0x87, 0x89, 0x8f].map((p) => r.inp(p))).toEqual([1, 2, 3, 0xff, 4, 5, 8]);
    expect([r.inp(0x81, 2), r.inp(0x83, 2), r.inp(0x81, 4)]).toEqual([0x0201, 0xff03, 0xffffffff]);
  }));

  test('the 16-bit controller: ports two apart, addresses in words', () => withRig((r) => {
    r.out(0xd8, 0);
    r.out(0xc4, 0x34);
    r.out(0xc4, 0x12);
    expect([r.inp(0xc5), r.inp(0xc4)]).toEqual([0x34, 0x12]);
    r.out(0xd4, 0x05);
    expect(r.inp(0xd2)).toBe(0xff);
    r.out(0xdc, 0);
    expect(r.inp(0xd2)).toBe(0);
  }));

  test('reset() is a master clear; state survives a snapshot file; bad state is refused and changes nothing', () => withRig((r) => {
    const [d] = r.dma;
    r.out(0x0e, 0);
    r.out(0x0c, 0);
    r.out(0x00, 0x78);
    r.out(0x83, 0x9a);
    const saved = throughFile(d.saveState());
    d.reset();
    expect([r.inp(0x09), r.inp(0x00), r.inp(0x00), r.inp(0x83)]).toEqual([0xff, 0, 0, 0x9a]); // base 0x0078 but not restarted
    d.loadState(saved);
    expect(r.inp(0x09)).toBe(0);
    expect(() => d.loadState({ ...(saved as object), mask: 300 })).toThrow(RangeError);
    expect(() => d.loadState({ ...(saved as object), regs: [] })).toThrow(TypeError);
    expect(r.inp(0x09)).toBe(0);
    expect(() => new I8257({ base: 0, pageBase: 0x80, dshift: 2 as 0 })).toThrow(/dshift must be 0/);
  }));
});

describe('isa-fdc without drives', () => {
  test('power-on registers; leaving reset raises IRQ 6 and four SENSE INTERRUPT STATUS answers follow', () => withRig((r) => {
    expect([0x3f1, 0x3f2, 0x3f3, 0x3f4, 0x3f5, 0x3f7].map((p) => r.inp(p))).toEqual([0xc0, 0x0c, 0x00, 0x80, 0x00, 0x80]);
    expect(r.inp(0x3f1, 4)).toBe(0xffffffff);
    r.out(0x3f2, 0x08);
    r.out(0x3f2, 0x3d);
    expect(r.events.splice(0)).toEqual(['irq6 1']);
    expect([r.inp(0x3f1), r.inp(0x3f2), r.inp(0x3f4)]).toEqual([0xc0, 0x3d, 0x80]);
    const sense = () => { r.out(0x3f5, 0x08); return [r.inp(0x3f5), r.inp(0x3f5)]; };
    expect([sense(), sense(), sense(), sense()]).toEqual([[0xc0, 0], [0xc1, 0], [0xc2, 0], [0xc3, 0]]);
    expect(r.events.splice(0)).toEqual(['irq6 0']);
    r.out(0x3f5, 0x08);
    expect([r.inp(0x3f4), r.inp(0x3f5), r.inp(0x3f4)]).toEqual([0xd0, 0x80, 0x80]); // nothing pending: invalid
  }));

  test('commands: VERSION, LOCK, SENSE DRIVE STATUS, SPECIFY, DUMPREG; a seek interrupts; a READ ends abnormally', () => withRig((r) => {
    const cmd = (...bytes: number[]) => bytes.forEach((b) => r.out(0x3f5, b));
    const result = (n: number) => Array.from({ length: n }, () => r.inp(0x3f5));
    cmd(0x10);
    expect(result(1)).toEqual([0x90]);
    cmd(0x94);
    expect(result(1)).toEqual([0x10]);
    cmd(0x04, 0x05);
    expect(result(1)).toEqual([0x7d]);
    cmd(0x03, 0xdf, 0x03);
    expect(r.inp(0x3f2)).toBe(0x05); // DMA off; drive 1 selected by SENSE DRIVE STATUS
    cmd(0x0f, 0x00, 0x05);
    expect(r.events.splice(0)).toEqual(['irq6 1']);
    cmd(0x08);
    expect(result(2)).toEqual([0x20, 0]);
    cmd(0x0e);
    expect(result(10)).toEqual([0, 0, 0, 0, 0x0d, 0x02, 0, 0x80, 0x60, 0]);
    cmd(0x46, 0, 0, 0, 1, 2, 18, 0x1b, 0xff);
    expect(r.inp(0x3f4)).toBe(0xd0);
    expect(result(7)).toEqual([0x40, 0x80, 0, 0, 0, 1, 2]);
    expect(r.events.splice(0)).toEqual(['irq6 0', 'irq6 1', 'irq6 0']);
  }));

  test('reset() ends the command but keeps CONFIGURE (fdctrl_reset); the state survives a snapshot file mid-command', () => withRig((r) => {
    r.out(0x3f5, 0x13);
    for (const b of [0, 0x57, 0x10]) r.out(0x3f5, b);
    r.out(0x3f5, 0x0e);
    expect(r.inp(0x3f5)).toBe(0);
    const saved = throughFile(r.fdc.saveState());
    r.fdc.reset();
    expect([r.inp(0x3f4), r.inp(0x3f2)]).toEqual([0x80, 0x0c]);
    r.out(0x3f5, 0x0e);
    expect(Array.from({ length: 10 }, () => r.inp(0x3f5)).slice(7)).toEqual([0, 0x57, 0x10]); // LOCK, CONFIGURE stay
    r.fdc.loadState(saved);
    expect(r.inp(0x3f4)).toBe(0xd0);
    expect(Array.from({ length: 9 }, () => r.inp(0x3f5))).toEqual([0, 0, 0, 0, 0x01, 0, 0, 0x57, 0x10]);
    expect(() => r.fdc.loadState({ ...(saved as object), fifo: new Uint8Array(3) })).toThrow(TypeError);
    expect(() => r.fdc.loadState({ ...(saved as object), curDrv: 2 })).toThrow(RangeError);
    expect(() => new IsaFdc({} as never)).toThrow(/irq is required/);
  }));
});

describe('ioportF0, vmport', () => {
  test('ioportF0 reads all ones; a write lowers FERR', () => withRig((r) => {
    expect([r.inp(0xf0), r.inp(0xf0, 2)]).toEqual([0xff, 0xffff]);
    r.out(0xf0, 0);
    expect(r.events).toEqual(['irq13 0']);
    expect(() => new IoportF0(undefined as never)).toThrow(TypeError);
  }));

  test('vmport: GETVERSION, GETRAMSIZE, GETBIOSUUID, a wrong magic, another command; a byte read sets EAX whole', () => withRig((r) => {
    const call = (rax: bigint, rcx: bigint, len: 1 | 4 = 4) => {
      const cpu = fakeCpu({ rax, rcx, rbx: 0x12345678n, rdx: 0x5658n });
      r.setCpu(cpu);
      const v = r.inp(0x5658, len);
      return [v, cpu.regs.rax, cpu.regs.rbx, cpu.regs.rcx];
    };
    expect(call(0x564d5868n, 0x0an)).toEqual([6, 6n, 0x564d5868n, 2n]);
    expect(call(0x564d5868n, 0x14n)).toEqual([0x08000000, 0x08000000n, 0x1177n, 0x14n]);
    expect(call(0x564d5868n, 0x13n)).toEqual([0, 0n, 0n, 0n]);
    expect(call(0x11111111n, 0x0an)).toEqual([0xffffffff, 0xffffffffn, 0x12345678n, 0x0an]);
    expect(call(0x564d5868n, 0x05n)).toEqual([0xffffffff, 0xffffffffn, 0x12345678n, 0x05n]);
    expect(call(0xffffffff564d5868n, 0x10an, 1)).toEqual([6, 6n, 0x564d5868n, 2n]);
    r.setCpu(null); // a host-side access: no registers to use (QEMU's monitor would crash)
    expect(r.inp(0x5658, 4)).toBe(0xffffffff);
    expect(() => new Vmport({ ramSize: -1 })).toThrow(RangeError);
    expect(() => new Vmport({ ramSize: 1, cpu: 3 as never })).toThrow(TypeError);
  }));
});

describe('the PIIX4 PM hotplug blocks', () => {
  test('acpi-pci-hotplug: dword registers; RMV without the built-in slots; a select with no bus; select 256+ reads 0', () => withRig((r) => {
    expect([0, 4, 8, 0xc, 0x10, 0x14].map((o) => r.inp(0xae00 + o, 4))).toEqual([0, 0, 0, 0xfffffffc, 0, 0]);
    expect([r.inp(0xae0c, 1), r.inp(0xae0c, 2)]).toEqual([0, 0]);
    r.out(0xae10, 5, 4);
    expect([r.inp(0xae10, 4), r.inp(0xae0c, 4)]).toEqual([5, 0xffffffff]);
    r.out(0xae10, 0x1000, 4);
    expect([r.inp(0xae10, 4), r.inp(0xae0c, 4)]).toEqual([0, 0]);
    r.out(0xae10, 3, 4);
    const saved = throughFile(r.pcihp.saveState());
    r.pcihp.reset();
    expect(r.inp(0xae10, 4)).toBe(3); // the select survives a reset
    r.out(0xae10, 0, 4);
    r.pcihp.loadState(saved);
    expect(r.inp(0xae10, 4)).toBe(3);
    expect(() => r.pcihp.loadState({ hotplugSelect: -1 })).toThrow(RangeError);
  }));

  test('acpi-cpu-hotplug: the present CPUs by APIC ID, bytewise; writes change nothing', () => withRig((r) => {
    expect([r.inp(0xaf00), r.inp(0xaf01), r.inp(0xaf1f), r.inp(0xaf00, 2), r.inp(0xaf00, 4)]).toEqual([1, 0, 0, 1, 1]);
    r.out(0xaf00, 0x55);
    expect([r.inp(0xaf00), r.inp(0xaf20)]).toEqual([1, 0xff]);
    const nine = new AcpiCpuHotplug(9);
    try {
      expect(nine.region.name).toBe('acpi-cpu-hotplug');
    } finally {
      nine.region.close();
    }
    expect(() => new AcpiCpuHotplug(0)).toThrow(RangeError);
  }));
});
