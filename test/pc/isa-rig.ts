// The small ISA devices of QEMU's pc machine (i8042, port92, pcspk, ioport80,
// isa-debugcon) mapped with mapDevices into an I/O space, with a fake PIT
// channel 2 and every callback and IRQ level recorded.
import { Debugcon } from '../../lib/devices/debugcon';
import { type Device, deviceRegions, mapDevices } from '../../lib/devices/device';
import { I8042 } from '../../lib/devices/i8042';
import { Ioport80 } from '../../lib/devices/ioport80';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { Pcspk, type PitChannel2 } from '../../lib/devices/pcspk';
import { Port92 } from '../../lib/devices/port92';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';

export function isaRig() {
  const events: string[] = [];
  const debugOut: number[] = [];
  const pitState = { gate: false, output: false };
  const pit: PitChannel2 = {
    getChannel2: () => ({ ...pitState }),
    setGate: (level) => {
      events.push(`pit gate ${Number(level)}`);
      pitState.gate = level;
    },
  };
  const i8042 = new I8042({
    kbdIrq: callbackIrqLine((l) => events.push(`irq1 ${Number(l)}`)),
    mouseIrq: callbackIrqLine((l) => events.push(`irq12 ${Number(l)}`)),
    onResetRequest: () => events.push('i8042 reset'),
    onA20: (on) => events.push(`i8042 a20 ${Number(on)}`),
  });
  const port92 = new Port92({ onResetRequest: () => events.push('port92 reset'), onA20: (on) => events.push(`port92 a20 ${Number(on)}`) });
  const pcspk = new Pcspk({ pit });
  const ioport80 = new Ioport80();
  const debugcon = new Debugcon({ iobase: 0x402, output: (b) => debugOut.push(b) });
  const devices: Device[] = [i8042, port92, pcspk, ioport80, debugcon];
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const memRoot = MemoryRegion.container('system', 1n << 32n);
  mapDevices({ memory: memRoot, io: ioRoot }, devices);
  const io = new AddressSpace(ioRoot, 'I/O');
  const outb = (port: number, v: number) => io.write(port, [v]);
  const inb = (port: number) => io.read(port, 1).data[0];
  /** Takes the events recorded so far. */
  const take = () => events.splice(0);
  const close = () => {
    io.destroy();
    for (const r of deviceRegions(devices)) r.close();
    ioRoot.close();
    memRoot.close();
  };
  return { i8042, port92, pcspk, ioport80, debugcon, devices, pitState, debugOut, io, ioRoot, inb, outb, take, close };
}
