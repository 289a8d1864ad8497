// The PIIX3 ISA bridge (00:01.0), the PIIX3 IDE function's PCI side (00:01.1)
// and the PIIX4 PM (00:01.3), driven the way SeaBIOS and a guest drive them:
// configuration through 0xcf8/0xcfc, registers through the "I/O" address
// space.  QEMU 7.2 ground truth: the reset and after-POST dumps and the I/O
// tree after POST.
import { mapDevices } from '../../lib/devices/device';
import { callbackIrqLine, type IrqLine } from '../../lib/devices/irq-line';
import { Piix3 } from '../../lib/devices/piix3';
import { Piix3IdePci } from '../../lib/devices/piix3-ide-pci';
import { Piix4Pm, piix4SystemStates } from '../../lib/devices/piix4-pm';
import type { SleepRequest } from '../../lib/devices/acpi-pm-regs';
import { formatTreeOf } from '../../lib/memory';
import { fakeClock } from './rtc-rig';
import { configRead, configWrite, fixture, pciDump, POST_DUMP, RESET_DUMP, seabiosSouthbridgePost, testPc, type TestPc } from '../helpers/pc';

const MiB = 1n << 20n;
const PM_HZ = 3579545n;

interface Rig {
  pc: TestPc;
  piix3: Piix3;
  ide: Piix3IdePci;
  pm: Piix4Pm;
  isa: boolean[];
  isaWrites: number;
  sci: boolean[];
  resets: string[];
  sleeps: SleepRequest[];
  elcr: [number, number][];
  clock: ReturnType<typeof fakeClock>;
}

let rig: Rig;
beforeEach(() => {
  const pc = testPc(128n * MiB);
  const r = { pc, isa: new Array(16).fill(false), isaWrites: 0, sci: [], resets: [], sleeps: [], elcr: [], clock: fakeClock(0n) } as unknown as Rig;
  const isaIrqs: IrqLine[] = Array.from({ length: 16 }, (_, i) => callbackIrqLine((level) => { r.isa[i] = level; r.isaWrites++; }, `ISA ${i}`));
  r.piix3 = new Piix3({ bus: pc.map.pciBus, isaIrqs, onResetRequest: (k) => r.resets.push(k), onElcrWrite: (i, v) => r.elcr.push([i, v]) });
  r.ide = new Piix3IdePci(pc.map.pciBus);
  r.pm = new Piix4Pm({ bus: pc.map.pciBus, sci: (level) => r.sci.push(level), onSleep: (s) => r.sleeps.push(s), clock: r.clock });
  mapDevices({ memory: pc.map.system, io: pc.map.io }, [r.piix3, r.ide, r.pm]);
  rig = r;
});
afterEach(() => {
  rig.pm.close();
  rig.ide.close();
  rig.piix3.close();
  rig.pc.close();
});

const io = () => rig.pc.map.ioSpace;
const inw = (port: number) => { const d = io().read(port, 2).data; return d[0] | (d[1] << 8); };
const inl = (port: number) => { const d = io().read(port, 4).data; return (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0; };
const outw = (port: number, v: number) => io().write(port, [v & 0xff, v >> 8]);

function configSpace(devfn: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < 256; r += 4) {
    const v = configRead(io(), devfn, r, 4);
    out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  }
  return out;
}

const seabiosPost = () => seabiosSouthbridgePost(io());

