// The small ISA devices of QEMU's pc machine, driven through the I/O space
// as a guest drives them: the i8042 and its PS/2 keyboard (hw/input/pckbd.c,
// ps2.c), port92 (hw/i386/port92.c), the speaker port 0x61 (hw/audio/pcspk.c,
// with channel 2 of the real in-kernel PIT), ioport80 and isa-debugcon.
import { PassThrough } from 'stream';
import { Debugcon } from '../../lib/devices/debugcon';
import { I8042 } from '../../lib/devices/i8042';
import { Ioport80, POST_CODE_LIMIT } from '../../lib/devices/ioport80';
import { kvmPitChannel2, Pcspk } from '../../lib/devices/pcspk';
import { pitChannel, pitChannelOutput, PIT_FREQ } from '../../lib/kvm/pit-state';
import { Machine } from '../../lib/machine';
import { AddressSpace, MemoryRegion, MemTxResult, UNASSIGNED_IO_OPS } from '../../lib/memory';
import { type DeviceStateValue, stateFromJson, stateToJson } from '../../lib/snapshot/device-state';
import { describeKvm } from '../helpers/kvm';
import { isaRig } from './isa-rig';

const throughFile = (s: DeviceStateValue) => stateFromJson(JSON.parse(JSON.stringify(stateToJson(s))));

type Rig = ReturnType<typeof isaRig>;

/** One region at `port` of its own I/O space. */
function ioSpace(region: MemoryRegion, port: number) {
  const root = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  root.addSubregion(BigInt(port), region);
  const space = new AddressSpace(root, 'I/O');
  return { space, close: () => { space.destroy(); region.close(); root.close(); } };
}
function withRig(fn: (r: Rig) => void): void {
  const r = isaRig();
  try {
    fn(r);
  } finally {
    r.close();
  }
}

/** Sends `bytes` to the keyboard (port 0x60) and reads every reply byte while OBF is set. */
function kbdCommand(r: Rig, ...bytes: number[]): number[] {
  const replies: number[] = [];
  for (const b of bytes) {
    r.outb(0x60, b);
    while (r.inb(0x64) & 1) replies.push(r.inb(0x60));
  }
  return replies;
}

