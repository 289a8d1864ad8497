// The pc machine's `devices` option: QEMU's -device for the devices a test
// suite adds (kvm-unit-tests' x86/run: -device pc-testdev -device
// pci-testdev). Checked in validate(), plugged in create().
import { PcTestdev } from '../../devices/pc-testdev';
import { PciTestdev } from '../../devices/pci-testdev';
import type { IrqLine } from '../../devices/irq-line';
import type { PciBus } from '../../devices/pci/pci-bus';
import { checkOptions } from '../../options';
import type { BoardContext } from '../board';

/** One -device: `driver` is QEMU's device name. */
export type PcDeviceOptions = { driver: 'pc-testdev' } | { driver: 'pci-testdev' };

export const PC_DEVICE_DRIVERS = ['pc-testdev', 'pci-testdev'] as const;
const DEVICE_OPTIONS = { driver: true } as const;

/** The -device list, checked: a TypeError names what is wrong. */
export function checkPcDevices(devices: unknown): PcDeviceOptions[] {
  if (devices === undefined) return [];
  if (!Array.isArray(devices)) throw new TypeError(`devices must be an array of { driver } with driver one of ${PC_DEVICE_DRIVERS.join(', ')}`);
  return devices.map((d, i) => {
    const o = checkOptions(d as PcDeviceOptions, DEVICE_OPTIONS, `Machine.create({ devices[${i}] })`);
    if (!(PC_DEVICE_DRIVERS as readonly unknown[]).includes(o.driver)) {
      throw new TypeError(`devices[${i}]: '${String(o.driver)}' is not a valid device model name (the pc machine has ${PC_DEVICE_DRIVERS.join(', ')})`);
    }
    return { driver: o.driver };
  });
}

/**
 * Plugs the devices in command-line order: an ISA pc-testdev on the ISA
 * IRQs, a pci-testdev in the next free slot of bus 0 (as QEMU's
 * pci_bus_devfn_find: the lowest slot with no function).
 */
export function plugPcDevices(ctx: BoardContext, devices: readonly PcDeviceOptions[], bus: PciBus, isaIrqs: readonly IrqLine[]): void {
  for (const d of devices) {
    if (d.driver === 'pc-testdev') {
      ctx.plug(new PcTestdev(isaIrqs));
    } else {
      let slot = 0;
      while (slot < 32 && Array.from({ length: 8 }, (_, f) => bus.device((slot << 3) | f)).some((f) => f !== undefined)) slot++;
      if (slot === 32) throw new RangeError('pci-testdev: PCI: no slot/function available for pci-testdev, all in use');
      ctx.plug(new PciTestdev(bus, slot << 3));
    }
  }
}
