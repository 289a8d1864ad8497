// An interrupt line from a device to whatever takes its interrupts (QEMU's
// qemu_irq): the device only says "my output is now high/low". The board
// decides where that goes: an in-kernel GSI (KVM_IRQ_LINE), or a function of
// yours (a userspace interrupt controller, a test recording levels).
import type { Vm } from '../kvm/vm';

export interface IrqLine {
  /** What the line is connected to, for messages (e.g. 'GSI 4'). */
  readonly name: string;
  /** Drives the line to `level` (true: asserted). */
  set(level: boolean): void;
}

/** GSIs of the in-kernel IRQ chip's default routing: the IOAPIC's 24 pins (0-15 also reach the PICs). */
export const IRQCHIP_GSI_COUNT = 24;

/** Checks a GSI of the in-kernel IRQ chip (RangeError otherwise). */
export function checkGsi(gsi: unknown): number {
  if (typeof gsi !== 'number' || !Number.isInteger(gsi) || gsi < 0 || gsi >= IRQCHIP_GSI_COUNT) {
    throw new RangeError(`irq must be an integer in [0, ${IRQCHIP_GSI_COUNT - 1}], got ${String(gsi)}`);
  }
  return gsi;
}

/** A line into the VM's in-kernel IRQ chip at `gsi` (KVM_IRQ_LINE); the chip must exist. */
export function kvmIrqLine(vm: Vm, gsi: number): IrqLine {
  const pin = checkGsi(gsi);
  return { name: `GSI ${pin}`, set: (level) => vm.irqLine(pin, level) };
}

/** A line that calls `fn(level)` on every change the device makes. */
export function callbackIrqLine(fn: (level: boolean) => void, name = 'callback'): IrqLine {
  if (typeof fn !== 'function') throw new TypeError('callbackIrqLine() expects a function (level: boolean) => void');
  return { name, set: (level) => fn(level) };
}

/** An IrqLine, or a bare callback as devices accepted before IrqLine existed. */
export function toIrqLine(line: IrqLine | ((level: boolean) => void) | undefined, what: string): IrqLine | undefined {
  if (line === undefined || typeof line === 'function') return line === undefined ? undefined : callbackIrqLine(line);
  if (typeof line !== 'object' || line === null || typeof line.set !== 'function') {
    throw new TypeError(`${what} must be an IrqLine (kvmIrqLine(), callbackIrqLine()) or a function (level) => void`);
  }
  return line;
}