describe('i8042', () => {
  test("power-on state and SeaBIOS's controller commands: self test, interface test, command byte", () => withRig((r) => {
    expect(r.inb(0x64)).toBe(0x18);
    r.outb(0x64, 0xaa);
    expect([r.inb(0x64), r.inb(0x60), r.inb(0x64)]).toEqual([0x1d, 0x55, 0x1c]);
    expect(r.take()).toEqual(['irq1 1', 'irq1 0']); // command byte 0x03 at reset: KBD_INT on
    r.outb(0x64, 0xab);
    expect(r.inb(0x60)).toBe(0x00);
    r.outb(0x64, 0x20);
    expect(r.inb(0x60)).toBe(0x03);
    r.outb(0x64, 0x60);
    r.outb(0x60, 0x30); // no interrupts, both ports disabled
    r.take();
    r.outb(0x64, 0x20);
    expect([r.inb(0x60), r.take()]).toEqual([0x30, []]);
    expect(r.inb(0x60)).toBe(0x30); // nothing new: the last byte again, OBF clear
    expect(r.inb(0x64) & 1).toBe(0);
  }));

  test('0xad/0xae and 0xa7/0xa8 set the disable bits; a disabled keyboard keeps its bytes until enabled', () => withRig((r) => {
    const mode = () => { r.outb(0x64, 0x20); return r.inb(0x60); };
    r.outb(0x64, 0xad);
    r.outb(0x64, 0xa7);
    expect(mode()).toBe(0x33);
    r.outb(0x64, 0xa8);
    expect(mode()).toBe(0x13);
    expect(r.i8042.sendKey([0x1e, 0x9e])).toBe(true);
    expect(r.inb(0x64) & 1).toBe(0);
    r.take();
    r.outb(0x64, 0xae);
    expect(r.take()).toEqual(['irq1 1']);
    expect([r.inb(0x60), r.inb(0x60), r.inb(0x64) & 1]).toEqual([0x1e, 0x9e, 0]);
    expect(r.take()).toEqual(['irq1 0', 'irq1 1', 'irq1 0']);
  }));

  test('the keyboard: reset 0xff -> fa aa, ID, LEDs, scancode set, scanning on/off, unknown -> resend', () => withRig((r) => {
    expect(kbdCommand(r, 0xff)).toEqual([0xfa, 0xaa]);
    expect(kbdCommand(r, 0xf2)).toEqual([0xfa, 0xab, 0x83]);
    expect(kbdCommand(r, 0xed, 0x05)).toEqual([0xfa, 0xfa]);
    expect(r.i8042.kbd.leds()).toBe(0x05);
    expect(kbdCommand(r, 0xf0, 0x00)).toEqual([0xfa, 0xfa, 0x02]);
    expect(kbdCommand(r, 0xf0, 0x03, 0xf0, 0x00)).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0x03]);
    expect(kbdCommand(r, 0xf0, 0x07)).toEqual([0xfa, 0xfe]);
    expect(kbdCommand(r, 0xf5)).toEqual([0xfa]); // reset and disable scanning
    expect(r.i8042.kbd.leds()).toBe(0);
    expect(r.i8042.sendKey(0x1c)).toBe(false);
    expect(kbdCommand(r, 0xf4)).toEqual([0xfa]);
    expect(r.i8042.sendKey(0x1c)).toBe(true);
    expect(r.inb(0x60)).toBe(0x1c);
    expect(kbdCommand(r, 0xee, 0x42)).toEqual([0xee, 0xfe]);
    // translation on (command byte bit 6): the ID and the set number as the i8042 translates them
    r.outb(0x64, 0x60);
    r.outb(0x60, 0x61);
    expect(kbdCommand(r, 0xf2, 0xf0, 0x00)).toEqual([0xfa, 0xab, 0x41, 0xfa, 0xfa, 0x41]);
    // sending to the keyboard re-enables its port (pckbd.c kbd_write_data)
    r.outb(0x64, 0xad);
    expect(kbdCommand(r, 0xf4)).toEqual([0xfa]);
    r.outb(0x64, 0x20);
    expect(r.inb(0x60) & 0x10).toBe(0);
  }));

  test('a full keyboard queue drops keys; command replies still fit', () => withRig((r) => {
    let sent = 0;
    while (r.i8042.sendKey([0x10, 0x90])) sent++;
    expect(sent).toBe(4); // 16-byte queue, 8 bytes of room kept for replies; one byte already moved to the output buffer
    expect(() => r.i8042.sendKey([])).toThrow(TypeError);
    expect(() => r.i8042.sendKey(256)).toThrow(new TypeError('sendKey() expects a scancode byte (0-255) or a non-empty array of them'));
  }));

  test('0xd1 writes the output port: bit 1 is A20, bit 0 clear requests a reset; 0xd0 reads it back', () => withRig((r) => {
    r.outb(0x64, 0xd0);
    expect(r.inb(0x60)).toBe(0x03);
    r.take();
    r.outb(0x64, 0xd1);
    r.outb(0x60, 0x01);
    expect(r.take()).toEqual(['i8042 a20 0']);
    r.outb(0x64, 0xd1);
    r.outb(0x60, 0x02);
    expect(r.take()).toEqual(['i8042 a20 1', 'i8042 reset']);
    r.outb(0x64, 0xd0);
    expect(r.inb(0x60)).toBe(0x02);
    r.outb(0x64, 0xdd);
    r.outb(0x64, 0xdf);
    expect(r.take().filter((e) => e.includes('a20'))).toEqual(['i8042 a20 0', 'i8042 a20 1']);
  }));

  test('0xfe (and the other even pulse commands) request a reset; odd ones and unknown commands do nothing', () => withRig((r) => {
    r.outb(0x64, 0xfe);
    expect(r.take()).toEqual(['i8042 reset']);
    r.outb(0x64, 0xf0);
    r.outb(0x64, 0xff);
    r.outb(0x64, 0xf1);
    expect(r.take()).toEqual(['i8042 reset']);
    for (const cmd of [0x00, 0x01, 0x21, 0x7f, 0xa4, 0xc1, 0xe0, 0xe8]) r.outb(0x64, cmd);
    expect([r.take(), r.inb(0x64)]).toEqual([[], 0x18]);
  }));

  test('0xd2/0xd3 write the output buffer as keyboard (IRQ 1) or aux (IRQ 12, MOUSE_OBF) data', () => withRig((r) => {
    r.outb(0x64, 0xd3);
    r.outb(0x60, 0x5a);
    expect([r.inb(0x64), r.take()]).toEqual([0x39, ['irq12 1']]);
    expect(r.inb(0x60)).toBe(0x5a);
    expect(r.take()).toEqual(['irq12 0']);
    r.outb(0x64, 0xd2);
    r.outb(0x60, 0xa5);
    expect([r.inb(0x64), r.inb(0x60), r.take()]).toEqual([0x19, 0xa5, ['irq1 1', 'irq1 0']]);
    r.outb(0x64, 0xd4); // no mouse: the byte goes nowhere
    r.outb(0x60, 0xff);
    expect(r.inb(0x64) & 1).toBe(0);
  }));

  test('reset() and a snapshot through the file encoding; a bad state is refused and changes nothing', () => withRig((r) => {
    r.outb(0x64, 0x60);
    r.outb(0x60, 0x61);
    kbdCommand(r, 0xed, 0x02);
    r.i8042.sendKey([0x1e, 0x9e]);
    const state = throughFile(r.i8042.saveState());
    expect(r.inb(0x60)).toBe(0x1e);
    r.i8042.reset();
    expect([r.inb(0x64), r.i8042.kbd.leds()]).toEqual([0x18, 0]);
    r.i8042.loadState(state);
    expect([r.inb(0x64), r.inb(0x60), r.inb(0x60), r.i8042.kbd.leds()]).toEqual([0x19, 0x1e, 0x9e, 0x02]);
    const good = r.i8042.saveState();
    const bad = (patch: Record<string, unknown>) => ({ ...(good as Record<string, DeviceStateValue>), ...patch }) as DeviceStateValue;
    expect(() => r.i8042.loadState(bad({ mode: 256 }))).toThrow(new RangeError('i8042 state: mode must be a byte'));
    expect(() => r.i8042.loadState(bad({ obsrc: 'mouse' }))).toThrow(TypeError);
    expect(() => r.i8042.loadState(bad({ writeCmd: 0x20 }))).toThrow(TypeError);
    expect(() => r.i8042.loadState(bad({ kbd: { ...(good as { kbd: Record<string, DeviceStateValue> }).kbd, scancodeSet: 4 } }))).toThrow(
      new TypeError('i8042 state kbd: scancodeSet must be 1, 2 or 3'));
    expect(() => r.i8042.loadState(null)).toThrow(TypeError);
    expect(r.i8042.saveState()).toEqual(good);
    expect(() => new I8042({ onA20: 1 } as never)).toThrow(new TypeError('i8042 onA20 must be a function'));
    expect(() => new I8042({ irq: 1 } as never)).toThrow(/unknown option 'irq'/);
  }));
});