describe('configuration space (QEMU 7.2 dumps)', () => {
  test.each([['PIIX3', 0x08, '0008'], ['piix3-ide', 0x09, '0009'], ['PIIX4_PM', 0x0b, '000B']])('%s at reset is QEMU\'s dump, read through 0xcf8/0xcfc', (_name, devfn, fn) => {
    const want = Array.from(pciDump(RESET_DUMP, 'reset', fn));
    expect(configSpace(devfn)).toEqual(want);
    rig.pc.map.pciHost.reset(); // a system reset gives the same bytes
    expect(configSpace(devfn)).toEqual(want);
  });

  test.each([['PIIX3', 0x08, '0008'], ['piix3-ide', 0x09, '0009'], ['PIIX4_PM', 0x0b, '000B']])('%s after SeaBIOS\'s writes is QEMU\'s after-POST dump', (_name, devfn, fn) => {
    seabiosPost();
    expect(configSpace(devfn)).toEqual(Array.from(pciDump(POST_DUMP, 'after-POST', fn)));
  });

  test("after SeaBIOS's writes their I/O regions are QEMU's io-tree lines", () => {
    const names = /\): (kvm-elcr|apm-io|acpi-gpe0|piix4-pm|acpi-evt|acpi-cnt|acpi-tmr|pm-smbus|piix3-reset-control|piix-bmdma-container)$/;
    const want = fixture('m128/post/io-tree.txt').split('\n').filter((l) => names.test(l));
    expect(want).toHaveLength(11);
    seabiosPost();
    const got = formatTreeOf(rig.pc.map.io, false).split('\n').filter((l) => names.test(l));
    expect(got).toEqual(want);
    // and before POST: the PM block disabled at 0 (its children still print, QEMU's quirk), SMBus at 0xb100
    rig.pc.map.pciHost.reset();
    configWrite(io(), 0x0b, 0x41, 0, 1);
    configWrite(io(), 0x0b, 0x90, 0xb101, 4);
    const reset = fixture('m128/reset/io-tree.txt').split('\n').filter((l) => names.test(l));
    expect(formatTreeOf(rig.pc.map.io, false).split('\n').filter((l) => names.test(l))).toEqual(reset);
  });

  test('the BMDMA BAR maps its container where the firmware put it, for the IDE model to fill', () => {
    expect(rig.ide.bar(4)!.region).toBe(rig.ide.bmdmaContainer);
    seabiosPost();
    expect(rig.ide.bar(4)!.address).toBe(0xc000n);
    expect(rig.ide.bmdmaContainer.container).toBe(rig.pc.map.io);
    rig.pc.map.pciHost.reset();
    expect(rig.ide.bmdmaContainer.container).toBeNull();
  });
});

