// acpi-ged's register block as the FADT describes it: SLP_EN with SLP_TYP 5
// in the sleep control register powers off, 0x42 in the reset register
// resets; other values do nothing.
import { AcpiGed, GED_MMIO_BASE_REGS } from '../../lib/devices/acpi-ged';
import { AddressSpace, MemoryRegion } from '../../lib/memory';
import { mapDevices } from '../../lib/devices/device';

test('sleep control and reset registers', () => {
  const events: string[] = [];
  const ged = new AcpiGed({ onPowerOff: () => events.push('poweroff'), onReset: () => events.push('reset') });
  const root = MemoryRegion.container('system', 1n << 64n);
  const io = MemoryRegion.container('io', 0x10000);
  mapDevices({ memory: root, io }, [ged]);
  const as = new AddressSpace(root, 'memory');
  try {
    as.write(GED_MMIO_BASE_REGS, Uint8Array.of(5 << 2)); // SLP_TYP 5 without SLP_EN
    as.write(GED_MMIO_BASE_REGS, Uint8Array.of(0x20 | (3 << 2))); // SLP_EN with S3: not supported, ignored
    expect(events).toEqual([]);
    as.write(GED_MMIO_BASE_REGS, Uint8Array.of(0x20 | (5 << 2)));
    as.write(GED_MMIO_BASE_REGS + 2n, Uint8Array.of(0x41));
    as.write(GED_MMIO_BASE_REGS + 2n, Uint8Array.of(0x42));
    expect(events).toEqual(['poweroff', 'reset']);
    expect([...as.read(GED_MMIO_BASE_REGS, 1).data]).toEqual([0]);
  } finally {
    as.destroy();
    for (const m of ged.mappings) m.region.close();
    root.close();
    io.close();
  }
});