describe('port92', () => {
  test('reads latch the last write; bit 1 reports A20; bit 0 requests a reset on its rising edge only', () => withRig((r) => {
    expect(r.inb(0x92)).toBe(0x00);
    r.outb(0x92, 0x02);
    expect([r.inb(0x92), r.take()]).toEqual([0x02, ['port92 a20 1']]);
    r.outb(0x92, 0x03);
    r.outb(0x92, 0x03);
    expect(r.take()).toEqual(['port92 a20 1', 'port92 reset', 'port92 a20 1']);
    expect(r.inb(0x92)).toBe(0x03);
    r.port92.reset(); // port92_reset clears the reset bit only
    expect([r.inb(0x92), r.port92.a20()]).toEqual([0x02, true]);
    r.outb(0x92, 0xf1);
    expect(r.take()).toEqual(['port92 a20 0', 'port92 reset']);
    const state = throughFile(r.port92.saveState());
    r.outb(0x92, 0);
    r.port92.loadState(state);
    expect(r.inb(0x92)).toBe(0xf1);
    expect(() => r.port92.loadState({ outport: 0x100 })).toThrow(new RangeError('port92 state: outport must be a byte'));
    expect(r.inb(0x92)).toBe(0xf1);
  }));
});

describe('pcspk (port 0x61)', () => {
  test('gate, speaker data, the refresh toggle and channel 2 output; writes set the gate and data', () => withRig((r) => {
    expect([r.inb(0x61), r.inb(0x61)]).toEqual([0x10, 0x00]);
    r.outb(0x61, 0x03);
    expect(r.take()).toEqual(['pit gate 1']);
    r.pitState.output = true;
    expect(r.inb(0x61)).toBe(0x33);
    r.outb(0x61, 0xfc);
    expect([r.take(), r.inb(0x61)]).toEqual([['pit gate 0'], 0x20]);
    const state = throughFile(r.pcspk.saveState());
    r.outb(0x61, 0x02);
    r.pcspk.loadState(state);
    expect(r.inb(0x61) & 0x02).toBe(0);
    expect(() => r.pcspk.loadState({ dataOn: true, refresh: 1 })).toThrow(RangeError);
    expect(() => new Pcspk({ pit: {} as never })).toThrow(/getChannel2/);
  }));

  test("pit_get_out for each mode (hw/timer/i8254_common.c)", () => {
    const at = (mode: number, count: number, ticks: bigint) =>
      pitChannelOutput({ mode, count, gate: true, countLoadTime: 1000n }, 1000n + (ticks * 1_000_000_000n + PIT_FREQ - 1n) / PIT_FREQ);
    expect([at(0, 10, 9n), at(0, 10, 10n)]).toEqual([false, true]);
    expect([at(1, 10, 9n), at(1, 10, 10n)]).toEqual([true, false]);
    expect([at(2, 10, 0n), at(2, 10, 10n), at(2, 10, 11n)]).toEqual([false, true, false]);
    expect([at(3, 10, 4n), at(3, 10, 5n), at(3, 10, 10n)]).toEqual([true, false, true]);
    expect([at(4, 10, 10n), at(5, 10, 11n)]).toEqual([true, false]);
    expect(at(3, 0, 0x7fffn)).toBe(true); // a count of 0 is 0x10000
  });
});