describe('PIIX4 PM registers', () => {
  beforeEach(seabiosPost);

  test('the PM timer counts at 3.579545 MHz from the injected clock and wraps at 24 bits', () => {
    const at = (ns: bigint) => { rig.clock.advance(ns - rig.clock.now()); return inl(0x608); };
    expect(at(0n)).toBe(0);
    expect(at(1_000n)).toBe(3); // 3.58 ticks per µs
    expect(at(1_000_000_000n)).toBe(Number(PM_HZ));
    // 2^24 ticks = 4.687 s: the counter is back near 0
    const wrapNs = ((1n << 24n) * 1_000_000_000n + PM_HZ - 1n) / PM_HZ;
    expect(at(wrapNs - 1_000n)).toBeGreaterThan(0xfffff0);
    expect(at(wrapNs)).toBe(0);
    expect(at(wrapNs + 1_000_000_000n)).toBe(Number(PM_HZ));
    expect(at(3_600n * 1_000_000_000n)).toBe(Number((3_600n * PM_HZ) & 0xffffffn));
    io().write(0x608, [1, 2, 3, 4]); // read-only
    expect(at(3_600n * 1_000_000_000n)).toBe(Number((3_600n * PM_HZ) & 0xffffffn));
  });

  test('PM1 status is write-1-to-clear; the SCI follows status & enable', () => {
    rig.clock.advance(1_000n);
    expect(inw(0x600)).toBe(0x0001); // TMR_STS: set from reset until cleared (QEMU's overflow_time 0)
    outw(0x600, 0x0000);
    expect(inw(0x600)).toBe(0x0001);
    outw(0x602, 0x0001); // TMR_EN
    expect(inw(0x602)).toBe(0x0001);
    expect(rig.sci.at(-1)).toBe(true);
    outw(0x600, 0xfffe); // other bits: TMR_STS stays
    expect(inw(0x600)).toBe(0x0001);
    outw(0x600, 0x0001);
    expect(inw(0x600)).toBe(0x0000);
    expect(rig.sci.at(-1)).toBe(false);
    outw(0x602, 0x0000);
    // sets again when the counter passes the next multiple of 2^23 ticks
    rig.clock.advance(((1n << 23n) * 1_000_000_000n) / PM_HZ - 2_000n);
    expect(inw(0x600)).toBe(0x0000);
    rig.clock.advance(2_000n);
    expect(inw(0x600)).toBe(0x0001);
    expect(rig.sci.at(-1)).toBe(false); // TMR_EN clear: no SCI
  });

  test('with TMR_EN the overflow raises the SCI by itself, from a timer on the clock', () => {
    outw(0x602, 0x0001);
    expect(rig.sci.at(-1)).toBe(true);
    outw(0x600, 0x0001);
    expect(rig.sci.at(-1)).toBe(false);
    expect(rig.clock.pending()).toBe(1);
    const overflowNs = ((1n << 23n) * 1_000_000_000n) / PM_HZ; // 2.34 s
    rig.clock.advance(overflowNs - 1_000n);
    expect(rig.sci.at(-1)).toBe(false);
    rig.clock.advance(2_000n); // no guest access: the timer fired
    expect(rig.sci.at(-1)).toBe(true);
    expect(rig.clock.pending()).toBe(0);
    outw(0x600, 0x0001); // acknowledged: armed for the next 2^23 ticks
    expect(rig.sci.at(-1)).toBe(false);
    expect(rig.clock.pending()).toBe(1);
    outw(0x602, 0x0000);
    expect(rig.clock.pending()).toBe(0);
    outw(0x602, 0x0001);
    rig.pc.map.pciHost.reset(); // reset disarms it (acpi_pm_tmr_reset)
    expect(rig.clock.pending()).toBe(0);
  });

  test('PM1 control: SCI_EN at reset (no SMM), SLP_EN with SLP_TYP 0 → S5, 1 → S3, 2 → S4; APM 0xf0/0xf1', () => {
    expect(inw(0x604)).toBe(0x0001);
    outw(0x604, 0x0001 | (5 << 10)); // SLP_TYP without SLP_EN: stored, nothing asked
    expect(inw(0x604)).toBe(0x1401);
    expect(rig.sleeps).toEqual([]);
    outw(0x604, 0x2001 | (0 << 10));
    expect(rig.sleeps).toEqual(['S5']);
    expect(inw(0x604)).toBe(0x0001); // SLP_EN reads 0
    outw(0x604, 0x2000 | (1 << 10));
    outw(0x604, 0x2000 | (2 << 10));
    outw(0x604, 0x2000 | (5 << 10)); // no such state: ignored
    expect(rig.sleeps).toEqual(['S5', 'S3', 'S4']);
    io().write(0xb2, [0xf1]);
    expect(inw(0x604) & 1).toBe(1);
    io().write(0xb2, [0xf0]);
    expect(inw(0x604) & 1).toBe(0);
    io().write(0xb3, [0x5a]);
    expect(io().read(0xb3, 1).data[0]).toBe(0x5a);
  });

  test('RTC_EN gates the RTC wake-up; after a wake-up WAK_STS and RTC_STS read set; reset disables it again', () => {
    const acpi = rig.pm.acpi;
    expect([acpi.wakeupEnabled('rtc'), acpi.wakeupEnabled('other')]).toEqual([false, true]);
    outw(0x602, 0x0400); // RTC_EN, as x86/s3.c writes it
    expect(acpi.wakeupEnabled('rtc')).toBe(true);
    rig.pc.map.pciHost.reset(); // the wake-up's system reset (acpi_pm1_evt_reset)
    configWrite(io(), 0x0b, 0x80, 1, 1);
    expect(acpi.wakeupEnabled('rtc')).toBe(false);
    acpi.notifyWakeup('rtc');
    expect(inw(0x600) & 0x8500).toBe(0x8400); // WAK_STS | RTC_STS
    expect(rig.sci.filter(Boolean)).toEqual([]); // RTC_EN is clear after the reset
    outw(0x600, 0x8400);
    acpi.notifyWakeup('other'); // QEMU_WAKEUP_REASON_OTHER: reported as the power button
    expect(inw(0x600) & 0x8500).toBe(0x8100);
  });

  test('GPE0 at 0xafe0: status write-1-to-clear, enable, the SCI from byte 0', () => {
    const inb = (p: number) => io().read(p, 1).data[0];
    expect([0xafe0, 0xafe1, 0xafe2, 0xafe3].map(inb)).toEqual([0, 0, 0, 0]);
    io().write(0xafe2, [0x05]);
    io().write(0xafe3, [0xff]);
    expect(inl(0xafe0)).toBe(0xff050000); // a dword read is four byte reads
    io().write(0xafe0, [0xff]); // clearing clear bits: nothing
    expect(inb(0xafe0)).toBe(0);
    expect(rig.sci.filter(Boolean)).toEqual([]);
    rig.pc.map.pciHost.reset();
    expect(inl(0xafe0)).toBe(0);
  });

  test('reset disables the PM block but keeps the base the firmware wrote (QEMU resets 0x40 only)', () => {
    expect(rig.pm.pmBase).toBe(0x600);
    outw(0x604, 0x0000);
    rig.pc.map.pciHost.reset();
    expect(rig.pm.pmBase).toBeNull();
    expect(configRead(io(), 0x0b, 0x40, 4)).toBe(0x601);
    configWrite(io(), 0x0b, 0x80, 1, 1);
    expect(rig.pm.pmBase).toBe(0x600);
    expect(inw(0x604)).toBe(0x0001);
  });

  test('moving the PM base moves the block; etc/system-states is QEMU\'s', () => {
    configWrite(io(), 0x0b, 0x40, 0xb03f, 4); // low 6 bits ignored
    expect(rig.pm.pmBase).toBe(0xb000);
    rig.clock.advance(1_000_000_000n);
    expect(inl(0xb008)).toBe(Number(PM_HZ));
    expect(inl(0x608)).toBe(0xffffffff); // unassigned I/O now
    expect(Array.from(piix4SystemStates())).toEqual([0x80, 0, 0, 0x81, 0x82, 0x80]);
    expect(Array.from(piix4SystemStates({ disableS3: true, disableS4: true }))).toEqual([0x80, 0, 0, 0x01, 0x02, 0x80]);
    expect(() => piix4SystemStates({ s4Value: 8 })).toThrow(RangeError);
  });

  test('saveState / loadState keep the ACPI registers; a bad state changes nothing', () => {
    outw(0x602, 0x0001);
    const saved = rig.pm.saveState();
    outw(0x602, 0x0000);
    configWrite(io(), 0x0b, 0x80, 0, 1);
    rig.pm.loadState(saved);
    expect(rig.pm.pmBase).toBe(0x600);
    expect(inw(0x602)).toBe(0x0001);
    const bad = { ...saved, acpi: { ...saved.acpi, en: 0x10000 } };
    configWrite(io(), 0x0b, 0x80, 0, 1);
    expect(() => rig.pm.loadState(bad)).toThrow('en must be a 16-bit');
    expect(rig.pm.pmBase).toBeNull();
    expect(() => rig.pm.loadState({ ...saved, apmStatus: -1 })).toThrow(RangeError);
  });
});

