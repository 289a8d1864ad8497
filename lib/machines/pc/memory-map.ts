/**
 * The memory map of QEMU 7.2's `pc` machine (i440FX), built in QEMU's order
 * so that `info mtree`, its flat view and `info ramblock` print what QEMU
 * prints:
 *
 * 1. memory_map_init (softmmu/physmem.c): the `system` container with its
 *    "memory" address space, the `io` root (unassigned_io_ops) with "I/O";
 * 2. `pc.ram`, the machine RAM: the first RAM block, at ram_addr 0;
 * 3. the `pci` container (hw/i386/pc_piix.c pc_init1);
 * 4. pc_memory_init (hw/i386/pc.c): `ram-below-4g` (and `ram-above-4g`, by
 *    pcRamSplit) into system; x86_bios_rom_init (hw/i386/x86.c): `pc.bios`
 *    (read-only RAM holding the image) at 4 GiB - size in pci, `isa-bios`
 *    (its last 128 KiB, read-only) at 0xe0000 prio 1 in pci; `pc.rom`
 *    (128 KiB, read-only) at 0xc0000 prio 1 in pci;
 * 5. i440fx_init (hw/pci-host/i440fx.c): the PCI bus, config mechanism #1 at
 *    0xcf8/0xcfc, the i440FX function 00.0 (pci at prio -1, smram-region,
 *    PAM).
 * All of it is one memory transaction: a listener attached afterwards sees
 * the finished map at once.  What other devices map (kvm-apic-msi,
 * kvm-ioapic, I/O ports) is theirs to add to `system` / `io`.
 */
import { AddressSpace } from '../../memory/address-space';
import { PAGE_SIZE, RamList } from '../../memory/ram-block';
import { MemoryRegion, UNASSIGNED_IO_OPS } from '../../memory/region';
import { TWO_64 } from '../../memory/size';
import { beginTransaction, commitTransaction } from '../../memory/transaction';
import { checkOptions } from '../../options';
import { hex } from '../../util/hex';
import { toBigInt } from '../../util/integers';
import { mapDevices } from '../../devices/device';
import { I440fx } from '../../devices/i440fx';
import { PciBus } from '../../devices/pci/pci-bus';
import { PciHost } from '../../devices/pci/pci-host';
import { pcRamSplit, type PcRamSplit } from './ram-split';

/** PC_ROM_MIN_VGA / PC_ROM_SIZE (hw/i386/pc.c) */
export const PC_ROM_MIN_VGA = 0xc0000n;
export const PC_ROM_SIZE = 0x20000n;
/** the ISA BIOS window below 1 MiB (x86_bios_rom_init) */
const ISA_BIOS_MAX = 0x20000n;
const BIOS_SIZE_UNIT = 0x10000;
const FOUR_GiB = 1n << 32n;
const IO_SPACE_SIZE = 0x10000;

/** The largest firmware image: it is mapped just below 4 GiB. */
export const MAX_BIOS_SIZE = FOUR_GiB;

/** x86_bios_rom_init's rule (hw/i386/x86.c): a non-zero multiple of 64 KiB, below 4 GiB; else a RangeError. */
export function checkBiosImage(image: Uint8Array): void {
  if (image.length === 0 || image.length % BIOS_SIZE_UNIT !== 0 || BigInt(image.length) > MAX_BIOS_SIZE) {
    throw new RangeError(`its size (${image.length} bytes) must be a non-zero multiple of 64 KiB (hw/i386/x86.c x86_bios_rom_init)`);
  }
}

export interface PcMemoryMapOptions {
  /** guest RAM in bytes (QEMU's -m), a multiple of 4 KiB */
  ramSize: bigint | number;
  /** the firmware image (e.g. SeaBIOS' bios-256k.bin): a non-zero multiple of 64 KiB */
  bios: Uint8Array;
  /** the machine property max-ram-below-4g (default 3.5 GiB) */
  maxRamBelow4g?: bigint | number;
  /** the guest CPU's physical address bits (default 40, QEMU's qemu64 here) */
  physBits?: number;
  /** the guest CPU is an AMD one, whose RAM above 4 GiB avoids the HyperTransport range (default true, as QEMU's qemu64 on an AMD host) */
  amdCpu?: boolean;
  /**
   * Builds into these roots and address spaces (a machine's: what
   * memory_map_init made) instead of its own. The owner then maps `pciHost`
   * and `i440fx` (they are Devices: mapDevices, or a board's plug) and closes
   * `regions` after detaching KVM; close() leaves the roots alone.
   */
  roots?: PcMemoryRoots;
}

/** The roots a machine made (QEMU's memory_map_init) and their address spaces. */
export interface PcMemoryRoots {
  readonly system: MemoryRegion;
  readonly io: MemoryRegion;
  readonly memory: AddressSpace;
  readonly ioSpace: AddressSpace;
}

const OPTION_KEYS = { ramSize: true, bios: true, maxRamBelow4g: true, physBits: true, amdCpu: true, roots: true } as const;