describeKvm('pcspk on the in-kernel PIT (KVM_GET_PIT2/KVM_SET_PIT2)', () => {
  test('a real-mode guest programs channel 2 in mode 0, opens the gate through 0x61 and polls OUT until it rises', () => {
    const m = Machine.createSync({ memory: '1M', mode: 'real', serial: false, irqchip: true });
    const pcspk = new Pcspk({ pit: kvmPitChannel2(m.vm) });
    try {
      m.memory.io.root.addSubregion(0x61n, pcspk.region);
      expect(pitChannel(m.vm.getPit2(), 2).gate).toBe(false); // the PIT's reset state: channel 2's gate low
      m.load(Uint8Array.of(
        0xb0, 0xb0, 0xe6, 0x43, // mov al, 0xb0; out 0x43, al: channel 2, lo/hi byte, mode 0
        0xb0, 0xa9, 0xe6, 0x42, 0xb0, 0x04, 0xe6, 0x42, // count 0x04a9 (1 ms)
        0xb0, 0x01, 0xe6, 0x61, // gate on
        0xe4, 0x61, 0xa8, 0x20, 0x74, 0xfa, // poll: in al, 0x61; test al, 0x20; jz poll
        0x24, 0x21, 0xba, 0x01, 0x05, 0xee, // and al, 0x21; mov dx, 0x501; out dx, al
      ), { format: 'flat' });
      expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: (0x21 << 1) | 1 });
      expect(pitChannel(m.vm.getPit2(), 2)).toMatchObject({ mode: 0, count: 0x04a9, gate: true });
      expect(() => pitChannel(m.vm.getPit2(), 3)).toThrow(new RangeError('a PIT channel is 0, 1 or 2, got 3'));
    } finally {
      pcspk.region.close();
      m.close();
    }
  });
});