describe('PIIX3 PIRQ routing, ELCR, reset control', () => {
  test('PIRQ routing retargets a line; PIRQs are wired-OR; 0x80 disables', () => {
    const a = rig.piix3.intxLine(0x18, 1); // slot 3 INTA# → PIRQC
    const b = rig.piix3.pirqLine(2);
    expect(Piix3.pirqOf(0x18, 1)).toBe(2);
    expect(Piix3.pirqOf(0x08, 1)).toBe(0);
    expect(Piix3.pirqOf(0x10, 4)).toBe(0);
    expect([0, 1, 2, 3].map((p) => rig.piix3.pirqRoute(p))).toEqual([null, null, null, null]);
    a.set(true);
    expect(rig.isa.some(Boolean)).toBe(false); // disabled: goes nowhere
    configWrite(io(), 0x08, 0x62, 11, 1);
    expect(rig.piix3.pirqRoute(2)).toBe(11);
    expect(rig.isa[11]).toBe(true);
    b.set(true);
    a.set(false);
    expect(rig.isa[11]).toBe(true); // b still holds PIRQC
    b.set(false);
    expect(rig.isa[11]).toBe(false);
    a.set(true);
    configWrite(io(), 0x08, 0x60, 0x0b0a0a0a, 4); // PIRQC moves to 10 (and A, B, D elsewhere)
    expect([rig.isa[10], rig.isa[11]]).toEqual([true, false]);
    configWrite(io(), 0x08, 0x62, 0x80, 1);
    expect(rig.isa.some(Boolean)).toBe(false);
    configWrite(io(), 0x08, 0x62, 10, 1);
    expect(rig.isa[10]).toBe(true);
    rig.pc.map.pciHost.reset(); // routes back to 0x80
    expect(rig.isa.some(Boolean)).toBe(false);
    expect(() => rig.piix3.pirqRoute(4)).toThrow(RangeError);
    expect(() => rig.piix3.intxLine(0x18, 0)).toThrow(RangeError);
    expect(() => rig.piix3.pirqLine(7, 'named')).toThrow('PIRQ must be 0-3');
  });

  test('an ISA IRQ is driven only when its level changes', () => {
    configWrite(io(), 0x08, 0x60, 0x0b0b0a0a, 4);
    const before = rig.isaWrites;
    configWrite(io(), 0x08, 0x60, 0x0a0a0b0b, 4);
    expect(rig.isaWrites).toBe(before);
    rig.piix3.pirqLine(0).set(true);
    expect(rig.isaWrites).toBe(before + 1);
  });

  test('0xcf9: bit 1 stored, bit 2 requests a reset (hard with bit 1); dword 0xcf8 stays pci-conf-idx', () => {
    expect(io().read(0xcf9, 1).data[0]).toBe(0);
    io().write(0xcf9, [0x02]);
    expect(io().read(0xcf9, 1).data[0]).toBe(0x02);
    expect(rig.resets).toEqual([]);
    io().write(0xcf9, [0x06]);
    io().write(0xcf9, [0x04]);
    expect(rig.resets).toEqual(['hard', 'soft']);
    io().write(0xcf9, [0xf9]); // only bit 1 is kept
    expect(io().read(0xcf9, 1).data[0]).toBe(0);
    expect(configRead(io(), 0x08, 0, 4)).toBe(0x70008086);
    expect(rig.resets).toEqual(['hard', 'soft']);
    io().write(0xcf9, [0x02]);
    rig.pc.map.pciHost.reset();
    expect(io().read(0xcf9, 1).data[0]).toBe(0);
  });

  test('ELCR 0x4d0/0x4d1 keep the i8259 masks and tell the board', () => {
    io().write(0x4d0, [0xff]);
    io().write(0x4d1, [0xff]);
    expect([io().read(0x4d0, 1).data[0], io().read(0x4d1, 1).data[0]]).toEqual([0xf8, 0xde]);
    expect(rig.elcr).toEqual([[0, 0xf8], [1, 0xde]]);
  });

  test('bad options and states are refused with what to do', () => {
    expect(() => new Piix3({ bus: rig.pc.map.pciBus, isaIrqs: [] })).toThrow('16 IrqLines');
    expect(() => new Piix4Pm({ bus: rig.pc.map.pciBus, sci: undefined as never })).toThrow('options.sci is required');
    expect(() => rig.piix3.loadState({ config: rig.piix3.saveState().config, rcr: 0 })).toThrow('elcr');
    const s = rig.piix3.saveState();
    configWrite(io(), 0x08, 0x60, 5, 1);
    rig.piix3.loadState(s);
    expect(rig.piix3.pirqRoute(0)).toBeNull();
    expect(configRead(io(), 0x08, 0, 4)).toBe(0x70008086);
  });
});
