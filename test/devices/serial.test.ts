// The 16550A and debug-exit port through an I/O AddressSpace, as a guest
// driver would see them (register semantics from the 16550A data sheet).
import { PassThrough } from 'stream';
import { DebugExit, Serial16550A } from '../../lib';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';

function setup(opts: ConstructorParameters<typeof Serial16550A>[0] = {}) {
  const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const serial = new Serial16550A(opts);
  io.addSubregion(0x3f8n, serial.region);
  const as = new AddressSpace(io, 'I/O');
  const inb = (port: number) => as.read(port, 1).data[0];
  const outb = (port: number, v: number) => as.write(port, [v]);
  return { serial, inb, outb, close: () => { serial.close(); as.destroy(); io.close(); serial.region.close(); } };
}

describe('Serial16550A', () => {
  test('THR writes reach the output stream; LSR reports THRE|TEMT; DLAB switches to the divisor latch', () => {
    const output = new PassThrough();
    const got: Buffer[] = [];
    output.on('data', (c: Buffer) => got.push(c));
    const s = setup({ output });
    try {
      expect(s.inb(0x3fd) & 0x61).toBe(0x60); // THRE, TEMT, no data
      s.outb(0x3fb, 0x80); // DLAB
      s.outb(0x3f8, 0x01);
      s.outb(0x3f9, 0x02);
      expect([s.inb(0x3f8), s.inb(0x3f9)]).toEqual([0x01, 0x02]);
      s.outb(0x3fb, 0x03);
      expect(s.inb(0x3fb)).toBe(0x03);
      for (const c of Buffer.from('hi\n')) s.outb(0x3f8, c);
      expect(Buffer.concat(got).toString()).toBe('hi\n'); // newline flushes
      s.outb(0x3ff, 0x5a);
      expect(s.inb(0x3ff)).toBe(0x5a); // scratch
    } finally {
      s.close();
    }
  });

  test('input stream bytes set LSR.DR and come out of RBR in order', async () => {
    const input = new PassThrough();
    const s = setup({ input });
    try {
      input.write('ab');
      await new Promise((r) => setImmediate(r));
      expect(s.inb(0x3fd) & 1).toBe(1);
      expect(s.inb(0x3f8)).toBe(0x61);
      expect(s.inb(0x3f8)).toBe(0x62);
      expect(s.inb(0x3fd) & 1).toBe(0);
    } finally {
      s.close();
    }
  });

  test('IER/IIR: THR-empty and received-data interrupts, gated onto the IRQ line by MCR.OUT2', () => {
    const levels: boolean[] = [];
    const s = setup({ irq: (l) => levels.push(l) });
    try {
      expect(s.inb(0x3fa) & 0x0f).toBe(0x01); // nothing pending
      s.outb(0x3fc, 0x08); // OUT2
      s.outb(0x3f9, 0x02); // ETBEI: THR is empty, so it fires at once
      expect(levels).toEqual([true]);
      expect(s.inb(0x3fa) & 0x0f).toBe(0x02); // reading IIR acknowledges THRI
      expect(levels).toEqual([true, false]);
      expect(s.inb(0x3fa) & 0x0f).toBe(0x01);
      s.outb(0x3f9, 0x03); // + received data
      s.serial.receive(Uint8Array.of(0x41));
      expect(s.inb(0x3fa) & 0x0f).toBe(0x04); // RDI has priority
      s.inb(0x3f8);
      s.outb(0x3fa, 0x01); // FIFO on: IIR bits 7:6 set
      expect(s.inb(0x3fa) & 0xc0).toBe(0xc0);
    } finally {
      s.close();
    }
  });

  test('loopback (MCR bit 4): transmitted bytes are received, nothing reaches the output', () => {
    const output = new PassThrough();
    const got: Buffer[] = [];
    output.on('data', (c: Buffer) => got.push(c));
    const s = setup({ output });
    try {
      s.outb(0x3fc, 0x10 | 0x0b);
      s.outb(0x3f8, 0xae);
      expect(s.inb(0x3f8)).toBe(0xae);
      expect(s.inb(0x3fe) & 0xf0).toBe(0xb0); // DTR->DSR, RTS->CTS, OUT2->DCD
      s.serial.flush();
      expect(got).toEqual([]);
    } finally {
      s.close();
    }
  });

  test('bad streams are refused', () => {
    expect(() => new Serial16550A({ output: {} as never })).toThrow(TypeError);
    expect(() => new Serial16550A({ input: 42 as never })).toThrow(TypeError);
  });
});

describe('DebugExit', () => {
  test('a write of v reports (v << 1) | 1, for 1- and 4-byte writes', () => {
    const codes: number[] = [];
    const d = new DebugExit({ onExit: (c) => codes.push(c) });
    const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
    io.addSubregion(0x501n, d.region);
    const as = new AddressSpace(io, 'I/O');
    try {
      as.write(0x501, [0x15]);
      as.write(0x501, [0x00, 0x01, 0x00, 0x00]);
      expect(codes).toEqual([43, 0x201]);
      expect(d.lastExitCode).toBe(0x201);
      expect(() => new DebugExit({} as never)).toThrow(TypeError);
    } finally {
      as.destroy();
      io.close();
      d.region.close();
    }
  });
});