describe('ioport80 and isa-debugcon', () => {
  test('ioport80 reads 0xff and keeps the last POST codes; a snapshot keeps them', () => withRig((r) => {
    expect(r.inb(0x80)).toBe(0xff);
    for (let i = 0; i < POST_CODE_LIMIT + 3; i++) r.outb(0x80, i & 0xff);
    const codes = r.ioport80.postCodes();
    expect([codes.length, codes[0], codes[codes.length - 1]]).toEqual([POST_CODE_LIMIT, 3, 2]);
    const state = throughFile(r.ioport80.saveState());
    const p = new Ioport80();
    p.loadState(state);
    expect(p.postCodes()).toEqual(codes);
    expect(() => p.loadState({ codes: [1] })).toThrow(TypeError);
    p.region.close();
    const seen: number[] = [];
    const q = new Ioport80((c) => seen.push(c));
    const io = ioSpace(q.region, 0x80);
    io.space.write(0x80, [0x34]);
    expect([seen, q.postCodes()]).toEqual([[0x34], [0x34]]);
    io.close();
  }));

  test('isa-debugcon: any iobase, bytes to a Writable or a callback, reads return readback (0xe9)', () => withRig((r) => {
    expect(r.inb(0x402)).toBe(0xe9);
    for (const c of Buffer.from('No bootable device.\n')) r.outb(0x402, c);
    expect(Buffer.from(r.debugOut).toString()).toBe('No bootable device.\n');
    const out = new PassThrough();
    const d = new Debugcon({ output: out, readback: 0x42 });
    expect(d.mappings).toEqual([{ space: 'io', address: 0xe9n, region: d.region }]);
    const io = ioSpace(d.region, 0xe9);
    expect(io.space.read(0xe9, 1).data[0]).toBe(0x42);
    io.space.write(0xe9, [0x41]);
    expect(out.read()).toEqual(Buffer.from('A'));
    expect(io.space.read(0xe9, 2)).toEqual({ data: Uint8Array.of(0x42, 0xff), result: MemTxResult.OK }); // the second byte is an unassigned port
    expect('saveState' in d).toBe(false);
    io.close();
    expect(() => new Debugcon({ output: 'x' } as never)).toThrow(new TypeError('Debugcon needs output: a Writable or a function (byte) => void'));
    expect(() => new Debugcon({ output: () => {}, readback: 256 })).toThrow(RangeError);
    expect(() => new Debugcon({ output: () => {}, iobase: 0x10000 })).toThrow(RangeError);
  }));
});

describe('bad guest input never throws', () => {
  test('2- and 4-byte accesses, unknown commands and random bytes on every port', () => withRig((r) => {
    const ports = [0x60, 0x61, 0x64, 0x80, 0x92, 0x402];
    for (const port of ports) {
      for (const len of [2, 4]) {
        expect(() => r.io.read(port, len)).not.toThrow();
        expect(() => r.io.write(port, new Uint8Array(len).fill(0xee))).not.toThrow();
      }
    }
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 20000; i++) {
      const port = ports[rnd() % ports.length];
      if (rnd() & 1) r.io.read(port, 1);
      else r.io.write(port, [rnd() & 0xff]);
    }
    for (const d of r.devices) if (d.saveState) expect(() => d.loadState!(throughFile(d.saveState!()))).not.toThrow();
  }));
});
