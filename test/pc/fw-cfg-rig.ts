// A fw_cfg device on its ports (0x510/0x511 and 0x514) in an I/O address
// space, with a "memory" address space of 1 MiB RAM for DMA; the pc item
// list as QEMU 7.2 builds it at -m 128 for the fixture's command line.
import * as fs from 'fs';
import * as path from 'path';
import { FW_CFG_DMA_IO_BASE, FW_CFG_IO_BASE, FwCfgIo } from '../../lib/devices/fw-cfg';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS, transaction } from '../../lib/memory';
import { addPcFwCfgItems, pcFwCfgMachineReset } from '../../lib/machines/pc/fw-cfg-items';

export const FIXTURES = path.join(__dirname, '../fixtures/qemu-pc/fwcfg');
export const RAM_SIZE = 0x100000;

/** The captured items: key, name and the bytes SeaBIOS read after selecting it. */
export function fixtureItems(): { key: number; name: string; bytes: Uint8Array }[] {
  return fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.bin')).map((f) => {
    const m = /^([0-9a-f]{4})_(.+)_(\d+)\.bin$/.exec(f);
    if (!m) throw new Error(`unexpected fixture name ${f}`);
    const bytes = new Uint8Array(fs.readFileSync(path.join(FIXTURES, f)));
    expect(bytes.length).toBe(Number(m[3]));
    return { key: parseInt(m[1], 16), name: m[2], bytes };
  });
}

/**
 * Files other parts of the pc machine add (ACPI build, SMBIOS, PIIX4 PM), with
 * QEMU's sizes at -m 128 (fixture file_dir_708); their contents were not captured.
 */
export const OTHER_PC_FILES: [string, number][] = [
  ['etc/system-states', 6], // PIIX4 PM realize
  ['etc/smbios/smbios-tables', 321], // machine done: SMBIOS
  ['etc/smbios/smbios-anchor', 31],
  ['etc/acpi/tables', 131072], // machine done: acpi_setup
  ['etc/table-loader', 4096],
  ['etc/tpm/log', 0],
  ['etc/acpi/rsdp', 20],
];

export function fwCfgRig(opts: { dma?: boolean } = {}) {
  const system = MemoryRegion.container('system', 1n << 64n);
  const ram = MemoryRegion.ram('ram', RAM_SIZE);
  system.addSubregion(0n, ram);
  const memory = new AddressSpace(system, 'memory');
  const fw = new FwCfgIo({ dmaAddressSpace: opts.dma === false ? null : memory });
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  transaction(() => {
    ioRoot.addSubregion(FW_CFG_IO_BASE, fw.region);
    if (fw.dmaRegion) ioRoot.addSubregion(FW_CFG_DMA_IO_BASE, fw.dmaRegion);
  });
  const io = new AddressSpace(ioRoot, 'I/O');
  const inb = (port: number) => io.read(port, 1).data[0];
  const outw = (port: number, v: number) => io.write(port, [v & 0xff, v >> 8]);
  /** `outl(cpu_to_be32(v), port)` as SeaBIOS does it: the bytes on the bus are big-endian. */
  const outlBe = (port: number, v: number) => io.write(port, [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  const readItem = (key: number, len: number) => {
    outw(0x510, key);
    return Uint8Array.from({ length: len }, () => inb(0x511));
  };
  const close = () => {
    io.destroy();
    memory.destroy();
    for (const mr of [fw.region, fw.dmaRegion, ioRoot, ram, system]) mr?.close();
  };
  return { fw, memory, io, ram, inb, outw, outlBe, readItem, close };
}

/** The pc machine's fw_cfg at -m 128, one CPU, as after its first reset. */
export function addPcItemsM128(fw: FwCfgIo): void {
  addPcFwCfgItems(fw, {
    ramSize: 128n << 20n,
    ramSplit: { below4g: 128n << 20n, above4g: 0n },
    bootCpus: 1,
    amdHyperTransportHole: true,
  });
  for (const [name, size] of OTHER_PC_FILES) fw.addFile(name, new Uint8Array(size).fill(0xa5));
  pcFwCfgMachineReset(fw);
}
