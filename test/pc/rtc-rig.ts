// The mc146818 RTC at 0x70 in an I/O address space, driven by a clock the
// test advances by hand (timers fire in deadline order as time passes).
import * as fs from 'fs';
import * as path from 'path';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { Mc146818Rtc } from '../../lib/devices/mc146818-rtc';
import type { RtcClock } from '../../lib/devices/rtc-clock';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';

export const NS_PER_S = 1_000_000_000n;

export function fakeClock(startNs: bigint) {
  let now = startNs;
  let timers: { deadline: bigint; callback: () => void }[] = [];
  const clock: RtcClock & { advance(ns: bigint): void; pending(): number } = {
    now: () => now,
    setTimer(deadline, callback) {
      const t = { deadline, callback };
      timers.push(t);
      return () => { timers = timers.filter((x) => x !== t); };
    },
    advance(ns) {
      const end = now + ns;
      for (;;) {
        const due = timers.filter((t) => t.deadline <= end).sort((a, b) => (a.deadline < b.deadline ? -1 : 1))[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        if (due.deadline > now) now = due.deadline;
        due.callback();
      }
      now = end;
    },
    pending: () => timers.length,
  };
  return clock;
}

/** Unix time in ns of a UTC date. */
export const utcNs = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0) =>
  BigInt(Date.UTC(y, mo - 1, d, h, mi, s, ms)) * 1_000_000n;

export function rtcRig(startNs: bigint, opts: { irq?: boolean; onAlarm?: () => void } = {}) {
  const clock = fakeClock(startNs);
  const levels: boolean[] = [];
  const irq = opts.irq === false ? undefined : callbackIrqLine((l) => levels.push(l));
  const rtc = new Mc146818Rtc({ clock, irq, ...(opts.onAlarm && { onAlarm: opts.onAlarm }) });
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  ioRoot.addSubregion(0x70n, rtc.region);
  const io = new AddressSpace(ioRoot, 'I/O');
  const outb = (port: number, v: number) => io.write(port, [v]);
  const inb = (port: number) => io.read(port, 1).data[0];
  const cmos = (index: number) => {
    outb(0x70, index);
    return inb(0x71);
  };
  const setCmos = (index: number, v: number) => {
    outb(0x70, index);
    outb(0x71, v);
  };
  /** 0x00-0x7f read one by one, as the fixture's dump program did. */
  const dump = () => Array.from({ length: 128 }, (_, i) => cmos(i));
  const close = () => {
    io.destroy();
    ioRoot.close();
    rtc.close();
  };
  return { rtc, clock, levels, io, inb, outb, cmos, setCmos, dump, close };
}

/** The CMOS block of a pci-cmos fixture dump, as 128 numbers. */
export function fixtureCmos(file: string): number[] {
  const text = fs.readFileSync(path.join(__dirname, '../fixtures/qemu-pc/pci-cmos', file), 'utf8');
  const block = text.split('\nCMOS\n')[1].split('\n').slice(0, 8);
  return block.flatMap((line) => line.slice(4).trim().split(/\s+/).map((b) => parseInt(b, 16)));
}