export class PcMemoryMap {
  /** the machine's RAM blocks (what `info ramblock` lists) */
  readonly ramList = new RamList();
  /** the system memory root, and its "memory" address space */
  readonly system: MemoryRegion;
  readonly memory: AddressSpace;
  /** the I/O root (unassigned ports read all ones), and its "I/O" address space */
  readonly io: MemoryRegion;
  readonly ioSpace: AddressSpace;
  readonly ram: MemoryRegion;
  readonly pci: MemoryRegion;
  readonly ramBelow4g: MemoryRegion;
  readonly ramAbove4g: MemoryRegion | null;
  readonly bios: MemoryRegion;
  readonly isaBios: MemoryRegion;
  readonly optionRom: MemoryRegion;
  readonly split: PcRamSplit;
  readonly pciBus: PciBus;
  readonly pciHost: PciHost;
  readonly i440fx: I440fx;
  /** the regions this map created, in creation order (not the roots, not the devices') */
  readonly regions: readonly MemoryRegion[];
  private closed = false;
  /** whether the roots and address spaces are this map's own (else close() leaves them) */
  private readonly ownRoots: boolean;

  constructor(options: PcMemoryMapOptions) {
    const opts = checkOptions(options, OPTION_KEYS, 'PcMemoryMap');
    const ramSize = toBigInt(opts.ramSize, 'ramSize');
    if (ramSize <= 0n || ramSize % PAGE_SIZE !== 0n) {
      throw new RangeError(`ramSize must be a positive multiple of 4 KiB, got ${hex(ramSize)}`);
    }
    const image = opts.bios;
    if (!(image instanceof Uint8Array)) throw new TypeError('bios must be a Uint8Array holding the firmware image');
    try {
      checkBiosImage(image);
    } catch (e) {
      throw new RangeError(`could not load PC BIOS: ${(e as Error).message}`);
    }
    this.split = pcRamSplit(ramSize, { maxRamBelow4g: opts.maxRamBelow4g, physBits: opts.physBits, amdCpu: opts.amdCpu });
    const biosSize = BigInt(image.length);
    const created: { close(): void }[] = [];
    const track = <T extends { close(): void }>(x: T): T => {
      created.push(x);
      return x;
    };
    const roots = opts.roots;
    this.ownRoots = roots === undefined;
    beginTransaction();
    try {
      this.system = roots?.system ?? track(MemoryRegion.container('system', TWO_64));
      this.io = roots?.io ?? track(MemoryRegion.io('io', IO_SPACE_SIZE, UNASSIGNED_IO_OPS));
      this.ram = track(MemoryRegion.ram('pc.ram', ramSize, { ramList: this.ramList }));
      this.pci = track(MemoryRegion.container('pci', TWO_64));

      this.ramBelow4g = track(MemoryRegion.alias('ram-below-4g', this.ram, 0n, this.split.below4g));
      this.system.addSubregion(0n, this.ramBelow4g);
      this.ramAbove4g = null;
      if (this.split.above4g > 0n) {
        this.ramAbove4g = track(MemoryRegion.alias('ram-above-4g', this.ram, this.split.below4g, this.split.above4g));
        this.system.addSubregion(this.split.above4gStart, this.ramAbove4g);
      }

      this.bios = track(MemoryRegion.rom('pc.bios', biosSize, { ramList: this.ramList }));
      this.bios.bytes().set(image);
      const isaSize = biosSize < ISA_BIOS_MAX ? biosSize : ISA_BIOS_MAX;
      this.isaBios = track(MemoryRegion.alias('isa-bios', this.bios, biosSize - isaSize, isaSize));
      this.pci.addSubregionOverlap(0x100000n - isaSize, this.isaBios, 1);
      this.isaBios.setReadonly(true);
      this.pci.addSubregion(FOUR_GiB - biosSize, this.bios);

      this.optionRom = track(MemoryRegion.rom('pc.rom', PC_ROM_SIZE, { ramList: this.ramList }));
      this.pci.addSubregionOverlap(PC_ROM_MIN_VGA, this.optionRom, 1);

      this.pciBus = new PciBus('pci.0', this.pci, this.io, this.system);
      this.pciHost = track(new PciHost(this.pciBus));
      this.i440fx = track(new I440fx({ bus: this.pciBus, pci: this.pci, ram: this.ram, ramSize }));
      if (!roots) mapDevices({ memory: this.system, io: this.io }, [this.pciHost, this.i440fx]);
      this.regions = [this.ram, this.pci, this.ramBelow4g, this.ramAbove4g, this.bios, this.isaBios, this.optionRom]
        .filter((mr): mr is MemoryRegion => mr !== null);

      if (roots) {
        this.memory = roots.memory;
        this.ioSpace = roots.ioSpace;
      } else {
        this.memory = new AddressSpace(this.system, 'memory');
        created.push({ close: () => this.memory.destroy() });
        this.ioSpace = new AddressSpace(this.io, 'I/O');
        created.push({ close: () => this.ioSpace.destroy() });
      }
    } catch (e) {
      for (const x of created.reverse()) x.close();
      throw e;
    } finally {
      commitTransaction();
    }
  }

  /**
   * Destroys both address spaces and closes every region this map created
   * (not the roots it was given); the RAM blocks' host memory is freed.
   * Detach KVM (vm.close()) first. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    beginTransaction();
    try {
      if (this.ownRoots) {
        this.memory.destroy();
        this.ioSpace.destroy();
      }
      this.i440fx.close();
      this.pciHost.close();
      for (const mr of [this.optionRom, this.isaBios, this.bios, this.ramAbove4g, this.ramBelow4g, this.pci, this.ram]) mr?.close();
      if (this.ownRoots) for (const mr of [this.io, this.system]) mr.close();
    } finally {
      commitTransaction();
    }
  }
}

