// The contract between a device and the machine it is plugged into (QEMU's
// DeviceState, reduced to what node-kvm needs): the regions the device maps
// into which address space, a reset, its snapshot state and a close. A board
// creates its devices; the Machine maps every device's regions in one
// transaction, registers the ones with state for snapshots, and unmaps and
// closes them when it closes. Mappings are fixed while a device is plugged in
// (it may enable and disable a mapped region: the i440FX's PAM aliases). A PCI
// function's BARs are not mappings: the function maps and moves them in its
// bus's spaces itself, through the same memory API (pci/pci-device.ts); the
// PCI host's reset resets the functions on its bus.
import type { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import type { SnapshotDevice } from '../snapshot/device-state';

/** Where a device region goes: 'memory' is the system address space, 'io' the I/O port space. */
export interface DeviceMapping {
  readonly space: 'memory' | 'io';
  readonly address: bigint;
  readonly region: MemoryRegion;
  /** Given: mapped with this priority, overlap allowed (memory_region_add_subregion_overlap); default 0. */
  readonly priority?: number;
}

/**
 * A device. With `snapshotName`, `saveState()` and `loadState()` (see
 * SnapshotDevice) its state is part of the machine's snapshots.
 */
export interface Device extends Partial<SnapshotDevice> {
  /** The device's type, QEMU's name where QEMU has the device ('isa-serial', 'isa-debug-exit', 'kvm-irqchip'). */
  readonly name: string;
  /** The regions the machine maps for it, in order (fixed while it is plugged in; a PCI function moves its BARs itself). */
  readonly mappings: readonly DeviceMapping[];
  /** Puts the device in its power-on state (a system reset). */
  reset?(): void;
  /** Releases what the device holds outside its regions (streams, timers); closing its regions too is harmless. */
  close?(): void;
}

/** The two root regions devices map into. */
export interface DeviceRoots {
  readonly memory: MemoryRegion;
  readonly io: MemoryRegion;
}

/** Maps every device's regions, all in one transaction (one flat-view update, one slot update). */
export function mapDevices(roots: DeviceRoots, devices: readonly Device[]): void {
  transaction(() => {
    for (const d of devices) {
      for (const m of d.mappings) {
        if (m.priority === undefined) roots[m.space].addSubregion(m.address, m.region);
        else roots[m.space].addSubregionOverlap(m.address, m.region, m.priority);
      }
    }
  });
}

/** The regions of `devices` (each once), to close when the machine closes. */
export function deviceRegions(devices: readonly Device[]): MemoryRegion[] {
  return [...new Set(devices.flatMap((d) => d.mappings.map((m) => m.region)))];
}

/** An I/O port number (a device's iobase): an integer in [0, 0xffff], else a RangeError naming `what`. */
export function checkIoPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`${what} must be an integer port in [0, 0xffff], got ${String(port)}`);
  }
  return port;
}
